"""Access-checked reads of conversations and messages. Staff reads of content are audited."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from backend.accounts.models import User
from backend.audit.services import AuditEvent, record_events
from backend.cases import policy
from backend.cases import selectors as case_selectors
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


def unread_columns(user: User, conversation: str) -> dict[str, Coalesce]:
    """``read_seq`` (``user``'s read marker, 0 before their first read) and ``unread``
    (messages from others after it) of the conversation that the field ``conversation``
    names in each row of a query (``"pk"`` over conversations, ``"conversation"`` over
    cases): annotate them in this order. The unread messages are counted from the read
    marker on, through the (conversation, seq) index: messages read long ago are never
    visited."""
    last_read = ReadState.objects.filter(conversation=OuterRef(conversation), user=user).values("last_read_seq")[:1]
    unread = (
        Message.objects.filter(conversation=OuterRef(conversation), seq__gt=OuterRef("read_seq"))
        .exclude(sender=user)
        .order_by()
        .values("conversation")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return {"read_seq": Coalesce(Subquery(last_read), 0), "unread": Coalesce(Subquery(unread), 0)}


def conversations_for(user: User) -> QuerySet[Conversation]:
    """The caller's conversations, each with ``read_seq`` and ``unread``
    (``unread_columns``), in one query."""
    return (
        Conversation.objects.filter(case__in=policy.visible_cases(user))
        .annotate(**unread_columns(user, "pk"))
        .order_by("pk")
    )


def read_markers(conversation: Conversation) -> dict[int, int]:
    """Each participant's read marker (the last seq they have seen), by user id. The
    caller has the conversation through an access-checked read."""
    return dict(ReadState.objects.filter(conversation=conversation).values_list("user_id", "last_read_seq"))


def _open_page(messages: Sequence[Message], *, case_id: int) -> tuple[list[str], bool]:
    """The texts of messages of one case, the case's key read once, and whether the case
    was crypto-shredded (then every text is ""). The key row answers that for a page;
    an empty page asks the key row alone."""
    if not messages:
        return [], CaseKey.objects.filter(case_id=case_id, shredded_at__isnull=False).exists()
    try:
        sealed = [(m.vault_record, bytes(m.body_sealed)) for m in messages]
        return [plain.decode() for plain in open_sealed_all(case_id=case_id, sealed=sealed)], False
    except ContentShredded:
        return [""] * len(messages), True


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


def _messages_read_event(user: User, conversation: Conversation, page: Sequence[Message]) -> AuditEvent | None:
    """The audit entry of ``user`` reading ``page``: every staff read of messages has one."""
    if not (user.is_staff_member and page):
        return None
    return AuditEvent(
        action="messages.read",
        actor=user,
        case_id=conversation.case_id,
        target=f"conversation:{conversation.pk}",
        details={"from_seq": page[0].seq, "to_seq": page[-1].seq},
    )


def _message_page(page: Sequence[Message], *, case_id: int, has_more: bool) -> MessagePage:
    bodies, shredded = _open_page(page, case_id=case_id)
    results = [message_payload(m, body) for m, body in zip(page, bodies, strict=True)]
    return MessagePage(results, has_more=has_more, content_shredded=shredded)


def messages_after(user: User, conversation: Conversation, *, after_seq: int, limit: int) -> MessagePage:
    """Messages with ``seq > after_seq`` in order, at most ``limit``. A client that was
    offline for any length of time catches up from its cursor; nothing expires."""
    if after_seq < 0:
        raise Problem(status_code=400, slug="validation", detail="Must be 0 or more.", field="after_seq")
    if not 1 <= limit <= MAX_PAGE:
        raise Problem(status_code=400, slug="validation", detail=f"Must be 1 to {MAX_PAGE}.", field="limit")
    rows = list(Message.objects.filter(conversation=conversation, seq__gt=after_seq).order_by("seq")[: limit + 1])
    page = rows[:limit]
    event = _messages_read_event(user, conversation, page)
    if event is not None:
        record_events([event])
    return _message_page(page, case_id=conversation.case_id, has_more=len(rows) > limit)


@dataclass(frozen=True)
class OpenedCase:
    case: Case  # with its defector and programme
    conversation: Conversation
    newest: list[MessagePayload]  # in seq order


def open_case_for_reading(user: User, case_id: int, *, newest: int) -> OpenedCase:
    """A case with its conversation's ``newest`` last messages: what staff see on opening
    a case in the inbox. The same reads as ``cases.selectors.case_for_reading`` and then
    ``messages_after`` (the same access rule, the same audit entries ``case.read`` and
    ``messages.read``), with one query for the case and its conversation, and both entries
    appended to the audit log at once, before any message is decrypted."""
    conversation = (
        Conversation.objects.select_related("case__defector", "case__programme")
        .filter(case_id=case_id, case__in=policy.visible_cases(user))
        .first()
    )
    if conversation is None:
        raise Problem(status_code=404, slug="not-found", detail="No such case.")
    case = conversation.case
    page = list(
        Message.objects.filter(conversation=conversation, seq__gt=max(0, conversation.last_seq - newest)).order_by(
            "seq"
        )
    )
    events = [case_selectors.case_read_event(user, case), _messages_read_event(user, conversation, page)]
    record_events([event for event in events if event is not None])
    return OpenedCase(case, conversation, _message_page(page, case_id=case.pk, has_more=False).results)
