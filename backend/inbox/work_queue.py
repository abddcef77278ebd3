"""The work queue: every case the staff member may see, in the order a human should look
at them. Reads only through the access policy's ``visible_cases`` (via the selectors);
a fixed number of queries whatever the number of cases."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Max, Min, OuterRef, QuerySet, Subquery
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


def _worst_alerts(user: User, case_ids: QuerySet[Case, Any]) -> dict[int, QueueAlert]:
    worst: dict[int, QueueAlert] = {}
    alerts = (
        alert_selectors.visible_alerts(user)
        .filter(case_id__in=case_ids, state__in=UNRESOLVED)
        .order_by("case_id", "-severity", "created_at")
        .values("id", "case_id", "kind", "severity", "state", "created_at")
    )
    for alert in alerts:
        if alert["case_id"] not in worst:
            worst[alert["case_id"]] = QueueAlert(
                id=alert["id"],
                kind=alert["kind"],
                severity=Severity.of_rank(alert["severity"]).value,
                state=alert["state"],
                created_at=alert["created_at"],
            )
    return worst


def _checkins(case_ids: QuerySet[Case, Any], now: dt.datetime) -> dict[int, QueueCheckin]:
    open_until = dict(
        Checkin.objects.filter(case_id__in=case_ids, status=Checkin.Status.OPEN, due_at__lte=now)
        .values("case_id")
        .annotate(until=Min("closes_at"))
        .values_list("case_id", "until")
    )
    next_due = dict(
        CheckinSchedule.objects.filter(case_id__in=case_ids, paused=False, next_due_at__isnull=False)
        .values("case_id")
        .annotate(due=Min("next_due_at"))
        .values_list("case_id", "due")
    )
    last_status: dict[int, str] = {}
    finished = (
        Checkin.objects.filter(case_id__in=case_ids)
        .exclude(status=Checkin.Status.OPEN)
        .order_by("case_id", "-due_at")
        .values_list("case_id", "status")
    )
    for case_id, status in finished:
        last_status.setdefault(case_id, status)
    return {
        case_id: QueueCheckin(open_until.get(case_id), next_due.get(case_id), last_status.get(case_id, ""))
        for case_id in open_until.keys() | next_due.keys() | last_status.keys()
    }


def work_queue(user: User) -> list[QueueRow]:
    now = timezone.now()
    open_cases = case_selectors.cases_for(user).filter(status=Case.Status.OPEN)
    cases = list(open_cases.values_list("pk", "defector__alias", "created_at"))
    # The other reads filter by this subquery rather than by a list of (up to hundreds of) ids.
    case_ids = open_cases.values("pk")
    # When the oldest message this staff member has not read, written by someone else,
    # arrived: how long the defector has been waiting.
    oldest_unread = (
        Message.objects.filter(conversation=OuterRef("pk"), seq__gt=OuterRef("read_seq"))
        .exclude(sender=user)
        .order_by("seq")
        .values("created_at")[:1]
    )
    conversations = {
        case_id: (pk, unread, waiting_since)
        for case_id, pk, unread, waiting_since in message_selectors.conversations_for(user)
        .filter(case_id__in=case_ids)
        .annotate(waiting_since=Subquery(oldest_unread))
        .values_list("case_id", "pk", "unread", "waiting_since")
    }
    last_message = dict(
        Message.objects.filter(conversation__case_id__in=case_ids)
        .values("conversation__case_id")
        .annotate(last=Max("created_at"))
        .values_list("conversation__case_id", "last")
    )
    primaries = {
        case_id: f"{first} {last}".strip() or username
        for case_id, first, last, username in CaseAssignment.objects.filter(
            case_id__in=case_ids, role=CaseAssignment.Role.PRIMARY
        ).values_list("case_id", "staff__first_name", "staff__last_name", "staff__username")
    }
    alerts = _worst_alerts(user, case_ids)
    checkins = _checkins(case_ids, now)
    rows = []
    no_checkin = QueueCheckin(None, None, "")
    for case_id, alias, created_at in cases:
        conversation_id, unread, waiting_since = conversations.get(case_id, (None, 0, None))
        rows.append(
            QueueRow(
                case_id=case_id,
                alias=alias,
                conversation_id=conversation_id,
                primary_contact=primaries.get(case_id, ""),
                unread=unread,
                waiting_since=waiting_since if unread else None,
                alert=alerts.get(case_id),
                checkin=checkins.get(case_id, no_checkin),
                last_activity=max(filter(None, [created_at, last_message.get(case_id)])),
            )
        )
    rows.sort(key=_sort_key)
    return rows
