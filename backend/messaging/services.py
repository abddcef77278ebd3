"""Sending messages, marking them read: the message flow of docs/architecture.md, in one
transaction each."""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone
from typing_extensions import override

from backend import metrics, realtime
from backend.accounts.models import Device, User
from backend.cases import policy
from backend.cases.models import Case
from backend.crisis.duress_phrases import record_checks as record_duress_checks
from backend.crisis.language import PhraseMatcher
from backend.crisis.models import Alert
from backend.crisis.scanning import matcher_for
from backend.crisis.services import AlertTrigger, raise_alerts
from backend.jobs import Failed, run_in_bulk_else_one_by_one
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
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate from a JSON escape such as "\ud800"
            raise Problem(
                status_code=400, slug="validation", detail="Must be Unicode text (no lone surrogates).", field="body"
            ) from None
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

    @property
    def key(self) -> tuple[int, int, uuid.UUID]:
        """Sends with the same key are one message: a retry, or a repeat in a batch."""
        return (self.conversation_id, self.sender.pk, self.client_id)


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


@dataclass(eq=False, repr=False)
class _Send:
    """One request on its way through ``send_messages``: its conversation (None when there
    is no such conversation), its text once found valid, and its outcome once known."""

    request: SendRequest
    target: _Target | None
    text: str = ""
    outcome: SendResult | Problem | None = None

    @override
    def __repr__(self) -> str:
        # What a failure's log line names: never the message's text.
        return f"<send {self.request.client_id} to conversation {self.request.conversation_id}>"

    @property
    def known_target(self) -> _Target:
        """The conversation of a send that got past the access check."""
        assert self.target is not None
        return self.target

    @property
    def answer(self) -> SendResult | Problem:
        assert self.outcome is not None, "every send is answered"
        return self.outcome


BudgetCheck = Callable[[Sequence[SendRequest]], list[Problem | None]]


def send_message(
    *, sender: User, sender_device: Device | None, conversation: Conversation, client_id: uuid.UUID, body: str
) -> SendResult:
    """Store one message and tell its recipients (``send_messages`` with one request):
    the live frames go out when the caller's transaction commits. Raises the Problem
    that refused it."""
    (outcome,) = send_messages([SendRequest(sender, sender_device, conversation.pk, client_id, body)])
    if isinstance(outcome, Problem):
        raise outcome
    return outcome


def send_messages(requests: Sequence[SendRequest], *, budget: BudgetCheck | None = None) -> list[SendResult | Problem]:
    """Store messages, in one transaction for the whole batch (a server under load
    commits many senders' messages together): each message sealed with its case's data
    key, the next sequence number of its conversation (conversation rows locked in id
    order), the sender's read marker, push-outbox rows for the other participants'
    devices, and for a defector's message the unanswered check and the crisis scan. The
    live ``message.new`` frames are published when that transaction commits, never before.

    Each request is judged on its own first, in this order: may the sender see the
    conversation (404), is the sender within ``budget`` (counted only for requests that
    got that far), is the body valid, is it a retry, is the case open and its content not
    erased. Returns one outcome per request, in order: its SendResult, or the Problem
    that refused it (the others go on). Idempotent per (conversation, sender,
    client_id): a retry, in this batch or a later one, returns the stored message and
    creates nothing."""
    started = time.perf_counter()
    targets = _targets({request.conversation_id for request in requests})
    sends = [_Send(request, targets.get(request.conversation_id)) for request in requests]
    valid = _judge(sends, budget)
    _answer_retries(valid)
    firsts = _firsts_to_store(valid)
    if firsts:
        _store_all(list(firsts.values()))
    for send in valid:
        if send.outcome is None:  # a repeat inside this batch: the answer its first got
            first = firsts[send.request.key].answer
            send.outcome = (
                SendResult(first.message, first.body, created=False) if isinstance(first, SendResult) else first
            )
    metrics.SEND_SECONDS.observe(time.perf_counter() - started)
    return [send.answer for send in sends]


