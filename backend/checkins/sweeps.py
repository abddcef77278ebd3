"""The worker's check-in sweeps: open due occurrences, remind, mark missed ones (and
alert), and read what each answer meant (and alert on duress). Each claims its rows with
``SKIP LOCKED``, so several workers share the work."""

from __future__ import annotations

import datetime as dt
import json
import logging

from django.db import transaction
from django.utils import timezone

from backend.cases.models import Case
from backend.checkins import recurrence
from backend.checkins.models import Checkin, CheckinAnswer, CheckinSchedule
from backend.crisis.models import Alert
from backend.crisis.services import AlertTrigger, raise_alert, raise_alerts
from backend.crisis.severity import Severity
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
        schedules = list(
            CheckinSchedule.objects.select_for_update(skip_locked=True)
            .filter(paused=False, next_due_at__lte=now)
            .order_by("next_due_at")[:limit]
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
        if fresh:
            enqueue_push(user_ids=_defector_user_ids({c.case_id for c in fresh}), kind=PushKind.CHECKIN)
        CheckinSchedule.objects.bulk_update(schedules, ["next_due_at"])
    return len(fresh)


def _defector_user_ids(case_ids: set[int]) -> list[int]:
    return list(Case.objects.filter(pk__in=case_ids).values_list("defector__user_id", flat=True))


def send_reminders(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            Checkin.objects.select_for_update(skip_locked=True)
            .filter(status=Checkin.Status.OPEN, remind_at__lte=now)
            .order_by("remind_at")[:limit]
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
        overdue = list(
            # of=self: lock the check-ins, not their cases (an alert insert for the
            # case needs a key-share lock on it, which would deadlock with the audit lock).
            Checkin.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=Checkin.Status.OPEN, grace_until__lte=now)
            .select_related("case")
            .order_by("grace_until")[:limit]
        )
        if not overdue:
            return 0
        try:
            with transaction.atomic():
                Checkin.objects.filter(pk__in=[c.pk for c in overdue]).update(
                    status=Checkin.Status.MISSED, missed_at=now
                )
                raise_alerts([_missed_trigger(checkin) for checkin in overdue])
                return len(overdue)
        except Exception:
            logger.exception("a batch of %d missed check-ins failed; trying them one by one", len(overdue))
        marked = 0
        for checkin in overdue:
            try:
                with transaction.atomic():
                    checkin.status = Checkin.Status.MISSED
                    checkin.missed_at = now
                    checkin.save(update_fields=["status", "missed_at"])
                    raise_alerts([_missed_trigger(checkin)])
                    marked += 1
            except Exception:
                logger.exception("missed check-in %s could not be processed; retrying later", checkin.pk)
    return marked


def _missed_trigger(checkin: Checkin) -> AlertTrigger:
    return AlertTrigger(
        case=checkin.case,
        kind=Alert.Kind.MISSED_CHECKIN,
        severity=Severity.HIGH,
        detail={"checkin": checkin.pk, "due_at": checkin.due_at.isoformat()},
    )


def process_answers(*, limit: int = 500) -> int:
    """Read what each answer meant; an answer under duress raises the critical alert.
    Each row in its own savepoint: one unreadable row never holds up the others."""
    done = 0
    with transaction.atomic():
        pending = list(
            CheckinAnswer.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(processed_at__isnull=True)
            .select_related("checkin__case")
            .order_by("created_at")[:limit]
        )
        for answer in pending:
            try:
                with transaction.atomic():
                    _process_answer(answer)
                    done += 1
            except ContentShredded:
                # The case was erased: nothing can be read, nobody is left to alert.
                CheckinAnswer.objects.filter(pk=answer.pk).update(processed_at=timezone.now())
            except Exception:
                logger.exception("check-in answer %s could not be processed; retrying later", answer.pk)
    return done


def _process_answer(answer: CheckinAnswer) -> None:
    case = answer.checkin.case
    assessment = json.loads(
        open_sealed(case_id=case.pk, record=answer.vault_record, ciphertext=bytes(answer.sealed_assessment))
    )
    if assessment.get("duress"):
        raise_alert(
            case=case, kind=Alert.Kind.DURESS, severity=Severity.CRITICAL, detail={"checkin": answer.checkin_id}
        )
    answer.processed_at = timezone.now()
    answer.save(update_fields=["processed_at"])
