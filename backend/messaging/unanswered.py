"""Somebody always answers: a defector message that no staff member has read in time
raises an ``unanswered`` alert. In time means within the programme's limit (10 minutes
by default), or at once when the primary contact person is outside working hours
(``crisis.models.WorkingHours``). The send path schedules the checks; the worker's
``escalations`` job sweeps them before the engine runs."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from backend.cases.models import CaseAssignment
from backend.crisis.models import Alert, WorkingHours
from backend.crisis.services import AlertTrigger, raise_alerts
from backend.crisis.severity import Severity
from backend.jobs import claim_due_rows, run_in_bulk_else_one_by_one
from backend.messaging.models import Conversation, Message, ReadState, UnansweredCheck

logger = logging.getLogger(__name__)
DEFAULT_WEEKDAYS = [1, 2, 3, 4, 5]
DEFAULT_START, DEFAULT_END = dt.time(8, 0), dt.time(17, 0)
DEFAULT_ZONE = "Europe/Stockholm"


def at_work(hours: WorkingHours | None, at: dt.datetime) -> bool:
    """Whether ``at`` falls in these working hours (the defaults when there are none)."""
    weekdays = hours.weekdays if hours else DEFAULT_WEEKDAYS
    start, end = (hours.start, hours.end) if hours else (DEFAULT_START, DEFAULT_END)
    local = at.astimezone(ZoneInfo(hours.timezone if hours else DEFAULT_ZONE))
    if hours is not None and hours.away_on(local.date()):
        return False
    return local.isoweekday() in weekdays and start <= local.time() < end


def schedule_checks(messages: Iterable[tuple[int, int, int, dt.timedelta]]) -> None:
    """Call in the send transaction of defector messages: one check per (conversation id,
    case id, seq, the programme's unanswered limit), due after that limit while the case's
    primary contact person is at work, at once otherwise. Three queries for any number."""
    messages = list(messages)
    now = timezone.now()
    primaries = CaseAssignment.objects.filter(
        case_id__in={case_id for _, case_id, _, _ in messages}, role=CaseAssignment.Role.PRIMARY
    )
    primary_of = dict(primaries.values_list("case_id", "staff_id"))
    hours = {h.user_id: h for h in WorkingHours.objects.filter(user_id__in=set(primary_of.values()))}
    checks = []
    for conversation_id, case_id, seq, limit in messages:
        primary = primary_of.get(case_id)
        working = primary is not None and at_work(hours.get(primary), now)
        checks.append(UnansweredCheck(conversation_id=conversation_id, seq=seq, due_at=now + limit if working else now))
    UnansweredCheck.objects.bulk_create(checks)


def _answered(check: UnansweredCheck) -> bool:
    conversation_id = check.conversation_id
    case_user = Conversation.objects.filter(pk=conversation_id).values_list("case__defector__user_id", flat=True).get()
    staff_read = ReadState.objects.filter(conversation_id=conversation_id, last_read_seq__gte=check.seq).exclude(
        user_id=case_user
    )
    staff_replied = Message.objects.filter(conversation_id=conversation_id, seq__gt=check.seq).exclude(
        sender_id=case_user
    )
    return staff_read.exists() or staff_replied.exists()


def sweep_unanswered(*, now: dt.datetime | None = None, limit: int = 200) -> int:
    """Worker job: each due check either finds the message read or answered (and goes) or
    raises an ``unanswered`` alert (and goes). Claimed with SKIP LOCKED and deleted in the
    same transaction, so exactly once. A batch raises its alerts together
    (``raise_alerts``); should that fail, each check is tried on its own, so one bad check
    never holds up the others. Returns how many alerts it raised."""
    now = now or timezone.now()
    with transaction.atomic():
        due = claim_due_rows(
            UnansweredCheck.objects.select_related("conversation__case__programme"),
            due=Q(due_at__lte=now),
            order_by=("due_at",),
            limit=limit,
            lock_only_self=True,
        )
        raised = run_in_bulk_else_one_by_one(due, bulk=_settle, what="unanswered-message check", logger=logger)
    return sum(outcome is True for outcome in raised)


def _settle(checks: Sequence[UnansweredCheck]) -> list[bool]:
    """Raise the alerts of the checks whose message is still unanswered and delete every
    check; whether each raised one."""
    unanswered = [not _answered(check) for check in checks]
    raise_alerts(
        [
            AlertTrigger(
                case=check.conversation.case,
                kind=Alert.Kind.UNANSWERED,
                severity=Severity.HIGH,
                detail={"seq": check.seq},
            )
            for check, still_unanswered in zip(checks, unanswered, strict=True)
            if still_unanswered
        ]
    )
    UnansweredCheck.objects.filter(pk__in=[check.pk for check in checks]).delete()
    return unanswered
