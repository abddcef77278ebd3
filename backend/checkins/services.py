"""Check-ins over the API: schedules (staff), answers, extensions and PINs (the defector).

The timer runs on the server: occurrences open, remind and go missed in the worker
(``checkins.sweeps``), so a check-in fires even when the phone is dead, lost or taken."""

from __future__ import annotations

import datetime as dt
import functools
import heapq
import json
import secrets
from typing import TypedDict
from zoneinfo import available_timezones

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.cache import cache
from django.db import models, transaction
from django.utils import timezone
from redis.exceptions import RedisError

from backend.accounts.models import Defector, User
from backend.audit.services import record_event
from backend.cases import policy
from backend.cases.models import Case
from backend.checkins import recurrence
from backend.checkins.models import Checkin, CheckinAnswer, CheckinSchedule, DefectorPins
from backend.crisis.models import Alert
from backend.crisis.services import raise_alert
from backend.crisis.severity import Severity
from backend.problems import Problem
from backend.realtime import OutageLog
from backend.vault.services import seal

pin_cache_health = OutageLog("cache unavailable; wrong-PIN lockout paused until it is back")

ANSWERS = {"ok", "need_contact", "danger"}
MAX_EXTENSION = dt.timedelta(hours=1)
MAX_START_AGE = dt.timedelta(days=1)
MAX_START_AHEAD = dt.timedelta(days=730)
PIN_MIN_DIGITS = 4
PIN_MAX_DIGITS = 8
PIN_PATTERN = rf"^\d{{{PIN_MIN_DIGITS},{PIN_MAX_DIGITS}}}$"


# `hasher` (the default hasher's path) is only the cache key, so a change of hashers gets
# a stand-in of the new kind.
@functools.cache
def _stand_in_hash(hasher: str) -> str:  # noqa: ARG001
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


# --- the defector's side ---------------------------------------------------------------


def _pin_attempts_key(defector: Defector) -> str:
    return f"pin-failures:{defector.pk}"


def _pin_failures(defector: Defector) -> int:
    try:
        return int(cache.get(_pin_attempts_key(defector), 0))
    except RedisError as exc:
        # The cache (Redis) is down: a check-in must stay answerable, so the lockout
        # pauses (logged once) rather than the answer failing.
        pin_cache_health.failed(exc)
        return 0


def _count_pin_failure(defector: Defector) -> None:
    key = _pin_attempts_key(defector)
    try:
        cache.add(key, 0, timeout=int(settings.LIVLINA_PIN_LOCKOUT.total_seconds()))
        cache.incr(key)
    except RedisError as exc:
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


def _own_checkin(user: User, checkin_id: int, *, lock: bool = False) -> Checkin:
    """A check-in of the defector's own case (``policy.own_cases``); "not found" for any
    other, so a defector learns nothing about other cases' check-ins."""
    rows = Checkin.objects.filter(pk=checkin_id, case__in=policy.own_cases(user))
    checkin = (rows.select_for_update(of=("self",)) if lock else rows).first()
    if checkin is None:
        raise Problem(status_code=404, slug="not-found", detail="No such check-in.")
    return checkin


def respond(*, user: User, checkin_id: int, answer: str, pin: str | None) -> Checkin:
    """Answer an open check-in. With the duress PIN the request does exactly what it does
    with the normal PIN (same queries, same response); what it meant is sealed into the
    answer row and the worker raises the critical alert from there. The alert never
    reaches the defector's devices or conversation."""
    if answer not in ANSWERS:
        raise _bad("status", f"One of {sorted(ANSWERS)}.")
    checkin = _own_checkin(user, checkin_id)
    defector = user.defector
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
            record=row.vault_record,
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
        checkin = _own_checkin(user, checkin_id, lock=True)
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
    if not (pin.isdigit() and PIN_MIN_DIGITS <= len(pin) <= PIN_MAX_DIGITS):
        raise _bad("pin", f"{PIN_MIN_DIGITS} to {PIN_MAX_DIGITS} digits.")
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


def open_checkins_for(user: User) -> models.QuerySet[Checkin]:
    """The defector's check-ins that may be answered now (due, and not past their grace)."""
    now = timezone.now()
    return Checkin.objects.filter(
        case__in=policy.own_cases(user), status=Checkin.Status.OPEN, due_at__lte=now, grace_until__gt=now
    ).order_by("due_at")


class UpcomingCheckin(TypedDict):
    schedule_id: int
    due_at: dt.datetime
    closes_at: dt.datetime
    remind_at: dt.datetime | None
    window_minutes: int
    reminder_minutes: int


def upcoming_checkins_for(user: User, *, limit: int) -> list[UpcomingCheckin]:
    """The defector's next ``limit`` check-ins not yet opened, soonest first, across the
    active (not paused, not ended) schedules of their own case: when each is due, when
    it closes and when the reminder comes, as the worker will open it. The grace period
    is left out on purpose: whoever holds the phone need not learn how long a missed
    check-in goes unnoticed."""
    schedules = CheckinSchedule.objects.filter(
        case__in=policy.own_cases(user), paused=False, next_due_at__isnull=False
    ).order_by("pk")
    upcoming: list[UpcomingCheckin] = []
    for schedule in schedules:
        assert schedule.next_due_at is not None
        window = dt.timedelta(minutes=schedule.window_minutes)
        reminder = dt.timedelta(minutes=schedule.reminder_minutes)
        for due in recurrence.occurrences_from(
            rule_text=schedule.rrule,
            dtstart=schedule.dtstart,
            zone=schedule.timezone,
            first=schedule.next_due_at,
            count=limit,
        ):
            closes = due + window
            # As ``sweeps.open_due_checkins`` sets it: no reminder at or before the due time.
            remind = closes - reminder if schedule.reminder_minutes and closes - reminder > due else None
            upcoming.append(
                UpcomingCheckin(
                    schedule_id=schedule.pk,
                    due_at=due,
                    closes_at=closes,
                    remind_at=remind,
                    window_minutes=schedule.window_minutes,
                    reminder_minutes=schedule.reminder_minutes,
                )
            )
    return heapq.nsmallest(limit, upcoming, key=lambda item: (item["due_at"], item["schedule_id"]))


def history_for(case: Case) -> models.QuerySet[Checkin]:
    """The case's last 500 check-ins, newest first, each with ``late`` (answered after it
    closed). The caller has passed ``policy.require_case_for_staff``."""
    answered_late = models.When(answered_at__gt=models.F("closes_at"), then=models.Value(True))
    late = models.Case(answered_late, default=models.Value(False), output_field=models.BooleanField())
    return Checkin.objects.filter(case=case).annotate(late=late).order_by("-due_at")[:500]