def _judge(sends: list[_Send], budget: BudgetCheck | None) -> list[_Send]:
    """Refuse each send the sender may not make (no such conversation, over budget, a bad
    body); the others, with their text."""
    for send in sends:
        if send.target is None or not send.target.access.allows(send.request.sender):
            send.outcome = Problem(status_code=404, slug="not-found", detail="No such conversation.")
    visible = [send for send in sends if send.outcome is None]
    if budget is not None:
        for send, over in zip(visible, budget([send.request for send in visible]), strict=True):
            send.outcome = over
    for send in visible:
        if send.outcome is None:
            try:
                send.text = clean_body(send.request.body)
            except Problem as problem:
                send.outcome = problem
    return [send for send in visible if send.outcome is None]


def _firsts_to_store(valid: list[_Send]) -> dict[tuple[int, int, uuid.UUID], _Send]:
    """The sends to store, by key, in order: the first of each key that is not a retry,
    unless its case is closed or erased (then refused)."""
    firsts: dict[tuple[int, int, uuid.UUID], _Send] = {}
    for send in valid:
        if send.outcome is not None or send.request.key in firsts:
            continue  # a retry of a stored message, or a repeat inside this batch
        if not send.known_target.open:
            send.outcome = Problem(status_code=409, slug="case-closed", detail="The case is closed; nothing was sent.")
        elif send.known_target.erased:
            send.outcome = Problem(status_code=409, slug="case-erased", detail="The case was erased; nothing was sent.")
        else:
            firsts[send.request.key] = send
    return firsts


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


def _answer_retries(sends: Sequence[_Send]) -> None:
    """Answer each unanswered send that is a retry (a client_id its sender already used)
    with the stored message."""
    pending = [send for send in sends if send.outcome is None]
    if not pending:
        return
    stored = Message.objects.filter(
        conversation_id__in={send.request.conversation_id for send in pending},
        client_id__in={send.request.client_id for send in pending},
    )
    by_key = {(m.conversation_id, m.sender_id, m.client_id): m for m in stored}
    for send in pending:
        message = by_key.get(send.request.key)
        if message is not None:
            body = selectors.open_body(message, case_id=send.known_target.case_id)
            send.outcome = SendResult(message, body, created=False)


def _store_all(sends: list[_Send]) -> None:
    """Store the sends (which passed every check) and answer them, all in one transaction
    (a savepoint inside the caller's). Should the batch race a retry committed by another
    process (IntegrityError), it rolls back and each send is judged and stored again on
    its own, exactly as if it had come alone: one that still fails is answered with a 503
    and the others keep their messages. A lone send that raced is answered by the retry
    that won; failing that, the error is its caller's."""
    alone = len(sends) == 1
    outcomes = run_in_bulk_else_one_by_one(
        sends,
        bulk=_store_created,
        single=_answer_committed_retry if alone else _send_alone,
        what="message",
        logger=logger,
        race=IntegrityError,
        isolate=not alone,
    )
    # Answered only now: a send is stored once its transaction (or savepoint) is through.
    for send, outcome in zip(sends, outcomes, strict=True):
        send.outcome = (
            Problem(status_code=503, slug="server-error", detail="The message was not stored; send it again.")
            if isinstance(outcome, Failed)
            else outcome
        )


def _store_created(sends: Sequence[_Send]) -> list[SendResult]:
    return [SendResult(message, send.text, created=True) for send, message in zip(sends, _store(sends), strict=True)]


def _send_alone(send: _Send) -> SendResult | Problem:
    """One send of a batch that raced, judged again through the whole of ``send_messages``
    (access, body, repeats, a case closed or erased meanwhile; its send budget was already
    counted and is not counted again)."""
    (outcome,) = send_messages([send.request])
    return outcome


def _answer_committed_retry(send: _Send) -> SendResult:
    """A lone send whose insert raced: the retry with its ``client_id`` that another
    process committed first is its answer."""
    _answer_retries([send])
    if not isinstance(send.outcome, SendResult):
        raise IntegrityError(f"message {send.request.client_id} raced, and no committed retry answers it")
    return send.outcome


