"""Who is on call at a moment, computed in the rotation's own time zone.

Handoffs happen at ``handoff_time`` local time, so a rotation that hands off at 08:00
does so at 08:00 in Stockholm on both sides of a DST change: the shift that spans the
change is an hour shorter or longer, and no moment has two people or nobody."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from backend.crisis.models import OnCallOverride, OnCallRotation


@dataclass(frozen=True)
class Shift:
    user_id: int | None
    starts_at: dt.datetime
    ends_at: dt.datetime


def handoff_at(rotation: OnCallRotation, index: int) -> dt.datetime:
    """The aware start of shift ``index`` (0 = the first)."""
    zone = ZoneInfo(rotation.timezone)
    day = rotation.start_date + dt.timedelta(days=index * rotation.shift_days)
    # A handoff time that does not exist on a spring-forward day (02:30) resolves to the
    # same instant as fold=0 gives: 03:30 summer time. Nothing is skipped or doubled.
    local = dt.datetime.combine(day, rotation.handoff_time, tzinfo=zone)
    return local.astimezone(dt.UTC)


def shift_index_at(rotation: OnCallRotation, at: dt.datetime) -> int | None:
    """Which shift covers ``at``, or None before the first handoff."""
    zone = ZoneInfo(rotation.timezone)
    local_day = at.astimezone(zone).date()
    index = (local_day - rotation.start_date).days // rotation.shift_days
    if handoff_at(rotation, index) > at:
        index -= 1
    return index if index >= 0 else None


def rotation_shift_at(rotation: OnCallRotation, at: dt.datetime) -> Shift | None:
    members: Sequence[int] = rotation.members or []
    index = shift_index_at(rotation, at)
    if index is None or not members:
        return None
    return Shift(members[index % len(members)], handoff_at(rotation, index), handoff_at(rotation, index + 1))


def on_call_at(rotations: Iterable[OnCallRotation], overrides: Iterable[OnCallOverride], at: dt.datetime) -> list[int]:
    """Everyone on call at ``at`` across a programme's rotations; an override replaces its
    rotation's member for its stretch."""
    by_rotation: dict[int, int] = {}
    for override in overrides:
        if override.starts_at <= at < override.ends_at:
            by_rotation[override.rotation_id] = override.user_id
    people: list[int] = []
    for rotation in rotations:
        if rotation.pk in by_rotation:
            people.append(by_rotation[rotation.pk])
            continue
        shift = rotation_shift_at(rotation, at)
        if shift is not None and shift.user_id is not None:
            people.append(shift.user_id)
    return sorted(set(people))


def gaps(
    rotations: Sequence[OnCallRotation], overrides: Sequence[OnCallOverride], start: dt.datetime, end: dt.datetime
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Stretches within [start, end) when nobody is on call."""
    boundaries = {start, end}
    for rotation in rotations:
        index = shift_index_at(rotation, start)
        index = 0 if index is None else index
        moment = handoff_at(rotation, index)
        while moment < end:
            if moment > start:
                boundaries.add(moment)
            index += 1
            moment = handoff_at(rotation, index)
    for override in overrides:
        for moment in (override.starts_at, override.ends_at):
            if start < moment < end:
                boundaries.add(moment)
    ordered = sorted(boundaries)
    found: list[tuple[dt.datetime, dt.datetime]] = []
    for begin, finish in itertools.pairwise(ordered):
        if not on_call_at(rotations, overrides, begin):
            if found and found[-1][1] == begin:
                found[-1] = (found[-1][0], finish)
            else:
                found.append((begin, finish))
    return found
