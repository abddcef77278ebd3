"""The escalation engine, run by every worker: due steps and ack timeouts.

Workers claim alerts with ``SELECT … FOR UPDATE SKIP LOCKED`` and a lease
(``jobs.claim_due_rows``); a worker killed mid-step leaves a lease that expires, and
another worker runs the step. Each step runs in one transaction under the alert's row
lock and re-checks the state first, so an alert acknowledged after it was claimed is not
notified again."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import socket
import uuid
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from backend import metrics, realtime
from backend.cases import policy
from backend.cases.models import CaseAssignment
from backend.crisis import oncall
from backend.crisis.models import Alert, AlertEvent, AlertRecipient, OnCallOverride, OnCallRotation, StepAction
from backend.crisis.services import alert_frame
from backend.jobs import Lease, claim_due_rows, run_in_bulk_else_one_by_one
from backend.push.models import PushKind
from backend.push.services import PushEvent, enqueue_pushes, live_devices_by_user

logger = logging.getLogger(__name__)
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
# After the policy's repeats run out, everyone is re-notified on this beat until a human answers.
EXHAUSTED_BEAT = dt.timedelta(minutes=15)


def lease_length() -> dt.timedelta:
    return dt.timedelta(seconds=settings.LIVLINA_ESCALATION_LEASE_SECONDS)


def claim_due_alerts(*, now: dt.datetime, owner: str = WORKER_ID, limit: int = 50) -> list[int]:
    """Lease up to ``limit`` open alerts whose next step is due to ``owner``, highest
    severity first; the lease commits at once. Returns their ids."""
    claimed = claim_due_rows(
        Alert.objects.all(),
        due=Q(state=Alert.State.OPEN, next_step_at__lte=now),
        order_by=("-severity", "next_step_at"),
        limit=limit,
        lease=Lease(now=now, length=lease_length(), also={"lease_owner": owner}),
    )
    return [alert.pk for alert in claimed]


class StepWrites:
    """What one or more escalation steps write, gathered and written with one statement
    per table (``flush``), in the order the steps produced it. The people a step reaches
    (assignments, on-call, supervisors) and their phones are looked up once per batch."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now
        self.events: list[AlertEvent] = []
        self.recipients: list[AlertRecipient] = []
        self.pushes: list[PushEvent] = []
        self.frames: list[tuple[str, dict[str, Any]]] = []
        self._contacts: dict[int, list[int]] = {}
        self._on_call: dict[int, list[int]] = {}
        self._supervisors: dict[int, list[int]] = {}
        self._devices: dict[int, list[uuid.UUID]] = {}

    def prefetch(self, alerts: list[Alert]) -> None:
        """The assigned staff of every alert's case and their phones, in two queries."""
        case_ids = {alert.case_id for alert in alerts} - self._contacts.keys()
        for case_id in case_ids:
            self._contacts[case_id] = []
        for case_id, staff_id in CaseAssignment.objects.filter(case_id__in=case_ids).values_list("case_id", "staff_id"):
            self._contacts[case_id].append(staff_id)
        self.devices({staff for case_id in case_ids for staff in self._contacts[case_id]})

    def contacts(self, alert: Alert) -> list[int]:
        if alert.case_id not in self._contacts:
            self.prefetch([alert])
        return sorted(self._contacts[alert.case_id])

    def on_call(self, programme_id: int) -> list[int]:
        if programme_id not in self._on_call:
            self._on_call[programme_id] = oncall.on_call_at(
                OnCallRotation.objects.filter(programme_id=programme_id),
                OnCallOverride.objects.filter(rotation__programme_id=programme_id),
                self.now,
            )
        return self._on_call[programme_id]

    def supervisors(self, programme_id: int) -> list[int]:
        if programme_id not in self._supervisors:
            self._supervisors[programme_id] = policy.supervisor_ids(programme_id)
        return self._supervisors[programme_id]

    def devices(self, user_ids: set[int]) -> list[uuid.UUID]:
        """The live phones (with a push token) of ``user_ids``."""
        missing = user_ids - self._devices.keys()
        if missing:
            found = live_devices_by_user(missing)
            for user_id in missing:
                self._devices[user_id] = found.get(user_id, [])
        return [device for user_id in sorted(user_ids) for device in self._devices[user_id]]

    def without_phone(self, user_ids: list[int]) -> list[int]:
        """Those of ``user_ids`` (looked up by ``devices``) whom no push can reach."""
        return [user_id for user_id in user_ids if not self._devices.get(user_id)]

    def event(self, alert: Alert, kind: str, **detail: Any) -> None:
        self.events.append(AlertEvent(alert=alert, at=self.now, kind=kind, detail=detail))

    def flush(self) -> None:
        AlertRecipient.objects.bulk_create(self.recipients, ignore_conflicts=True)
        enqueue_pushes(self.pushes, devices_by_user=self._devices)
        AlertEvent.objects.bulk_create(self.events)
        realtime.publish_many_on_commit(self.frames)
        self.events, self.recipients, self.pushes, self.frames = [], [], [], []


