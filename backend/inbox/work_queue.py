"""The work queue: every case the staff member may see, in the order a human should look
at them. Reads only through the access policy's ``visible_cases`` (via the selectors);
two queries whatever the number of cases. What is read per case (its unread messages,
its newest message, its check-ins) is a subquery on that case's rows through an index,
so a long conversation or a long check-in history does not make the queue slower."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import FilteredRelation, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from backend.accounts.models import User
from backend.cases import selectors as case_selectors
from backend.cases.models import Case, CaseAssignment
from backend.checkins.models import Checkin, CheckinSchedule
from backend.crisis import selectors as alert_selectors
from backend.crisis.severity import Severity
from backend.inbox.alert_queue import UNRESOLVED
from backend.messaging import selectors as message_selectors
from backend.messaging.models import Message


@dataclass(frozen=True)
class QueueAlert:
    id: int
    kind: str
    severity: str
    state: str
    created_at: dt.datetime


@dataclass(frozen=True)
class QueueCheckin:
    """The case's check-in state: the one open now, else the next one due, and how the
    last one ended."""

    open_until: dt.datetime | None
    next_due_at: dt.datetime | None
    last_status: str


@dataclass(frozen=True)
class QueueRow:
    case_id: int
    alias: str
    conversation_id: int | None
    primary_contact: str  # the name, "" when the case has none
    unread: int
    waiting_since: dt.datetime | None
    alert: QueueAlert | None
    checkin: QueueCheckin
    last_activity: dt.datetime

    @property
    def group(self) -> int:
        """0: an unresolved alert; 1: unread messages from the defector; 2: the rest."""
        if self.alert is not None:
            return 0
        return 1 if self.unread else 2


def _sort_key(row: QueueRow) -> tuple[int, float, float]:
    if row.alert is not None:
        return (0, -Severity(row.alert.severity).rank, row.alert.created_at.timestamp())
    if row.unread:
        waiting = row.waiting_since or row.last_activity
        return (1, waiting.timestamp(), 0.0)
    return (2, -row.last_activity.timestamp(), 0.0)


def _worst_alerts(user: User) -> dict[int, QueueAlert]:
    """The worst unresolved alert of each open case ``user`` may see (alerts of other
    cases they were notified of come along and are not looked up)."""
    worst: dict[int, QueueAlert] = {}
    alerts = (
        alert_selectors.visible_alerts(user)
        .filter(case__status=Case.Status.OPEN, state__in=UNRESOLVED)
        .order_by("case_id", "-severity", "created_at")
        .values_list("id", "case_id", "kind", "severity", "state", "created_at")
    )
    for alert_id, case_id, kind, severity, state, created_at in alerts:
        if case_id not in worst:
            worst[case_id] = QueueAlert(
                id=alert_id, kind=kind, severity=Severity.of_rank(severity).value, state=state, created_at=created_at
            )
    return worst


def _first(rows: QuerySet[Any, Any], field: str) -> Subquery:
    """``field`` of the first of ``rows``, as a column of each case."""
    return Subquery(rows.values(field)[:1])


def work_queue(user: User) -> list[QueueRow]:
    """Two queries, whatever the number of cases: the cases with everything shown per
    case, and the alerts."""
    now = timezone.now()
    case, conversation = OuterRef("pk"), OuterRef("conversation")
    checkins = Checkin.objects.filter(case=case)
    # Since when the oldest message this staff member has not read, written by someone
    # else, has waited: how long the defector has been waiting.
    oldest_unread = (
        Message.objects.filter(conversation=conversation, seq__gt=OuterRef("read_seq"))
        .exclude(sender=user)
        .order_by("seq")
    )
    cases = (
        case_selectors.cases_for(user)
        .filter(status=Case.Status.OPEN)
        .annotate(**message_selectors.unread_columns(user, "conversation"))
        .annotate(
            primary_assignment=FilteredRelation(
                "assignments", condition=Q(assignments__role=CaseAssignment.Role.PRIMARY)
            ),
            waiting_since=_first(oldest_unread, "created_at"),
            # The newest message by seq: the unique (conversation, seq) index answers it.
            last_message_at=_first(Message.objects.filter(conversation=conversation).order_by("-seq"), "created_at"),
            open_until=_first(
                checkins.filter(status=Checkin.Status.OPEN, due_at__lte=now).order_by("closes_at"), "closes_at"
            ),
            next_due_at=_first(
                CheckinSchedule.objects.filter(case=case, paused=False, next_due_at__isnull=False).order_by(
                    "next_due_at"
                ),
                "next_due_at",
            ),
            last_status=_first(checkins.exclude(status=Checkin.Status.OPEN).order_by("-due_at"), "status"),
        )
        .values_list(
            "pk",
            "defector__alias",
            "created_at",
            "primary_assignment__staff__first_name",
            "primary_assignment__staff__last_name",
            "primary_assignment__staff__username",
            "conversation",
            "unread",
            "waiting_since",
            "last_message_at",
            "open_until",
            "next_due_at",
            "last_status",
        )
    )
    alerts = _worst_alerts(user)
    rows = []
    for case_id, alias, created_at, first, last, username, conversation_id, unread, *times, last_status in cases:
        waiting_since, last_message_at, open_until, next_due_at = times
        rows.append(
            QueueRow(
                case_id=case_id,
                alias=alias,
                conversation_id=conversation_id,
                primary_contact=(f"{first} {last}".strip() or username) if username else "",
                unread=unread,
                waiting_since=waiting_since if unread else None,
                alert=alerts.get(case_id),
                checkin=QueueCheckin(open_until, next_due_at, last_status or ""),
                last_activity=max(filter(None, [created_at, last_message_at])),
            )
        )
    rows.sort(key=_sort_key)
    return rows
