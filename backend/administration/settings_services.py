"""A supervisor's settings for how a programme answers: each contact person's working
hours and absences (a message to someone away or off work raises an unanswered alert at
once), and the programme's acknowledgement timeout and unanswered-message limit."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from backend.accounts.models import Programme, User
from backend.audit.services import record_event
from backend.crisis.models import WorkingHours
from backend.messaging.unanswered import DEFAULT_END, DEFAULT_START, DEFAULT_WEEKDAYS, DEFAULT_ZONE


def working_hours_of(user: User) -> WorkingHours:
    """The person's working hours; the defaults (unsaved) when none were set."""
    found = WorkingHours.objects.filter(user=user).first()
    return found or WorkingHours(
        user=user, weekdays=DEFAULT_WEEKDAYS, start=DEFAULT_START, end=DEFAULT_END, timezone=DEFAULT_ZONE
    )


def set_working_hours(
    *,
    programme: Programme,
    actor: User,
    user: User,
    weekdays: list[int],
    start: dt.time,
    end: dt.time,
    timezone: str,
    absences: list[dict[str, dt.date]],
) -> WorkingHours:
    stored = [{"from": a["from"].isoformat(), "until": a["until"].isoformat()} for a in absences]
    with transaction.atomic():
        hours, _ = WorkingHours.objects.update_or_create(
            user=user,
            defaults={
                "weekdays": sorted(set(weekdays)),
                "start": start,
                "end": end,
                "timezone": timezone,
                "absences": sorted(stored, key=lambda a: a["from"]),
            },
        )
        record_event(
            action="staff.working_hours_set",
            actor=actor,
            target=f"user:{user.pk}",
            details={"programme": programme.pk, "absences": len(stored)},
        )
    return hours


@dataclass(frozen=True)
class AlertLimits:
    ack_timeout_minutes: int
    unanswered_limit_minutes: int


def alert_limits(programme: Programme) -> AlertLimits:
    return AlertLimits(
        ack_timeout_minutes=int(programme.ack_timeout.total_seconds() // 60),
        unanswered_limit_minutes=int(programme.unanswered_limit.total_seconds() // 60),
    )


def set_alert_limits(
    *, programme: Programme, actor: User, ack_timeout_minutes: int, unanswered_limit_minutes: int
) -> AlertLimits:
    """New values apply to alerts acknowledged and messages sent from now on."""
    with transaction.atomic():
        locked = Programme.objects.select_for_update().get(pk=programme.pk)
        locked.ack_timeout = dt.timedelta(minutes=ack_timeout_minutes)
        locked.unanswered_limit = dt.timedelta(minutes=unanswered_limit_minutes)
        locked.save(update_fields=["ack_timeout", "unanswered_limit"])
        details: dict[str, Any] = {
            "ack_timeout_minutes": ack_timeout_minutes,
            "unanswered_limit_minutes": unanswered_limit_minutes,
        }
        record_event(action="programme.alert_limits_set", actor=actor, target=f"programme:{locked.pk}", details=details)
    return alert_limits(locked)