def recipients_for(alert: Alert, action: str, *, now: dt.datetime, writes: StepWrites | None = None) -> list[int]:
    writes = writes or StepWrites(now)
    programme_id = alert.case.programme_id
    contacts = writes.contacts(alert)
    if action == StepAction.NOTIFY_CONTACTS:
        return contacts
    on_call = writes.on_call(programme_id)
    if action == StepAction.NOTIFY_ON_CALL:
        return on_call
    supervisors = writes.supervisors(programme_id)
    if action == StepAction.NOTIFY_SUPERVISORS:
        return supervisors
    if action == StepAction.NOTIFY_CRITICAL:
        return sorted(set(contacts) | set(on_call))
    return sorted(set(contacts) | set(on_call) | set(supervisors))  # StepAction.NOTIFY_EVERYONE


def notify(alert: Alert, action: str, *, now: dt.datetime, writes: StepWrites) -> bool:
    """Notify the step's people; True if at least one phone was sent an alert."""
    users = recipients_for(alert, action, now=now, writes=writes)
    if not users:
        writes.event(alert, "nobody_to_notify", action=action)
        return False
    # Someone notified before keeps their first time (the insert ignores conflicts).
    writes.recipients.extend(AlertRecipient(alert=alert, user_id=user_id, first_notified_at=now) for user_id in users)
    devices = writes.devices(set(users))
    writes.pushes.append(PushEvent(user_ids=users, kind=PushKind.ALERT, alert_id=alert.pk))
    writes.event(
        alert,
        "notified" if devices else "nobody_reachable",
        action=action,
        users=users,
        pushes=len(devices),
        unreachable=writes.without_phone(users),
    )
    frame = alert_frame(alert)
    writes.frames.extend((realtime.user_group(user_id), frame) for user_id in users)
    return bool(devices)


def _advance(alert: Alert, *, now: dt.datetime, writes: StepWrites) -> None:
    """Run steps from the current one until a wait (or the end of the round). A wait
    after steps that reached no phone is skipped: nobody is waiting for an answer."""
    steps: list[dict[str, Any]] = alert.escalation.get("steps", [])
    repeat = int(alert.escalation.get("repeat", 1))
    if alert.round >= repeat or not steps:
        if not alert.escalation.get("exhausted"):
            writes.event(alert, "escalation_exhausted", rounds=alert.round)
            alert.escalation = {**alert.escalation, "exhausted": True}
        notify(alert, StepAction.NOTIFY_EVERYONE, now=now, writes=writes)
        alert.next_step_at = now + EXHAUSTED_BEAT
        return
    reached = False
    for _ in range(len(steps) + 1):
        step = steps[alert.step_index]
        alert.step_index += 1
        if alert.step_index >= len(steps):
            alert.step_index = 0
            alert.round += 1
        if step["action"] == StepAction.WAIT and not reached:
            writes.event(alert, "wait_skipped", reason="nobody was reached")
            continue
        if step["action"] == StepAction.WAIT:
            minutes = int(step.get("minutes", 5))
            writes.event(alert, "waiting", minutes=minutes)
            alert.next_step_at = now + dt.timedelta(minutes=minutes)
            return
        reached = notify(alert, step["action"], now=now, writes=writes) or reached
        if alert.step_index == 0:
            alert.next_step_at = now  # the next round (or the steady beat) starts on the next pass
            return
    alert.next_step_at = now