def _store(sends: Sequence[_Send]) -> list[Message]:
    """The transactional part of ``send_messages``, for sends that passed every check;
    the messages in the sends' order."""
    targets = {send.request.conversation_id: send.known_target for send in sends}
    conversations = {
        c.pk: c for c in Conversation.objects.select_for_update().filter(pk__in=targets.keys()).order_by("pk")
    }
    case_of = {pk: targets[pk].case_id for pk in conversations}
    # Who takes part, read again under the lock: a grant that ended while this batch
    # waited must not receive the message.
    access = policy.case_access({case_of[pk]: targets[pk].access.defector_user_id for pk in conversations})
    participants = {pk: access[case_of[pk]].participant_ids() for pk in conversations}
    sealer = CaseSealer(set(case_of.values()))
    now = timezone.now()
    messages = []
    for send in sends:
        conversation = conversations[send.request.conversation_id]
        conversation.last_seq += 1
        record = message_record(conversation.pk, conversation.last_seq)
        messages.append(
            Message(
                conversation=conversation,
                seq=conversation.last_seq,
                sender=send.request.sender,
                sender_device=send.request.sender_device,
                client_id=send.request.client_id,
                body_sealed=sealer.seal(case_id=case_of[conversation.pk], record=record, plaintext=send.text),
                created_at=now,
            )
        )
    Message.objects.bulk_create(messages)
    transaction.on_commit(lambda: metrics.MESSAGES_STORED.inc(len(messages)))
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
    from_defectors = [(send, m) for send, m in zip(sends, messages, strict=True) if m.sender.is_defector]
    if from_defectors:
        schedule_checks(
            (m.conversation_id, send.known_target.case_id, m.seq, send.known_target.unanswered_limit)
            for send, m in from_defectors
        )
        _scan_for_crisis([(send.known_target, m.seq, send.text) for send, m in from_defectors])
        # Every defector message gets a sealed duress-phrase check, found or not: the
        # worker raises the alert, so this send does the same work either way.
        record_duress_checks(
            [(send.known_target.case_id, m.seq, send.text) for send, m in from_defectors], sealer=sealer
        )
    enqueue_message_pushes(
        ([uid for uid in participants[m.conversation_id] if uid != m.sender_id], m.sender_device_id) for m in messages
    )
    frames: list[realtime.Frame] = []
    for send, message in zip(sends, messages, strict=True):
        frame = {
            "type": "message.new",
            "conversation": message.conversation_id,
            "message": selectors.message_payload(message, send.text),
        }
        frames.extend((realtime.user_group(uid), frame) for uid in participants[message.conversation_id])
    realtime.publish_many_on_commit(frames)
    return messages


def _scan_for_crisis(messages: list[tuple[_Target, int, str]]) -> None:
    """Crisis language raises (or adds to) a keyword alert in the same transaction. The
    alert carries the severity, the categories and which rules fired (``reasons``),
    never the words matched."""
    matchers: dict[int, PhraseMatcher] = {}
    hits = []
    for target, seq, text in messages:
        if target.programme_id not in matchers:
            matchers[target.programme_id] = matcher_for(target.programme_id)
        result = matchers[target.programme_id].scan(text)
        if result.severity is not None:
            hits.append((target.case_id, seq, result))
    if not hits:
        return
    cases = Case.objects.in_bulk({hit[0] for hit in hits})
    # One call for the batch: raise_alerts locks every open keyword alert of these cases in
    # id order before it writes, so a batch adding to several cases' alerts never
    # deadlocks with someone acknowledging one of them.
    raise_alerts(
        [
            AlertTrigger(
                case=cases[case_id],
                kind=Alert.Kind.KEYWORD,
                severity=result.severity,
                categories=result.categories,
                detail={"seq": seq},
                reasons=result.reasons,
            )
            for case_id, seq, result in hits
            if result.severity is not None
        ]
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
