"""The alert queue's read: the alerts a staff member may see (``visible_alerts``: their
cases' and those they were notified of), each with whether they may open its case yet,
who was notified, and its timeline (the API's)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone

from backend.accounts.models import User
from backend.cases import policy
from backend.crisis import selectors as alert_selectors
from backend.crisis.models import Alert
from backend.inbox.people import display_name

UNRESOLVED = (Alert.State.OPEN, Alert.State.ACKNOWLEDGED)
RECENTLY_RESOLVED = dt.timedelta(hours=24)


@dataclass(frozen=True)
class AlertCard:
    alert: Alert
    may_read_case: bool  # a notified on-call worker may not, until they acknowledge
    notified: list[str]
    timeline: list[alert_selectors.TimelineEntry]
    people: dict[str, str]  # who acted on the timeline, by user id


def alert_cards(user: User, alerts: QuerySet[Alert]) -> list[AlertCard]:
    rows = list(alerts.select_related("case__defector").prefetch_related("recipients__user", "events"))
    readable = set(policy.visible_cases(user).values_list("pk", flat=True))
    timelines = alert_selectors.alert_timelines(rows)
    actor_ids = {entry["actor"] for timeline in timelines.values() for entry in timeline if entry["actor"]}
    people = {str(u.pk): display_name(u) for u in User.objects.filter(pk__in=actor_ids)}
    return [
        AlertCard(
            alert=alert,
            may_read_case=alert.case_id in readable,
            notified=[display_name(r.user) for r in alert.recipients.all()],
            timeline=timelines[alert.pk],
            people=people,
        )
        for alert in rows
    ]


def alert_queue(user: User) -> dict[str, list[AlertCard]]:
    """Open and acknowledged alerts, severity first; then what was resolved in the last
    day, so a colleague can see what was done."""
    visible = alert_selectors.visible_alerts(user)
    since = timezone.now() - RECENTLY_RESOLVED
    return {
        "rows": alert_cards(user, visible.filter(state__in=UNRESOLVED).order_by("-severity", "created_at")),
        "resolved": alert_cards(
            user, visible.filter(state=Alert.State.RESOLVED, resolved_at__gte=since).order_by("-resolved_at")[:20]
        ),
    }
