"""Access-checked reads of alerts. Defectors never see alerts (a duress alert must never
reach the defector's own devices); staff see alerts of cases they may see and alerts
they were notified of."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TypedDict

from django.db.models import Q, QuerySet

from backend.accounts.models import User
from backend.cases import policy
from backend.cases.models import Case
from backend.crisis.models import Alert
from backend.problems import Problem
from backend.push.models import PushAttempt, PushOutbox


def visible_alerts(user: User) -> QuerySet[Alert]:
    if not user.is_staff_member or not user.is_active:
        return Alert.objects.none()
    return Alert.objects.filter(Q(case__in=policy.visible_cases(user)) | Q(recipients__user=user)).distinct()


def case_alerts(case: Case) -> QuerySet[Alert]:
    """Every alert of a case a staff member has read through an access-checked read
    (``case_for_reading``, ``open_case_for_reading``): the alerts of a case they may see
    are all visible to them, so this is ``visible_alerts`` for that case, without asking
    again who may see it."""
    return Alert.objects.filter(case=case)


def alert_for(user: User, alert_id: int) -> Alert:
    alert = visible_alerts(user).select_related("case").filter(pk=alert_id).first()
    if alert is None:
        raise Problem(status_code=404, slug="not-found", detail="No such alert.")
    return alert


class TimelineEntry(TypedDict):
    at: dt.datetime
    event: str
    actor: int | None
    detail: dict[str, object]


def alert_timeline(alert: Alert) -> list[TimelineEntry]:
    """The alert's timeline, oldest first: its own events, every push attempt with its
    outcome (``push.sent``, ``push.retry``, ``push.token_dead`` …), and pushes still
    waiting. Shaped by ``crisis.outputs.TimelineItem``."""
    return alert_timelines([alert])[alert.pk]


def alert_timelines(alerts: Sequence[Alert]) -> dict[int, list[TimelineEntry]]:
    """``alert_timeline`` of each alert, by id, in the same few queries however many
    alerts there are (the alert queue shows dozens). Prefetch ``events`` to spare one
    query per alert."""
    timelines = {
        alert.pk: [TimelineEntry(at=e.at, event=e.kind, actor=e.actor_id, detail=e.detail) for e in alert.events.all()]
        for alert in alerts
    }
    attempts = PushAttempt.objects.filter(outbox__alert__in=list(timelines)).select_related("outbox").order_by("pk")
    for attempt in attempts:
        assert attempt.outbox.alert_id is not None  # filtered on it
        detail = {"device": str(attempt.device_id), "attempt": attempt.number, "error": attempt.detail}
        timelines[attempt.outbox.alert_id].append(
            TimelineEntry(at=attempt.at, event=f"push.{attempt.outcome}", actor=None, detail=detail)
        )
    waiting = PushOutbox.objects.filter(alert__in=list(timelines), state=PushOutbox.State.PENDING, attempts=0)
    for push in waiting.order_by("pk"):
        assert push.alert_id is not None  # filtered on it
        timelines[push.alert_id].append(
            TimelineEntry(at=push.created_at, event="push.queued", actor=None, detail={"device": str(push.device_id)})
        )
    for timeline in timelines.values():
        timeline.sort(key=lambda item: item["at"])
    return timelines
