"""Sending messages, marking them read. DESIGN.md's message flow, in one transaction each."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from django.db import IntegrityError, transaction
from django.utils import timezone

from backend import realtime
from backend.accounts.models import Device, User
from backend.cases import policy
from backend.cases.models import Case
from backend.crisis.language import PhraseMatcher
from backend.crisis.models import Alert
from backend.crisis.scanning import matcher_for
from backend.crisis.services import raise_alert
from backend.messaging import selectors
from backend.messaging.models import Conversation, Message, ReadState, message_record
from backend.messaging.unanswered import schedule_checks
from backend.problems import Problem
from backend.push.services import enqueue_message_pushes
from backend.vault.services import CaseSealer

logger = logging.getLogger(__name__)

MAX_BODY_CHARS = 4000


@dataclass(frozen=True)
class SendResult:
    message: Message
    body: str
    created: bool


def clean_body(body: object) -> str:
    """1-4000 characters of text after trimming; raises a Problem naming ``body``."""
    if not isinstance(body, str):
        raise Problem(status_code=400, slug="validation", detail="Must be a string.", field="body")
    text = body.strip()
    if "\x00" in text:
        raise Problem(status_code=400, slug="validation", detail="Must not contain NUL characters.", field="body")
    if not text:
        raise Problem(status_code=400, slug="validation", detail="Must not be empty.", field="body")
    if len(text) > MAX_BODY_CHARS:
        raise Problem(
            status_code=413 if len(text) > 4 * MAX_BODY_CHARS else 400,
            slug="body-too-long",
            detail=f"At most {MAX_BODY_CHARS} characters.",
            field="body",
        )
    return text


@dataclass(frozen=True)
class SendRequest:
    sender: User
    sender_device: Device | None
    conversation_id: int
    client_id: uuid.UUID
    body: object


@dataclass
class SentBatch:
    """One result per request, in order (a SendResult, or the Problem that refused it),
    and the live frames to publish now that the batch has committed."""

    results: list[SendResult | Problem]
    frames: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@dataclass(frozen=True)
class _Target:
    """What a send needs to know about its conversation, read for a whole batch at once."""

    conversation_id: int
    case_id: int
    programme_id: int
    open: bool
    erased: bool
    unanswered_limit: dt.timedelta
    access: policy.CaseAccess


BudgetCheck = Callable[[Sequence[SendRequest]], list[Problem | None]]


def send_message(
    *, sender: User, sender_device: Device | None, conversation: Conversation, client_id: uuid.UUID, body: str
) -> SendResult:
    """Store one message and tell its recipients (``send_messages`` with one request):
    the live frames go out when the caller's transaction commits. Raises the Problem
    that refused it."""
    sent = send_messages([SendRequest(sender, sender_device, conversation.pk, client_id, body)])
    for group, frame in sent.frames:
        realtime.publish_on_commit(group, frame)
    (result,) = sent.results
    if isinstance(result, Problem):
        raise result
    return result


def send_messages(requests: Sequence[SendRequest], *, budget: BudgetCheck | None = None) -> SentBatch:
    """Store messages, in one transaction for the whole batch (a server under load
    commits many senders' messages together): each message sealed with its case's data
    key, the next sequence number of its conversation (conversation rows locked in id
    order), the sender's read marker, push-outbox rows for the other participants'
    devices, and for a defector's message the unanswered check and the crisis scan.

    Each request is judged on its own first, in this order: may the sender see the
    conversation (404), is the sender within ``budget`` (counted only for requests that
    got that far), is the body valid, is it a retry, is the case open and its content not
    erased. A refused request becomes its Problem in its place and the others go on.
    Idempotent per (conversation, sender, client_id): a retry, in this batch or a later
    one, returns the stored message and creates nothing. The caller publishes ``frames``
    after the commit, never before."""
    results: list[SendResult | Problem | None] = [None] * len(requests)
    targets = _targets({r.conversation_id for r in requests})
    visible = []
    for i, request in enumerate(requests):
        target = targets.get(request.conversation_id)
        if target is None or not target.access.allows(request.sender):
            results[i] = Problem(status_code=404, slug="not-found", detail="No such conversation.")
        else:
            visible.append(i)
    if budget is not None:
        for i, over in zip(visible, budget([requests[i] for i in visible]), strict=True):
            results[i] = over
    texts: dict[int, str] = {}
    for i in visible:
        if results[i] is None:
            try:
                texts[i] = clean_body(requests[i].body)
            except Problem as problem:
                results[i] = problem
    _fill_existing(requests, results, targets, list(texts))
    to_store: list[int] = []
    first_of: dict[tuple[int, int, uuid.UUID], int] = {}
    for i in texts:
        request = requests[i]
        key = (request.conversation_id, request.sender.pk, request.client_id)
        if results[i] is not None or key in first_of:
            continue  # refused, a retry of a stored message, or a repeat inside this batch
        target = targets[request.conversation_id]
        if not target.open:
            results[i] = Problem(status_code=409, slug="case-closed", detail="The case is closed; nothing was sent.")
        elif target.erased:
            results[i] = Problem(status_code=409, slug="case-erased", detail="The case was erased; nothing was sent.")
        else:
            first_of[key] = i
            to_store.append(i)
    frames = _store_all(requests, texts, targets, results, to_store) if to_store else []
    for i in texts:
        if results[i] is None:  # a repeat inside this batch: the answer its first got
            request = requests[i]
            first = results[first_of[(request.conversation_id, request.sender.pk, request.client_id)]]
            results[i] = (
                SendResult(first.message, first.body, created=False) if isinstance(first, SendResult) else first
            )
    assert all(result is not None for result in results)
    return SentBatch(cast("list[SendResult | Problem]", results), frames)


def _targets(conversation_ids: set[int]) -> dict[int, _Target]:
    rows = list(
        Conversation.objects.filter(pk__in=conversation_ids).values_list(
            "pk",
            "case_id",
            "case__programme_id",
            "case__status",
            "case__data_key__shredded_at",
            "case__programme__unanswered_limit",
            "case__defector__user_id",
        )
    )
    access = policy.case_access({row[1]: row[-1] for row in rows})
    return {
        pk: _Target(pk, case_id, programme, status == Case.Status.OPEN, shredded is not None, limit, access[case_id])
        for pk, case_id, programme, status, shredded, limit, _ in rows
    }


def _fill_existing(
    requests: Sequence[SendRequest],
    results: list[SendResult | Problem | None],
    targets: dict[int, _Target],
    positions: list[int],
) -> None:
    """Answer each retry (a client_id its sender already used) with the stored message."""
    pending = [i for i in positions if results[i] is None]
    if not pending:
        return
    stored = Message.objects.filter(
        conversation_id__in={requests[i].conversation_id for i in pending},
        client_id__in={requests[i].client_id for i in pending},
    )
    by_key = {(m.conversation_id, m.sender_id, m.client_id): m for m in stored}
    for i in pending:
        request = requests[i]
        message = by_key.get((request.conversation_id, request.sender.pk, request.client_id))
        if message is not None:
            case_id = targets[request.conversation_id].case_id
            results[i] = SendResult(message, selectors.open_body(message, case_id=case_id), created=False)


def _store_all(
    requests: Sequence[SendRequest],
    texts: dict[int, str],
    targets: dict[int, _Target],
    results: list[SendResult | Problem | None],
    to_store: list[int],
) -> list[tuple[str, dict[str, Any]]]:
    """Store the requests at ``to_store`` (which passed every check) and fill in their
    results; returns the frames to publish."""
    try:
        with transaction.atomic():
            stored, frames = _store([requests[i] for i in to_store], [texts[i] for i in to_store], targets)
    except IntegrityError:
        if len(to_store) == 1:
            # A concurrent retry with the same client_id committed first: return its message.
            _fill_existing(requests, results, targets, to_store)
            if results[to_store[0]] is None:
                raise
            return []
        # One of them raced a retry committed by another process: store them one by one.
        frames = []
        for i in to_store:
            try:
                alone = send_messages([requests[i]])
            except Exception:
                # Only this message failed; the ones stored before it keep their frames.
                logger.exception("storing a message failed")
                results[i] = Problem(
                    status_code=503, slug="server-error", detail="The message was not stored; send it again."
                )
            else:
                results[i] = alone.results[0]
                frames.extend(alone.frames)
        return frames
    for i, result in zip(to_store, stored, strict=True):
        results[i] = result
    return frames


def _store(
    requests: list[SendRequest], texts: list[str], targets: dict[int, _Target]
) -> tuple[list[SendResult], list[tuple[str, dict[str, Any]]]]:
    """The transactional part of ``send_messages``, for requests that passed every check."""
    conversations = {
        c.pk: c
        for c in Conversation.objects.select_for_update()
        .filter(pk__in={r.conversation_id for r in requests})
        .order_by("pk")
    }
    case_of = {pk: targets[pk].case_id for pk in conversations}
    # Who takes part, read again under the lock: a grant that ended while this batch
    # waited must not receive the message.
    access = policy.case_access({case_of[pk]: targets[pk].access.defector_user_id for pk in conversations})
    participants = {pk: access[case_of[pk]].participant_ids() for pk in conversations}
    sealer = CaseSealer(set(case_of.values()))
    now = timezone.now()
    messages = []
    for request, text in zip(requests, texts, strict=True):
        conversation = conversations[request.conversation_id]
        conversation.last_seq += 1
        record = message_record(conversation.pk, conversation.last_seq)
        messages.append(
            Message(
                conversation=conversation,
                seq=conversation.last_seq,
                sender=request.sender,
                sender_device=request.sender_device,
                client_id=request.client_id,
                body_sealed=sealer.seal(case_id=case_of[conversation.pk], record=record, plaintext=text),
                created_at=now,
            )
        )
    Message.objects.bulk_create(messages)
    Conversation.objects.bulk_update(conversations.values(), ["last_seq"])
    # The sender has read everything up to their own message, which is the newest.
    read_upto = {(m.conversation_id, m.sender_id): m.seq for m in messages}
    ReadState.objects.bulk_create(
        [
            ReadState(conversation_id=conversation, user_id=user, last_read_seq=seq, updated_at=now)
            for (conversation, user), seq in read_upto.items()
        ],
        update_conflicts=True,
        unique_fields=["conversation", "user"],
        update_fields=["last_read_seq", "updated_at"],
    )
    from_defectors = [(m, text) for m, text in zip(messages, texts, strict=True) if m.sender.is_defector]
    if from_defectors:
        schedule_checks(
            (m.conversation_id, case_of[m.conversation_id], m.seq, targets[m.conversation_id].unanswered_limit)
            for m, _ in from_defectors
        )
        _scan_for_crisis([(targets[m.conversation_id], m.seq, text) for m, text in from_defectors])
    enqueue_message_pushes(
        ([uid for uid in participants[m.conversation_id] if uid != m.sender_id], m.sender_device_id) for m in messages
    )
    results: list[SendResult] = []
    frames: list[tuple[str, dict[str, Any]]] = []
    for message, text in zip(messages, texts, strict=True):
        results.append(SendResult(message, text, created=True))
        frame = {
            "type": "message.new",
            "conversation": message.conversation_id,
            "message": selectors.message_payload(message, text),
        }
        frames.extend((realtime.user_group(uid), frame) for uid in participants[message.conversation_id])
    return results, frames


def _scan_for_crisis(messages: list[tuple[_Target, int, str]]) -> None:
    """Crisis language raises (or adds to) a keyword alert in the same transaction. The
    alert carries the severity and categories, never the words matched."""
    matchers: dict[int, PhraseMatcher] = {}
    hits = []
    for target, seq, text in messages:
        if target.programme_id not in matchers:
            matchers[target.programme_id] = matcher_for(target.programme_id)
        result = matchers[target.programme_id].scan(text)
        if result.severity is not None:
            hits.append((target.case_id, seq, result.severity, result.categories))
    if not hits:
        return
    # A batch may add to several cases' open alerts. Lock them all, in id order, before
    # the first alert writes to the audit log: someone acknowledging one of them holds its
    # row and then waits for the audit log, and taking the rows in a different order
    # would deadlock with them.
    list(
        Alert.objects.select_for_update()
        .filter(case_id__in={hit[0] for hit in hits}, kind=Alert.Kind.KEYWORD)
        .exclude(state=Alert.State.RESOLVED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    cases = Case.objects.in_bulk({hit[0] for hit in hits})
    for case_id, seq, severity, categories in hits:
        raise_alert(
            case=cases[case_id], kind=Alert.Kind.KEYWORD, severity=severity, categories=categories, detail={"seq": seq}
        )


def open_conversation(*, case: Case) -> Conversation:
    """The case's one conversation, created when the case is opened
    (``administration.services.open_case``), inside that transaction."""
    return Conversation.objects.create(case=case)


def _mark_read(conversation: Conversation, user: User, up_to_seq: int) -> int:
    state, _ = ReadState.objects.get_or_create(conversation=conversation, user=user)
    new_seq = min(max(state.last_read_seq, up_to_seq), conversation.last_seq)
    if new_seq != state.last_read_seq:
        state.last_read_seq = new_seq
        state.save(update_fields=["last_read_seq", "updated_at"])
    return new_seq


def mark_read(*, user: User, conversation: Conversation, up_to_seq: int) -> int:
    """Move the caller's read marker forward (never back, never past the last message)
    and tell the other participants live. Returns the marker. Idempotent."""
    if up_to_seq < 0:
        raise Problem(status_code=400, slug="validation", detail="Must be 0 or more.", field="up_to_seq")
    with transaction.atomic():
        locked = Conversation.objects.select_for_update(of=("self",)).select_related("case").get(pk=conversation.pk)
        seq = _mark_read(locked, user, up_to_seq)
        frame = {"type": "receipt.read", "conversation": locked.pk, "user": user.pk, "up_to_seq": seq}
        for user_id in selectors.participant_ids(locked.case):
            realtime.publish_on_commit(realtime.user_group(user_id), frame)
    return seq
