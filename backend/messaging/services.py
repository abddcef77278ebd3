"""Sending messages, marking them read. DESIGN.md's message flow, in one transaction each."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from backend import realtime
from backend.accounts.models import Device, User
from backend.cases.models import Case
from backend.crisis.scanning import scan_text
from backend.crisis.services import raise_alert
from backend.crisis.unanswered import schedule_check
from backend.messaging import selectors
from backend.messaging.models import Conversation, Message, ReadState, message_record
from backend.problems import Problem
from backend.push.services import enqueue_push
from backend.vault.services import seal

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


def send_message(
    *, sender: User, sender_device: Device | None, conversation: Conversation, client_id: uuid.UUID, body: str
) -> SendResult:
    """Store a message and tell its recipients. Transactional: the sealed message, its
    sequence number and its push-outbox rows commit together; the live ``message.new``
    frames go out only after that commit. Idempotent per (conversation, sender,
    client_id): a retry returns the stored message and creates nothing. The caller must
    have got ``conversation`` through ``selectors.conversation_for`` (the access check)."""
    text = clean_body(body)
    existing = _existing(conversation, sender, client_id)
    if existing is not None:
        return existing
    case: Case = conversation.case
    if case.status != Case.Status.OPEN:
        raise Problem(status_code=409, slug="case-closed", detail="The case is closed; nothing was sent.")
    try:
        with transaction.atomic():
            locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
            locked.last_seq += 1
            locked.save(update_fields=["last_seq"])
            message = Message.objects.create(
                conversation=locked,
                seq=locked.last_seq,
                sender=sender,
                sender_device=sender_device,
                client_id=client_id,
                body_sealed=seal(case_id=case.pk, record=message_record(locked.pk, locked.last_seq), plaintext=text),
                created_at=timezone.now(),
            )
            _mark_read(locked, sender, message.seq)
            if sender.is_defector:
                schedule_check(conversation=locked, case=case, seq=message.seq)
                _scan_for_crisis(case, text, seq=message.seq)
            participant_ids = selectors.participant_ids(case)
            enqueue_push(
                user_ids=[uid for uid in participant_ids if uid != sender.pk],
                kind="message",
                exclude_device=sender_device,
            )
            frame = {
                "type": "message.new",
                "conversation": locked.pk,
                "message": selectors.message_payload(message, text),
            }
            for user_id in participant_ids:
                realtime.publish_on_commit(realtime.user_group(user_id), frame)
    except IntegrityError:
        # A concurrent retry with the same client_id committed first: return its message.
        existing = _existing(conversation, sender, client_id)
        if existing is None:
            raise
        return existing
    return SendResult(message, text, created=True)


def _scan_for_crisis(case: Case, text: str, *, seq: int) -> None:
    """Crisis language raises (or adds to) a keyword alert in the same transaction. The
    alert carries the severity and categories, never the words matched."""
    result = scan_text(text, programme_id=case.programme_id)
    if result.severity is not None:
        raise_alert(
            case=case, kind="keyword", severity=result.severity, categories=result.categories, detail={"seq": seq}
        )


def _existing(conversation: Conversation, sender: User, client_id: uuid.UUID) -> SendResult | None:
    message = Message.objects.filter(conversation=conversation, sender=sender, client_id=client_id).first()
    if message is None:
        return None
    return SendResult(message, selectors.open_body(message, case_id=conversation.case_id), created=False)


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
        locked = Conversation.objects.select_for_update().select_related("case").get(pk=conversation.pk)
        seq = _mark_read(locked, user, up_to_seq)
        frame = {"type": "receipt.read", "conversation": locked.pk, "user": user.pk, "up_to_seq": seq}
        for user_id in selectors.participant_ids(locked.case):
            realtime.publish_on_commit(realtime.user_group(user_id), frame)
    return seq
