"""Who is on call now, and the coverage gaps of the next 14 days, in plain words for each
programme the staff member works in."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from backend.accounts.models import Programme, User
from backend.cases import policy
from backend.crisis import oncall_services
from backend.inbox.people import display_name


@dataclass(frozen=True)
class Coverage:
    programme: Programme
    on_call_now: list[str]
    unreachable: list[str]  # on call now, but no push reaches their phone
    gaps: list[tuple[dt.datetime, dt.datetime]]


def coverage_of(programme: Programme) -> Coverage:
    overview = oncall_services.on_call_overview(programme)
    people = {u.pk: display_name(u) for u in User.objects.filter(pk__in=overview["on_call_now"])}
    unreachable = [
        d["user_id"] for d in overview["warning_details"] if d["code"] == "on_call_unreachable" and d["user_id"]
    ]
    return Coverage(
        programme=programme,
        on_call_now=[people[pk] for pk in overview["on_call_now"] if pk in people],
        unreachable=[people[pk] for pk in unreachable if pk in people],
        gaps=[(gap["starts_at"], gap["ends_at"]) for gap in overview["gaps"]],
    )


def coverage_for(user: User) -> list[Coverage]:
    candidates = Programme.objects.filter(staff_roles__user=user).distinct().order_by("name")
    return [coverage_of(p) for p in candidates if policy.works_in_programme(user, p.pk)]
