"""When a schedule's check-ins fall, computed in the schedule's own time zone.

RRULEs are expanded on local wall-clock time and each occurrence is then placed in the
zone (``fold=0``). So a daily 21:00 stays at 21:00 local across DST; a daily 02:30 still
happens once on the spring-forward day (the missing 02:30 is read as 03:30 summer time)
and once, not twice, on the autumn day (the first 02:30)."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

MIN_INTERVAL = dt.timedelta(minutes=15)


def parse_rule(text: str, *, dtstart: dt.datetime, zone: str) -> rrule:
    """Raises ValueError for anything dateutil cannot read as one RRULE."""
    local_start = dtstart.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[6:]
    if not body or "\n" in body or "DTSTART" in body.upper():
        raise ValueError("give one RRULE line, without DTSTART")
    rule = rrulestr(body, dtstart=local_start)
    if not isinstance(rule, rrule):
        raise ValueError("give one RRULE, not a set")
    return rule


def next_occurrence(*, rule_text: str, dtstart: dt.datetime, zone: str, after: dt.datetime) -> dt.datetime | None:
    """The first occurrence strictly after ``after`` (aware, UTC), or None when the rule ends."""
    tz = ZoneInfo(zone)
    if not rule_text:
        return dtstart if dtstart > after else None
    rule = parse_rule(rule_text, dtstart=dtstart, zone=zone)
    local_after = after.astimezone(tz).replace(tzinfo=None)
    while True:
        candidate = rule.after(local_after, inc=False)
        if candidate is None:
            return None
        placed = candidate.replace(tzinfo=tz).astimezone(dt.UTC)
        if placed > after:
            return placed
        # An occurrence inside the repeated autumn hour can map to an instant we passed.
        local_after = candidate


def occurrences_from(
    *, rule_text: str, dtstart: dt.datetime, zone: str, first: dt.datetime, count: int
) -> list[dt.datetime]:
    """Up to ``count`` occurrences (aware, UTC) from ``first`` on, ``first`` included: a
    schedule's next ``count`` check-ins, ``first`` being its ``next_due_at``."""
    found: list[dt.datetime] = []
    moment: dt.datetime | None = first
    while moment is not None and len(found) < count:
        found.append(moment)
        if not rule_text:
            break
        moment = next_occurrence(rule_text=rule_text, dtstart=dtstart, zone=zone, after=moment)
    return found


def shortest_gap(*, rule_text: str, dtstart: dt.datetime, zone: str, samples: int = 50) -> dt.timedelta | None:
    rule = parse_rule(rule_text, dtstart=dtstart, zone=zone)
    times = []
    for occurrence in rule:
        times.append(occurrence)
        if len(times) >= samples:
            break
    gaps = [b - a for a, b in itertools.pairwise(times)]
    return min(gaps) if gaps else None
