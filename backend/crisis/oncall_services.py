"""On-call rotations and overrides: adding them (supervisors), and the overview of who
is on call now and where nobody is. The maths is ``crisis.oncall``."""

from __future__ import annotations

import datetime as dt
from typing import TypedDict

from django.db import transaction
from django.utils import timezone

from backend.accounts.models import Programme, User
from backend.audit.services import record_event
from backend.cases.policy import programme_staff_ids
from backend.crisis import oncall
from backend.crisis.models import OnCallOverride, OnCallRotation
from backend.problems import Problem

GAP_HORIZON = dt.timedelta(days=14)


class OnCallGap(TypedDict):
    starts_at: dt.datetime
    ends_at: dt.datetime


class OnCallOverview(TypedDict):
    on_call_now: list[int]
    gaps: list[OnCallGap]
    warnings: list[str]


def _require_programme_staff(programme: Programme, user_ids: list[int], field: str) -> None:
    known = programme_staff_ids(programme.pk, user_ids)
    missing = [uid for uid in user_ids if uid not in known]
    if missing:
        raise Problem(
            status_code=400, slug="validation", detail=f"Not staff in this programme: {missing}.", field=field
        )


def add_rotation(
    *,
    programme: Programme,
    actor: User,
    name: str,
    members: list[int],
    start_date: dt.date,
    handoff_time: dt.time,
    shift_days: int,
    timezone: str,
) -> OnCallRotation:
    _require_programme_staff(programme, members, "members")
    with transaction.atomic():
        rotation = OnCallRotation.objects.create(
            programme=programme,
            name=name,
            members=members,
            start_date=start_date,
            handoff_time=handoff_time,
            shift_days=shift_days,
            timezone=timezone,
        )
        record_event(action="oncall.rotation_added", actor=actor, details={"rotation": rotation.pk})
    return rotation


def add_override(
    *, programme: Programme, actor: User, rotation: int, user: int, starts_at: dt.datetime, ends_at: dt.datetime
) -> OnCallOverride:
    target = OnCallRotation.objects.filter(pk=rotation, programme=programme).first()
    if target is None:
        raise Problem(
            status_code=400, slug="validation", detail="No such rotation in this programme.", field="rotation"
        )
    _require_programme_staff(programme, [user], "user")
    with transaction.atomic():
        override = OnCallOverride.objects.create(rotation=target, user_id=user, starts_at=starts_at, ends_at=ends_at)
        record_event(action="oncall.override_added", actor=actor, details={"override": override.pk})
    return override


def on_call_overview(programme: Programme, *, now: dt.datetime | None = None) -> OnCallOverview:
    now = now or timezone.now()
    rotations = list(OnCallRotation.objects.filter(programme=programme))
    overrides = list(OnCallOverride.objects.filter(rotation__programme=programme, ends_at__gt=now))
    found = oncall.gaps(rotations, overrides, now, now + GAP_HORIZON)
    warnings = [f"Nobody is on call from {start.isoformat()} to {end.isoformat()}." for start, end in found]
    return OnCallOverview(
        on_call_now=oncall.on_call_at(rotations, overrides, now),
        gaps=[OnCallGap(starts_at=start, ends_at=end) for start, end in found],
        warnings=warnings,
    )
