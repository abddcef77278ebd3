"""The escalation engine, run by every worker: due steps, ack timeouts, unanswered messages.

Workers claim alerts with ``SELECT … FOR UPDATE SKIP LOCKED`` and a lease; a worker killed
mid-step leaves a lease that expires, and another worker runs the step. Each step runs in
one transaction under the alert's row lock and re-checks the state first, so an alert
acknowledged after it was claimed is not notified again."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from backend import realtime
from backend.accounts.models import StaffRole
from backend.cases.models import CaseAssignment
from backend.crisis import oncall
from backend.crisis.models import Alert, AlertRecipient, OnCallOverride, OnCallRotation
from backend.crisis.services import add_event, alert_frame
from backend.push.services import enqueue_push

logger = logging.getLogger(__name__)
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
# After the policy's repeats run out, everyone is re-notified on this beat until a human answers.
EXHAUSTED_BEAT = dt.timedelta(minutes=15)


def lease_length() -> dt.timedelta:
    return dt.timedelta(seconds=settings.LIVLINA_ESCALATION_LEASE_SECONDS)


def claim_due_alerts(*, now: dt.datetime, owner: str = WORKER_ID, limit: int = 50) -> list[int]:
    with transaction.atomic():
        ids = list(
            Alert.objects.select_for_update(skip_locked=True)
            .filter(state=Alert.State.OPEN, next_step_at__lte=now)
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
            .order_by("-severity", "next_step_at")
            .values_list("pk", flat=True)[:limit]
        )
        if ids:
            Alert.objects.filter(pk__in=ids).update(lease_until=now + lease_length(), lease_owner=owner)
    return ids


def recipients_for(alert: Alert, action: str, *, now: dt.datetime) -> list[int]:
    case = alert.case
    contacts = list(CaseAssignment.objects.filter(case=case).values_list("staff_id", flat=True))
    if action == "notify_contacts":
        return sorted(contacts)
    on_call = oncall.on_call_at(
        OnCallRotation.objects.filter(programme_id=case.programme_id),
        OnCallOverride.objects.filter(rotation__programme_id=case.programme_id),
        now,
    )
    if action == "notify_on_call":
        return on_call
    supervisors = list(
        StaffRole.objects.filter(
            programme_id=case.programme_id, role=StaffRole.Role.SUPERVISOR, user__is_active=True
        ).values_list("user_id", flat=True)
    )
    if action == "notify_supervisors":
        return sorted(set(supervisors))
    if action == "notify_critical":
        return sorted(set(contacts) | set(on_call))
    return sorted(set(contacts) | set(on_call) | set(supervisors))  # notify_everyone


def notify(alert: Alert, action: str, *, now: dt.datetime) -> bool:
    """Notify the step's people; True if at least one phone was sent an alert."""
    users = recipients_for(alert, action, now=now)
    if not users:
        add_event(alert, "nobody_to_notify", action=action)
        return False
    # One statement for all of them; someone notified before keeps their first time.
    AlertRecipient.objects.bulk_create(
        [AlertRecipient(alert=alert, user_id=user_id, first_notified_at=now) for user_id in users],
        ignore_conflicts=True,
    )
    rows = enqueue_push(user_ids=users, kind="alert", high_priority=True, alert_id=alert.pk)
    add_event(alert, "notified" if rows else "nobody_reachable", action=action, users=users, pushes=len(rows))
    frame = alert_frame(alert)
    realtime.publish_many_on_commit((realtime.user_group(user_id), frame) for user_id in users)
    return bool(rows)


def _advance(alert: Alert, *, now: dt.datetime) -> None:
    """Run steps from the current one until a wait (or the end of the round). A wait
    after steps that reached no phone is skipped: nobody is waiting for an answer."""
    steps: list[dict[str, Any]] = alert.escalation.get("steps", [])
    repeat = int(alert.escalation.get("repeat", 1))
    if alert.round >= repeat or not steps:
        if not alert.escalation.get("exhausted"):
            add_event(alert, "escalation_exhausted", rounds=alert.round)
            alert.escalation = {**alert.escalation, "exhausted": True}
        notify(alert, "notify_everyone", now=now)
        alert.next_step_at = now + EXHAUSTED_BEAT
        return
    reached = False
    for _ in range(len(steps) + 1):
        step = steps[alert.step_index]
        alert.step_index += 1
        if alert.step_index >= len(steps):
            alert.step_index = 0
            alert.round += 1
        if step["action"] == "wait" and not reached:
            add_event(alert, "wait_skipped", reason="nobody was reached")
            continue
        if step["action"] == "wait":
            minutes = int(step.get("minutes", 5))
            add_event(alert, "waiting", minutes=minutes)
            alert.next_step_at = now + dt.timedelta(minutes=minutes)
            return
        reached = notify(alert, step["action"], now=now) or reached
        if alert.step_index == 0:
            alert.next_step_at = now  # the next round (or the steady beat) starts on the next pass
            return
    alert.next_step_at = now


def pause_for_fault_tests() -> None:
    """Testing only: hold a claimed step so a test can kill the worker mid-step."""
    pause = float(os.environ.get("LIVLINA_FAULT_PAUSE_AFTER_CLAIM", "0") or 0)
    if pause:
        time.sleep(pause)


def run_step(alert_id: int, *, owner: str = WORKER_ID) -> bool:
    pause_for_fault_tests()
    with transaction.atomic():
        alert = Alert.objects.select_for_update().select_related("case").filter(pk=alert_id).first()
        if alert is None or alert.state != Alert.State.OPEN or alert.lease_owner != owner:
            return False  # acknowledged, resolved, or the lease went to another worker
        now = timezone.now()
        _advance(alert, now=now)
        alert.lease_until, alert.lease_owner = None, ""
        alert.save(update_fields=["step_index", "round", "next_step_at", "lease_until", "lease_owner", "escalation"])
    return True


def reopen_unresolved(*, now: dt.datetime) -> int:
    """An acknowledged alert not resolved within the programme's ack timeout re-opens and
    escalates again."""
    reopened = 0
    with transaction.atomic():
        due = Alert.objects.select_for_update(skip_locked=True).filter(
            state=Alert.State.ACKNOWLEDGED, reopen_at__lte=now
        )
        for alert in due.select_related("case"):
            alert.state = Alert.State.OPEN
            alert.step_index = alert.round = 0
            alert.next_step_at, alert.reopen_at = now, None
            alert.escalation = {**alert.escalation, "exhausted": False}
            alert.save(update_fields=["state", "step_index", "round", "next_step_at", "reopen_at", "escalation"])
            add_event(alert, "reopened", reason="acknowledged but not resolved in time")
            reopened += 1
    return reopened


def run_escalations(*, owner: str = WORKER_ID, limit: int = 50) -> int:
    """Worker job: raise alerts for unanswered messages, re-open overdue
    acknowledgements, then run up to ``limit`` due steps. Returns how many it claimed."""
    from backend.crisis.unanswered import sweep_unanswered

    now = timezone.now()
    sweep_unanswered(now=now)
    reopen_unresolved(now=now)
    claimed = claim_due_alerts(now=now, owner=owner, limit=limit)
    for alert_id in claimed:
        try:
            run_step(alert_id, owner=owner)
        except Exception:
            # One bad alert must not hold up the others claimed with it; its lease
            # expires and the step is tried again.
            logger.exception("escalation step for alert %s failed", alert_id)
    return len(claimed)
