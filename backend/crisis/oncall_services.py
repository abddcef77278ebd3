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


def rotation_in(programme: Programme, rotation_id: int) -> OnCallRotation:
    rotation = OnCallRotation.objects.filter(pk=rotation_id, programme=programme).first()
    if rotation is None:
        raise Problem(status_code=404, slug="not-found", detail="No such rotation.")
    return rotation


def override_in(programme: Programme, override_id: int) -> OnCallOverride:
    override = OnCallOverride.objects.filter(pk=override_id, rotation__programme=programme).first()
    if override is None:
        raise Problem(status_code=404, slug="not-found", detail="No such override.")
    return override


def rotations_of(programme: Programme) -> list[OnCallRotation]:
    return list(OnCallRotation.objects.filter(programme=programme).order_by("pk"))


def overrides_of(programme: Programme, *, now: dt.datetime | None = None) -> list[OnCallOverride]:
    """The overrides not yet over, soonest first."""
    now = now or timezone.now()
    rows = OnCallOverride.objects.filter(rotation__programme=programme, ends_at__gt=now)
    return list(rows.order_by("starts_at", "pk"))


def update_rotation(
    *,
    programme: Programme,
    actor: User,
    rotation_id: int,
    name: str,
    members: list[int],
    start_date: dt.date,
    handoff_time: dt.time,
    shift_days: int,
    timezone: str,
) -> OnCallRotation:
    rotation = rotation_in(programme, rotation_id)
    _require_programme_staff(programme, members, "members")
    with transaction.atomic():
        rotation.name, rotation.members, rotation.start_date = name, members, start_date
        rotation.handoff_time, rotation.shift_days, rotation.timezone = handoff_time, shift_days, timezone
        rotation.save()
        record_event(action="oncall.rotation_changed", actor=actor, details={"rotation": rotation.pk})
    return rotation


def delete_rotation(*, programme: Programme, actor: User, rotation_id: int) -> None:
    """Delete a rotation and its overrides."""
    rotation = rotation_in(programme, rotation_id)
    with transaction.atomic():
        record_event(action="oncall.rotation_deleted", actor=actor, details={"rotation": rotation.pk})
        rotation.delete()


def update_override(
    *,
    programme: Programme,
    actor: User,
    override_id: int,
    rotation: int,
    user: int,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
) -> OnCallOverride:
    override = override_in(programme, override_id)
    target = OnCallRotation.objects.filter(pk=rotation, programme=programme).first()
    if target is None:
        raise Problem(
            status_code=400, slug="validation", detail="No such rotation in this programme.", field="rotation"
        )
    _require_programme_staff(programme, [user], "user")
    with transaction.atomic():
        override.rotation, override.user_id, override.starts_at, override.ends_at = target, user, starts_at, ends_at
        override.save()
        record_event(action="oncall.override_changed", actor=actor, details={"override": override.pk})
    return override


def delete_override(*, programme: Programme, actor: User, override_id: int) -> None:
    override = override_in(programme, override_id)
    with transaction.atomic():
        record_event(action="oncall.override_deleted", actor=actor, details={"override": override.pk})
        override.delete()


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
