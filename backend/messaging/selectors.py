"""Access-checked reads of conversations and messages. Staff reads of content are audited."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict

from django.db import transaction
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from backend.accounts.models import User
from backend.audit.services import record_event
from backend.cases import policy
from backend.cases.models import Case
from backend.messaging.models import Conversation, Message, ReadState
from backend.problems import Problem, api_datetime
from backend.vault.models import CaseKey
from backend.vault.services import ContentShredded, open_sealed, open_sealed_all

MAX_PAGE = 200


def participant_ids(case: Case) -> list[int]:
    """Everyone who may read and write the case's conversation now: the defector, the
    staff assigned to the case, and staff holding an active grant (an alert they hold,
    or break-glass)."""
    return policy.case_access({case.pk: case.defector.user_id})[case.pk].participant_ids()


def conversation_for(user: User, conversation_id: int) -> Conversation:
    """The conversation if ``user`` may see its case; "not found" otherwise."""
    conversation = (
        Conversation.objects.select_related("case__defector")
        .filter(pk=conversation_id, case__in=policy.visible_cases(user))
        .first()
    )
    if conversation is None:
        raise Problem(status_code=404, slug="not-found", detail="No such conversation.")
    return conversation


def conversations_for(user: User) -> QuerySet[Conversation]:
    """The caller's conversations, each with ``unread`` (messages from others after the
    caller's read marker), in one query."""
    last_read = ReadState.objects.filter(conversation=OuterRef("pk"), user=user).values("last_read_seq")[:1]
    return (
        Conversation.objects.filter(case__in=policy.visible_cases(user))
        .annotate(read_seq=Coalesce(Subquery(last_read), 0))
        .annotate(unread=Count("messages", filter=Q(messages__seq__gt=F("read_seq")) & ~Q(messages__sender=user)))
        .order_by("pk")
    )


def read_markers(conversation: Conversation) -> dict[int, int]:
    """Each participant's read marker (the last seq they have seen), by user id. The
    caller has the conversation through an access-checked read."""
    return dict(ReadState.objects.filter(conversation=conversation).values_list("user_id", "last_read_seq"))


def open_bodies(messages: Sequence[Message], *, case_id: int) -> list[str]:
    """The texts of messages of one case, the case's key read once; "" for each after
    the case was crypto-shredded."""
    try:
        sealed = [(m.vault_record, bytes(m.body_sealed)) for m in messages]
        return [plain.decode() for plain in open_sealed_all(case_id=case_id, sealed=sealed)]
    except ContentShredded:
        return [""] * len(messages)


def open_body(message: Message, *, case_id: int) -> str:
    try:
        return open_sealed(case_id=case_id, record=message.vault_record, ciphertext=bytes(message.body_sealed)).decode()
    except ContentShredded:
        return ""


class MessagePayload(TypedDict):
    id: int
    seq: int
    client_id: str
    sender: int
    body: str
    created_at: str


def message_payload(message: Message, body: str) -> MessagePayload:
    return MessagePayload(
        id=message.pk,
        seq=message.seq,
        client_id=str(message.client_id),
        sender=message.sender_id,
        body=body,
        created_at=api_datetime(message.created_at),
    )


@dataclass(frozen=True)
class MessagePage:
    results: list[MessagePayload]
    has_more: bool
    content_shredded: bool = False  # the case's key is destroyed: every body reads as ""


def messages_after(user: User, conversation: Conversation, *, after_seq: int, limit: int) -> MessagePage:
    """Messages with ``seq > after_seq`` in order, at most ``limit``. A client that was
    offline for any length of time catches up from its cursor; nothing expires."""
    if after_seq < 0:
        raise Problem(status_code=400, slug="validation", detail="Must be 0 or more.", field="after_seq")
    if not 1 <= limit <= MAX_PAGE:
        raise Problem(status_code=400, slug="validation", detail=f"Must be 1 to {MAX_PAGE}.", field="limit")
    rows = list(Message.objects.filter(conversation=conversation, seq__gt=after_seq).order_by("seq")[: limit + 1])
    page = rows[:limit]
    if user.is_staff_member and page:
        with transaction.atomic():
            record_event(
                action="messages.read",
                actor=user,
                case_id=conversation.case_id,
                target=f"conversation:{conversation.pk}",
                details={"from_seq": page[0].seq, "to_seq": page[-1].seq},
            )
    results = [
        message_payload(m, body) for m, body in zip(page, open_bodies(page, case_id=conversation.case_id), strict=True)
    ]
    shredded = CaseKey.objects.filter(case_id=conversation.case_id, shredded_at__isnull=False).exists()
    return MessagePage(results, has_more=len(rows) > limit, content_shredded=shredded)
