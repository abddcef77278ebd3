"""Check-ins: schedules, opening and closing occurrences, answers, duress.

The timer runs on the server: occurrences open, remind and go missed in the worker, so a
check-in fires even when the phone is dead, lost or taken."""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import secrets
from typing import Any
from zoneinfo import available_timezones

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from backend.accounts.models import Defector, User
from backend.audit.services import record_event
from backend.cases import policy
from backend.cases.models import Case
from backend.checkins import recurrence
from backend.checkins.models import Checkin, CheckinAnswer, CheckinSchedule, DefectorPins
from backend.crisis.models import Alert
from backend.crisis.services import AlertTrigger, raise_alert, raise_alerts
from backend.crisis.severity import Severity
from backend.problems import Problem
from backend.push.services import enqueue_push
from backend.realtime import OutageLog
from backend.vault.services import ContentShredded, open_sealed, seal

logger = logging.getLogger(__name__)
pin_cache_health = OutageLog("cache unavailable; wrong-PIN lockout paused until it is back")

ANSWERS = {"ok", "need_contact", "danger"}
MAX_EXTENSION = dt.timedelta(hours=1)
MAX_START_AGE = dt.timedelta(days=1)
MAX_START_AHEAD = dt.timedelta(days=730)


@functools.cache
def _stand_in_hash(hasher: str) -> str:
    """Compared against when a PIN is not set, so every answer costs the same two slow
    checks (Django skips the work for an unusable hash, which would show in the timing)."""
    return make_password(secrets.token_hex(16))


def _bad(field: str, detail: str) -> Problem:
    return Problem(status_code=400, slug="validation", detail=detail, field=field)


# --- schedules -----------------------------------------------------------------------


def create_schedule(
    *,
    case: Case,
    actor: User,
    rrule: str,
    at: dt.datetime | None,
    dtstart: dt.datetime | None,
    zone: str,
    window_minutes: int,
    grace_minutes: int,
    reminder_minutes: int,
) -> CheckinSchedule:
    """A recurring schedule (``rrule``) or a one-off check-in (``at``). Only staff who may
    see the case; anyone else gets "not found"."""
    policy.require_case_for_staff(actor, case.pk)
    if zone not in available_timezones():
        raise _bad("timezone", "Not an IANA time zone.")
    if bool(rrule) == bool(at):
        raise _bad("rrule", "Give either rrule (recurring) or at (one-off).")
    now = timezone.now()
    start = at or dtstart or now
    # Bounded: a rule expanded from a far-past start walks every occurrence since then.
    if not now - MAX_START_AGE <= start <= now + MAX_START_AHEAD:
        raise _bad("at" if at else "dtstart", "Must be within a day before and two years after now.")
    if rrule:
        try:
            gap = recurrence.shortest_gap(rule_text=rrule, dtstart=start, zone=zone)
        except (ValueError, TypeError, OverflowError) as exc:
            raise _bad("rrule", f"Not a valid RRULE: {exc}") from None
        if gap is not None and gap < recurrence.MIN_INTERVAL:
            raise _bad("rrule", "Check-ins must be at least 15 minutes apart.")
        if gap is not None and dt.timedelta(minutes=window_minutes) > gap:
            raise _bad("window_minutes", "The window is longer than the time between check-ins.")
        first = recurrence.next_occurrence(
            rule_text=rrule, dtstart=start, zone=zone, after=now - dt.timedelta(seconds=1)
        )
    else:
        if start <= now:
            raise _bad("at", "Must be in the future.")
        first = start
    if first is None:
        raise _bad("rrule", "The rule has no future occurrence.")
    with transaction.atomic():
        schedule = CheckinSchedule.objects.create(
            case=case,
            rrule=rrule,
            dtstart=start,
            timezone=zone,
            window_minutes=window_minutes,
            grace_minutes=grace_minutes,
            reminder_minutes=reminder_minutes,
            next_due_at=first,
            created_by=actor,
        )
        record_event(action="checkin_schedule.created", actor=actor, case_id=case.pk, target=f"schedule:{schedule.pk}")
    return schedule


def schedule_for(actor: User, schedule_id: int) -> CheckinSchedule:
    """A schedule of a case ``actor`` may see; "not found" otherwise."""
    schedule = CheckinSchedule.objects.filter(pk=schedule_id, case__in=policy.visible_cases(actor)).first()
    if schedule is None or not actor.is_staff_member:
        raise Problem(status_code=404, slug="not-found", detail="No such schedule.")
    return schedule