STEP_FIELDS = ["step_index", "round", "next_step_at", "lease_until", "lease_owner", "escalation"]


def run_step(alert_id: int, *, owner: str = WORKER_ID) -> bool:
    """``run_steps`` for one alert: whether it took a step."""
    return run_steps([alert_id], owner=owner) == 1


def run_steps(alert_ids: list[int], *, owner: str = WORKER_ID) -> int:
    """Run the next escalation steps of alerts ``owner`` claimed: the batch in one
    transaction, its writes a few statements however many alerts it holds, so a crowd of
    new alerts reaches phones a batch at a time. Each step runs under the alert's row
    lock and re-checks its state and lease, so an alert acknowledged (or resolved, or
    taken over by another worker) since the claim is left alone. Should the batch fail,
    each alert is stepped in a transaction of its own, so one bad alert never holds up the
    others; a failing one keeps its lease and is tried again once it expires. Returns how
    many alerts took a step."""
    stepped = run_in_bulk_else_one_by_one(
        alert_ids,
        bulk=lambda batch: _step(batch, owner=owner),
        what="escalation step for alert",
        logger=logger,
    )
    return sum(outcome is True for outcome in stepped)


def _step(alert_ids: Sequence[int], *, owner: str) -> list[bool]:
    alerts = list(
        Alert.objects.select_for_update(of=("self",)).select_related("case").filter(pk__in=alert_ids).order_by("pk")
    )
    # Acknowledged, resolved, or the lease went to another worker: nothing to do.
    mine = [alert for alert in alerts if alert.state == Alert.State.OPEN and alert.lease_owner == owner]
    writes = StepWrites(timezone.now())
    writes.prefetch(mine)
    for alert in mine:
        if alert.next_step_at is not None:
            lag = max((writes.now - alert.next_step_at).total_seconds(), 0.0)
            transaction.on_commit(functools.partial(metrics.ESCALATION_STEP_LAG_SECONDS.observe, lag))
        _advance(alert, now=writes.now, writes=writes)
        alert.lease_until, alert.lease_owner = None, ""
    writes.flush()
    Alert.objects.bulk_update(mine, STEP_FIELDS)
    stepped = {alert.pk for alert in mine}
    return [alert_id in stepped for alert_id in alert_ids]


def reopen_unresolved(*, now: dt.datetime) -> int:
    """An acknowledged alert not resolved within the programme's ack timeout re-opens and
    escalates again."""
    reopened = 0
    with transaction.atomic():
        due = claim_due_rows(
            Alert.objects.select_related("case"),
            due=Q(state=Alert.State.ACKNOWLEDGED, reopen_at__lte=now),
            order_by=("reopen_at",),
            lock_only_self=True,
        )
        for alert in due:
            alert.state = Alert.State.OPEN
            alert.step_index = alert.round = 0
            alert.next_step_at, alert.reopen_at = now, None
            alert.escalation = {**alert.escalation, "exhausted": False}
            alert.save(update_fields=["state", "step_index", "round", "next_step_at", "reopen_at", "escalation"])
            AlertEvent.objects.create(
                alert=alert, at=now, kind="reopened", detail={"reason": "acknowledged but not resolved in time"}
            )
            reopened += 1
    return reopened


def run_escalations(*, owner: str = WORKER_ID, limit: int = 50) -> int:
    """Worker job: re-open overdue acknowledgements, then run up to ``limit`` due steps.
    Returns how many it claimed."""
    now = timezone.now()
    reopen_unresolved(now=now)
    claimed = claim_due_alerts(now=now, owner=owner, limit=limit)
    run_steps(claimed, owner=owner)
    return len(claimed)
