"""Times and codes as Swedish (or English) staff read them: ``2026-12-01 23:04`` in the
inbox's zone, "för 5 min sedan", and the words for alert kinds and states."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

from django import template
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from backend.checkins.models import CheckinSchedule
from backend.inbox import labels
from backend.inbox.forms import WEEKDAYS

register = template.Library()


def _in_words(words: Mapping[str, Promise]) -> Callable[[str], str]:
    def show(code: str) -> str:
        return labels.in_words(words, code)

    return show


# The codes the API uses (kinds, severities, states, answers, timeline events), each a
# filter named after what it shows.
for _name, _words in {
    "alert_kind": labels.ALERT_KINDS,
    "severity": labels.SEVERITIES,
    "alert_state": labels.ALERT_STATES,
    "checkin_status": labels.CHECKIN_STATUSES,
    "checkin_answer": labels.CHECKIN_ANSWERS,
    "timeline_event": labels.TIMELINE_EVENTS,
    "case_state": labels.CASE_STATES,
    "transfer_state": labels.TRANSFER_STATES,
}.items():
    register.filter(_name, _in_words(_words))

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def _as_datetime(value: dt.datetime | str | None) -> dt.datetime | None:
    if isinstance(value, str):
        return parse_datetime(value)
    return value


@register.filter
def local_datetime(value: dt.datetime | str | None) -> str:
    """``2026-12-01 23:04`` in the inbox's time zone (active for every inbox page)."""
    moment = _as_datetime(value)
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else ""


@register.filter
def iso(value: dt.datetime | str | None) -> str:
    moment = _as_datetime(value)
    return moment.isoformat() if moment else ""


@register.filter
def age(value: dt.datetime | str | None) -> str:
    """How long ago, in words: "för 5 min sedan"."""
    moment = _as_datetime(value)
    if moment is None:
        return ""
    seconds = int((timezone.now() - moment).total_seconds())
    if seconds < MINUTE:
        return _("just now")
    if seconds < HOUR:
        minutes = seconds // MINUTE
        return ngettext("%(n)d min ago", "%(n)d min ago", minutes) % {"n": minutes}
    if seconds < DAY:
        hours = seconds // HOUR
        return ngettext("%(n)d hour ago", "%(n)d hours ago", hours) % {"n": hours}
    days = seconds // DAY
    return ngettext("%(n)d day ago", "%(n)d days ago", days) % {"n": days}


@register.filter
def reasons(found: list[dict[str, str]]) -> str:
    """Why a crisis-language alert was raised, for staff: each category with the rule that
    fired ("threat (threat_family)"), so a rule that is too eager can be named."""
    parts = []
    for reason in found:
        category = labels.in_words(labels.CATEGORIES, reason.get("category", ""))
        parts.append(f"{category} ({reason['rule']})" if reason.get("rule") else category)
    return ", ".join(dict.fromkeys(parts))


@register.filter
def name_of(names: Mapping[str, str], user_id: int | None) -> str:
    if user_id is None:
        return ""
    return names.get(str(user_id), _("Staff"))


@register.filter
def schedule_summary(schedule: CheckinSchedule) -> str:
    """ "Every day at 21:00", "Monday, Thursday at 09:30", "Once, 2026-12-05 10:00": the
    schedules the inbox's form makes, in words; any other rule as it is written."""
    if not schedule.rrule:
        return _("Once, %(when)s") % {"when": local_datetime(schedule.dtstart)}
    parts = dict(part.split("=", 1) for part in schedule.rrule.split(";") if "=" in part)
    try:
        at = f"{int(parts['BYHOUR']):02d}:{int(parts.get('BYMINUTE', '0')):02d}"
    except (KeyError, ValueError):
        return schedule.rrule
    if parts.get("FREQ") == "DAILY" and "BYDAY" not in parts:
        return _("Every day at %(time)s") % {"time": at}
    if parts.get("FREQ") == "WEEKLY" and "BYDAY" in parts:
        names = dict(WEEKDAYS)
        days = ", ".join(str(names[code]) for code in parts["BYDAY"].split(",") if code in names)
        return _("%(days)s at %(time)s") % {"days": days, "time": at}
    return schedule.rrule


@register.filter
def unread_label(count: int) -> str:
    return ngettext("%(n)s unread message", "%(n)s unread messages", count) % {"n": count}


@register.filter
def open_until(value: dt.datetime) -> str:
    return _("Open, closes %(until)s") % {"until": local_datetime(value)}