def set_paused(*, schedule: CheckinSchedule, actor: User, paused: bool) -> CheckinSchedule:
    """Pause (no check-ins open while paused) or resume (from the next occurrence after
    now). The caller got ``schedule`` through ``schedule_for``."""
    with transaction.atomic():
        locked = CheckinSchedule.objects.select_for_update().get(pk=schedule.pk)
        locked.paused = paused
        if not paused:
            locked.next_due_at = recurrence.next_occurrence(
                rule_text=locked.rrule, dtstart=locked.dtstart, zone=locked.timezone, after=timezone.now()
            )
        locked.save(update_fields=["paused", "next_due_at"])
        record_event(
            action="checkin_schedule.paused" if paused else "checkin_schedule.resumed",
            actor=actor,
            case_id=locked.case_id,
            target=f"schedule:{locked.pk}",
        )
    return locked


# --- the worker's sweeps ----------------------------------------------------------------


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
            enqueue_push(user_ids=_defector_user_ids({c.case_id for c in fresh}), kind="checkin")
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
            enqueue_push(user_ids=_defector_user_ids({c.case_id for c in due}), kind="reminder")
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
        open_sealed(case_id=case.pk, record=_answer_record(answer), ciphertext=bytes(answer.sealed_assessment))
    )
    if assessment.get("duress"):
        raise_alert(
            case=case, kind=Alert.Kind.DURESS, severity=Severity.CRITICAL, detail={"checkin": answer.checkin_id}
        )
    answer.processed_at = timezone.now()
    answer.save(update_fields=["processed_at"])


# --- the defector's side ---------------------------------------------------------------


def _answer_record(answer: CheckinAnswer) -> str:
    # One answer per check-in (an answered check-in takes no other), so the id binds it.
    return f"checkin-answer:{answer.checkin_id}"


def _pin_attempts_key(defector: Defector) -> str:
    return f"pin-failures:{defector.pk}"


def _pin_failures(defector: Defector) -> int:
    try:
        return int(cache.get(_pin_attempts_key(defector), 0))
    except Exception as exc:
        # The cache (Redis) is down: a check-in must stay answerable, so the lockout
        # pauses (logged once) rather than the answer failing.
        pin_cache_health.failed(exc)
        return 0


def _count_pin_failure(defector: Defector) -> None:
    key = _pin_attempts_key(defector)
    try:
        cache.add(key, 0, timeout=int(settings.LIVLINA_PIN_LOCKOUT.total_seconds()))
        cache.incr(key)
    except Exception as exc:
        pin_cache_health.failed(exc)


def _check_pin(defector: Defector, pin: str | None) -> bool:
    """True when the PIN is the duress PIN. Both hashes are always checked, so the normal
    and the duress PIN take the same time; a wrong PIN is counted and throttled."""
    if _pin_failures(defector) >= settings.LIVLINA_PIN_MAX_FAILURES:
        raise Problem(status_code=429, slug="pin-locked", detail="Too many wrong PINs; try again later.", field="pin")
    pins = DefectorPins.objects.filter(defector=defector).first()
    if pin is None and pins is not None and pins.normal_pin_hash:
        # Once a PIN is set, an answer without one proves nothing about who holds the phone.
        raise Problem(status_code=400, slug="pin-required", detail="Answer with your PIN.", field="pin")
    candidate = pin if pin is not None else ""
    stand_in = _stand_in_hash(settings.PASSWORD_HASHERS[0])
    normal = check_password(candidate, (pins and pins.normal_pin_hash) or stand_in)
    duress = check_password(candidate, (pins and pins.duress_pin_hash) or stand_in)
    if pin is not None and not (normal or duress):
        _count_pin_failure(defector)
        raise Problem(status_code=400, slug="pin-invalid", detail="Wrong PIN.", field="pin")
    return duress and not normal


