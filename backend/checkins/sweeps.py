"""The worker's check-in sweeps: open due occurrences, remind, mark missed ones (and
alert), and read what each answer meant (and alert on duress). Each claims its rows with
``SKIP LOCKED`` (``jobs.claim_due_rows``), so several workers share the work, and works on
them in the same transaction."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from backend import metrics
from backend.cases.models import Case
from backend.checkins import recurrence
from backend.checkins.models import Checkin, CheckinAnswer, CheckinSchedule
from backend.crisis.models import Alert
from backend.crisis.services import AlertTrigger, raise_alerts
from backend.crisis.severity import Severity
from backend.jobs import Failed, claim_due_rows, run_in_bulk_else_one_by_one
from backend.push.models import PushKind
from backend.push.services import enqueue_push
from backend.vault.services import ContentShredded, open_sealed

logger = logging.getLogger(__name__)


def open_due_checkins(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Open every occurrence whose time has come, and move each schedule to its next one.
    Claimed with SKIP LOCKED, so several workers share the work. A batch takes a few
    statements whatever its size: the check-ins, their pushes and the schedules' next
    occurrences are each written at once."""
    now = now or timezone.now()
    with transaction.atomic():
        schedules = claim_due_rows(
            CheckinSchedule.objects.all(),
            due=Q(paused=False, next_due_at__lte=now),
            order_by=("next_due_at",),
            limit=limit,
        )
        if not schedules:
            return 0
        # Only this transaction may open these schedules' occurrences (it holds their row
        # locks); one opened before a crash that rolled back the schedule is not opened twice.
        already = set(
            Checkin.objects.filter(schedule__in=schedules, due_at__in={s.next_due_at for s in schedules}).values_list(
                "schedule_id", "due_at"
            )
        )
        fresh = []
        for schedule in schedules:
            due = schedule.next_due_at
            assert due is not None
            if (schedule.pk, due) not in already:
                closes = due + dt.timedelta(minutes=schedule.window_minutes)
                remind = closes - dt.timedelta(minutes=schedule.reminder_minutes)
                fresh.append(
                    Checkin(
                        schedule=schedule,
                        case_id=schedule.case_id,
                        due_at=due,
                        closes_at=closes,
                        grace_until=closes + dt.timedelta(minutes=schedule.grace_minutes),
                        remind_at=remind if schedule.reminder_minutes and remind > due else None,
                    )
                )
            schedule.next_due_at = recurrence.next_occurrence(
                rule_text=schedule.rrule, dtstart=schedule.dtstart, zone=schedule.timezone, after=due
            )
        Checkin.objects.bulk_create(fresh)
        _observe_lag("open", [c.due_at for c in fresh])
        if fresh:
            enqueue_push(user_ids=_defector_user_ids({c.case_id for c in fresh}), kind=PushKind.CHECKIN)
        CheckinSchedule.objects.bulk_update(schedules, ["next_due_at"])
    return len(fresh)


def _observe_lag(sweep: str, moments: list[dt.datetime]) -> None:
    """How late the sweep acted on each check-in's moment, counted once the batch commits."""
    now = timezone.now()
    lags = [max((now - moment).total_seconds(), 0.0) for moment in moments]

    def observe() -> None:
        for lag in lags:
            metrics.CHECKIN_SWEEP_LAG_SECONDS.labels(sweep=sweep).observe(lag)

    transaction.on_commit(observe)


def _defector_user_ids(case_ids: set[int]) -> list[int]:
    return list(Case.objects.filter(pk__in=case_ids).values_list("defector__user_id", flat=True))


def send_reminders(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Push a reminder for each open check-in whose reminder time has come, once."""
    now = now or timezone.now()
    with transaction.atomic():
        due = claim_due_rows(
            Checkin.objects.all(),
            due=Q(status=Checkin.Status.OPEN, remind_at__lte=now),
            order_by=("remind_at",),
            limit=limit,
        )
        if due:
            enqueue_push(user_ids=_defector_user_ids({c.case_id for c in due}), kind=PushKind.REMINDER)
            Checkin.objects.filter(pk__in=[c.pk for c in due]).update(remind_at=None)
    return len(due)


def mark_missed(*, now: dt.datetime | None = None, limit: int = 200) -> int:
    """Each check-in past its window and grace without an answer becomes missed exactly
    once (row lock + state check in one transaction) and raises a ``missed_checkin`` alert.
    A batch is marked and alerted with a few statements (``raise_alerts``); should that
    fail, each check-in is tried on its own, so one bad row never holds up the others."""
    now = now or timezone.now()
    with transaction.atomic():
        overdue = claim_due_rows(
            Checkin.objects.select_related("case"),
            due=Q(status=Checkin.Status.OPEN, grace_until__lte=now),
            order_by=("grace_until",),
            limit=limit,
            # Lock the check-ins, not their cases (an alert insert for the case needs a
            # key-share lock on it, which would deadlock with the audit lock).
            lock_only_self=True,
        )
        marked = run_in_bulk_else_one_by_one(
            overdue, bulk=lambda batch: _mark_missed(batch, now=now), what="missed check-in", logger=logger
        )
    return sum(not isinstance(outcome, Failed) for outcome in marked)


def _mark_missed(checkins: Sequence[Checkin], *, now: dt.datetime) -> list[Alert]:
    Checkin.objects.filter(pk__in=[checkin.pk for checkin in checkins]).update(
        status=Checkin.Status.MISSED, missed_at=now
    )
    _observe_lag("missed", [checkin.grace_until for checkin in checkins])
    return raise_alerts([_missed_trigger(checkin) for checkin in checkins])


def _missed_trigger(checkin: Checkin) -> AlertTrigger:
    return AlertTrigger(
        case=checkin.case,
        kind=Alert.Kind.MISSED_CHECKIN,
        severity=Severity.HIGH,
        detail={"checkin": checkin.pk, "due_at": checkin.due_at.isoformat()},
    )


def process_answers(*, limit: int = 500) -> int:
    """Read what each answer meant; an answer given under duress raises the critical
    alert. A batch is read and alerted with a few statements; should that fail, each
    answer is tried on its own, so one unreadable row never holds up the others. An
    answer of an erased case is marked read without a look: nothing can be read, and
    nobody is left to alert. Returns how many answers were read."""
    with transaction.atomic():
        pending = claim_due_rows(
            CheckinAnswer.objects.select_related("checkin__case"),
            due=Q(processed_at__isnull=True),
            order_by=("created_at",),
            limit=limit,
            lock_only_self=True,
        )
        read = run_in_bulk_else_one_by_one(pending, bulk=_read_answers, what="check-in answer", logger=logger)
    return sum(outcome is True for outcome in read)


def _read_answers(answers: Sequence[CheckinAnswer]) -> list[bool]:
    """Whether each answer could be read (False: its case was erased)."""
    duress, readable = [], []
    for answer in answers:
        case = answer.checkin.case
        sealed = bytes(answer.sealed_assessment)
        try:
            plaintext = open_sealed(case_id=case.pk, record=answer.vault_record, ciphertext=sealed)
        except ContentShredded:
            readable.append(False)
            continue
        readable.append(True)
        if json.loads(plaintext).get("duress"):
            duress.append(
                AlertTrigger(
                    case=case,
                    kind=Alert.Kind.DURESS,
                    severity=Severity.CRITICAL,
                    detail={"checkin": answer.checkin_id},
                )
            )
    raise_alerts(duress)
    CheckinAnswer.objects.filter(pk__in=[answer.pk for answer in answers]).update(processed_at=timezone.now())
    return readable
