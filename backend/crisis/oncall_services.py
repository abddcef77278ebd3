"""On-call rotations and overrides: adding them (supervisors), and the overview of who
is on call now and where nobody is. The maths is ``crisis.oncall``."""

from __future__ import annotations

import datetime as dt
from typing import TypedDict

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from backend.accounts.models import Programme, User
from backend.audit.services import record_event
from backend.cases.policy import programme_staff_ids
from backend.crisis import oncall
from backend.crisis.models import OnCallOverride, OnCallRotation
from backend.problems import Problem
from backend.push.reachability import unreachable_users

GAP_HORIZON = dt.timedelta(days=14)


class OnCallGap(TypedDict):
    starts_at: dt.datetime
    ends_at: dt.datetime


class CoverageWarning(TypedDict):
    """One warning, machine-readable: ``code`` is ``nobody_on_call`` (with the stretch) or
    ``on_call_unreachable`` (with the staff member and ``push.reachability.Unreachable``)."""

    code: str
    text: str
    user_id: int | None
    reason: str | None
    starts_at: dt.datetime | None
    ends_at: dt.datetime | None


class OnCallOverview(TypedDict):
    on_call_now: list[int]
    gaps: list[OnCallGap]
    warnings: list[str]  # the texts of ``warning_details``, in the same order
    warning_details: list[CoverageWarning]


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
    on_call_now = oncall.on_call_at(rotations, overrides, now)
    details = unreachable_on_call(on_call_now) + [
        CoverageWarning(
            code="nobody_on_call",
            text=gettext("Nobody is on call from %(start)s to %(end)s.")
            % {"start": start.isoformat(), "end": end.isoformat()},
            user_id=None,
            reason=None,
            starts_at=start,
            ends_at=end,
        )
        for start, end in found
    ]
    return OnCallOverview(
        on_call_now=on_call_now,
        gaps=[OnCallGap(starts_at=start, ends_at=end) for start, end in found],
        warnings=[detail["text"] for detail in details],
        warning_details=details,
    )


class UnreachableOnCall(TypedDict):
    programme_id: int
    user_id: int
    reason: str


def unreachable_on_call_everywhere(*, now: dt.datetime | None = None) -> list[UnreachableOnCall]:
    """Every staff member on call now, in any programme, whose phone no push can reach,
    with the reason (``push.reachability.Unreachable``): what a readiness metric counts.
    Three queries, however many programmes."""
    now = now or timezone.now()
    rotations: dict[int, list[OnCallRotation]] = {}
    for rotation in OnCallRotation.objects.all():
        rotations.setdefault(rotation.programme_id, []).append(rotation)
    overrides: dict[int, list[OnCallOverride]] = {}
    for override in OnCallOverride.objects.filter(ends_at__gt=now, starts_at__lte=now).select_related("rotation"):
        overrides.setdefault(override.rotation.programme_id, []).append(override)
    on_call = {
        programme_id: oncall.on_call_at(programme_rotations, overrides.get(programme_id, []), now)
        for programme_id, programme_rotations in rotations.items()
    }
    unreachable = unreachable_users({user_id for users in on_call.values() for user_id in users})
    return [
        UnreachableOnCall(programme_id=programme_id, user_id=user_id, reason=str(unreachable[user_id]))
        for programme_id, users in sorted(on_call.items())
        for user_id in users
        if user_id in unreachable
    ]


def unreachable_on_call(on_call_now: list[int]) -> list[CoverageWarning]:
    """A warning for each staff member on call now whose phone no push can reach (none
    enrolled, its token dead or missing): escalation still notifies them (the alert's
    timeline says ``nobody_reachable``), but their phone will not ring."""
    unreachable = unreachable_users(on_call_now)
    if not unreachable:
        return []
    names = {user.pk: user.get_full_name() or user.username for user in User.objects.filter(pk__in=unreachable)}
    return [
        CoverageWarning(
            code="on_call_unreachable",
            text=gettext("%(name)s is on call but cannot be reached by phone.") % {"name": names.get(user_id, "?")},
            user_id=user_id,
            reason=str(reason),
            starts_at=None,
            ends_at=None,
        )
        for user_id, reason in unreachable.items()
    ]