def respond(*, user: User, checkin_id: int, answer: str, pin: str | None) -> Checkin:
    """Answer an open check-in. With the duress PIN the request does exactly what it does
    with the normal PIN (same queries, same response); what it meant is sealed into the
    answer row and the worker raises the critical alert from there. The alert never
    reaches the defector's devices or conversation."""
    if answer not in ANSWERS:
        raise _bad("status", f"One of {sorted(ANSWERS)}.")
    defector = user.defector
    checkin = Checkin.objects.filter(pk=checkin_id, case__defector=defector).select_related("case").first()
    if checkin is None:
        raise Problem(status_code=404, slug="not-found", detail="No such check-in.")
    under_duress = _check_pin(defector, pin)
    now = timezone.now()
    with transaction.atomic():
        locked = Checkin.objects.select_for_update(of=("self",)).select_related("case").get(pk=checkin.pk)
        if locked.status != Checkin.Status.OPEN:
            raise Problem(status_code=409, slug="checkin-closed", detail="This check-in is no longer open.")
        locked.status = Checkin.Status.ANSWERED
        locked.answered_at, locked.answer, locked.remind_at = now, answer, None
        locked.save(update_fields=["status", "answered_at", "answer", "remind_at"])
        row = CheckinAnswer(checkin=locked, created_at=now, sealed_assessment=b"")
        row.sealed_assessment = seal(
            case_id=locked.case_id,
            record=_answer_record(row),
            # 0/1, not false/true: the sealed row has the same length either way.
            plaintext=json.dumps({"duress": int(under_duress), "answer": answer}),
        )
        row.save()
        if answer == "need_contact":
            raise_alert(
                case=locked.case, kind=Alert.Kind.NEED_CONTACT, severity=Severity.NORMAL, detail={"checkin": locked.pk}
            )
        elif answer == "danger":
            raise_alert(
                case=locked.case, kind=Alert.Kind.DANGER, severity=Severity.CRITICAL, detail={"checkin": locked.pk}
            )
    return locked


def extend(*, user: User, checkin_id: int, minutes: int) -> Checkin:
    """Push an open check-in's close back once, by at most an hour."""
    if not 1 <= minutes <= MAX_EXTENSION.total_seconds() // 60:
        raise _bad("minutes", "1 to 60 minutes.")
    with transaction.atomic():
        checkin = Checkin.objects.select_for_update().filter(pk=checkin_id, case__defector__user=user).first()
        if checkin is None:
            raise Problem(status_code=404, slug="not-found", detail="No such check-in.")
        if checkin.status != Checkin.Status.OPEN or checkin.closes_at <= timezone.now():
            raise Problem(status_code=409, slug="checkin-closed", detail="This check-in is no longer open.")
        if checkin.extended:
            raise Problem(status_code=409, slug="already-extended", detail="A check-in can be extended once.")
        delta = dt.timedelta(minutes=minutes)
        checkin.closes_at += delta
        checkin.grace_until += delta
        if checkin.remind_at is not None:
            checkin.remind_at += delta
        checkin.extended = True
        checkin.save(update_fields=["closes_at", "grace_until", "remind_at", "extended"])
    return checkin


def set_pin(*, user: User, pin: str, duress: bool) -> None:
    """Set the app PIN or the duress PIN (slow hash, never recoverable). They must differ."""
    if not (pin.isdigit() and 4 <= len(pin) <= 8):
        raise _bad("pin", "4 to 8 digits.")
    defector = user.defector
    with transaction.atomic():
        pins, _ = DefectorPins.objects.select_for_update().get_or_create(defector=defector)
        other = pins.normal_pin_hash if duress else pins.duress_pin_hash
        if other and check_password(pin, other):
            raise _bad("pin", "The duress PIN must differ from the app PIN.")
        if duress:
            pins.duress_pin_hash = make_password(pin)
        else:
            pins.normal_pin_hash = make_password(pin)
        pins.save()
        record_event(
            action="pin.set", actor=user, case_id=_case_id(defector), details={"kind": "duress" if duress else "app"}
        )


def _case_id(defector: Defector) -> int | None:
    case = policy.case_of_defector(defector.user_id)
    return case.pk if case else None


def open_checkins_for(user: User) -> list[dict[str, Any]]:
    now = timezone.now()
    rows = Checkin.objects.filter(
        case__defector__user=user, status=Checkin.Status.OPEN, due_at__lte=now, grace_until__gt=now
    ).order_by("due_at")
    return [{"id": c.pk, "due_at": c.due_at, "closes_at": c.closes_at} for c in rows]


def history_for(case: Case) -> list[dict[str, Any]]:
    rows = Checkin.objects.filter(case=case).order_by("-due_at")[:500]
    out = []
    for c in rows:
        late = bool(c.answered_at and c.answered_at > c.closes_at)
        out.append(
            {
                "id": c.pk,
                "due_at": c.due_at,
                "closes_at": c.closes_at,
                "status": c.status,
                "late": late,
                "answer": c.answer,
                "answered_at": c.answered_at,
                "missed_at": c.missed_at,
            }
        )
    return out
