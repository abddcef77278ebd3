"""Alerts: raising, acknowledging, resolving. Other apps raise alerts inside their own
transaction through ``raise_alerts`` (many causes at once) or ``raise_alert`` (one cause,
the same implementation)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from backend import realtime
from backend.accounts.models import User
from backend.audit.services import AuditEvent, record_event, record_events
from backend.cases import policy
from backend.cases.models import AccessGrant, Case, CaseAssignment
from backend.cases.services import end_alert_access, grant_alert_access
from backend.crisis.escalation_policies import DEFAULT_REPEAT, DEFAULT_STEPS
from backend.crisis.models import Alert, AlertEvent, EscalationPolicy, StepAction
from backend.crisis.outputs import alert_notice
from backend.crisis.severity import Severity
from backend.jobs import run_in_bulk_else_one_by_one
from backend.problems import Problem

logger = logging.getLogger(__name__)


# The longest acknowledgement note and resolution note kept (the API refuses longer ones).
NOTE_MAX_CHARS = 2000
RESOLUTION_MAX_CHARS = 4000


def _rank(severity: str) -> int:
    """The rank an alert stores for a ``Severity`` (or its name)."""
    try:
        return Severity(severity).rank
    except ValueError:
        raise ValueError(f"unknown severity {severity!r}") from None


def _merged_reasons(known: list[dict[str, str]], new: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    pairs = {(reason["category"], reason["rule"]) for reason in known} | set(new)
    return [{"category": category, "rule": rule} for category, rule in sorted(pairs)]


def alert_ref(alert: Alert) -> str:
    return f"alert:{alert.pk}"


def add_event(alert: Alert, kind: str, *, actor: User | None = None, **detail: Any) -> AlertEvent:
    return AlertEvent.objects.create(alert=alert, at=timezone.now(), kind=kind, actor=actor, detail=detail)


def policy_snapshot(case: Case, severity: int) -> dict[str, Any]:
    """The programme's policy as it is now, copied onto the alert so later edits do not
    change a running escalation. Critical alerts reach the contact persons and whoever is
    on call at once, before the ordinary steps."""
    return _snapshot_of(EscalationPolicy.objects.filter(programme_id=case.programme_id).first(), severity)


def _snapshot_of(policy: EscalationPolicy | None, severity: int) -> dict[str, Any]:
    steps = list(policy.steps) if policy else list(DEFAULT_STEPS)
    repeat = policy.repeat if policy else DEFAULT_REPEAT
    if severity == Severity.CRITICAL.rank:
        # notify_critical already covers the contact persons and on-call staff: drop the
        # policy's own notifications of them before its first wait, so nobody gets two.
        first_wait = next((i for i, step in enumerate(steps) if step["action"] == StepAction.WAIT), len(steps))
        covered = {StepAction.NOTIFY_CONTACTS, StepAction.NOTIFY_ON_CALL}
        head = [s for s in steps[:first_wait] if s["action"] not in covered]
        steps = [{"action": StepAction.NOTIFY_CRITICAL}, *head, *steps[first_wait:]]
    return {"steps": steps, "repeat": repeat}


def alert_frame(alert: Alert, frame_type: str = "alert.new") -> dict[str, Any]:
    """What a staff socket gets: no message text, no names (``outputs.AlertNoticeOutput``)."""
    return {"type": frame_type, "alert": alert_notice(alert)}


def publish_to_case_staff(alert: Alert, frame_type: str) -> None:
    """To every staff member who may see the alert: those who may see the case, and
    those who were notified of it. Never to the defector."""
    staff = set(policy.staff_with_access_ids(alert.case))
    staff |= set(alert.recipients.values_list("user_id", flat=True))
    frame = alert_frame(alert, frame_type)
    for user_id in sorted(staff):
        realtime.publish_on_commit(realtime.user_group(user_id), frame)


@dataclass(frozen=True)
class AlertTrigger:
    """One cause of an alert, for ``raise_alerts``; the fields mean what ``raise_alert``'s
    arguments do."""

    case: Case
    kind: Alert.Kind
    severity: Severity
    categories: tuple[str, ...] = ()
    detail: dict[str, Any] | None = None
    # ``(category, rule)`` pairs that explain the alert (``ScanResult.reasons``).
    reasons: tuple[tuple[str, str], ...] = ()


def raise_alert(
    *,
    case: Case,
    kind: Alert.Kind,
    severity: Severity,
    categories: Iterable[str] = (),
    detail: dict[str, Any] | None = None,
) -> Alert:
    """Raise an alert, or add to the open one of the same case and kind: ``raise_alerts``
    with one cause. Call inside the caller's transaction: the alert exists exactly when its
    cause does. ``detail`` goes on the timeline; never put message text in it."""
    (alert,) = raise_alerts(
        [AlertTrigger(case=case, kind=kind, severity=severity, categories=tuple(categories), detail=detail)]
    )
    return alert


def raise_alerts(triggers: Sequence[AlertTrigger]) -> list[Alert]:
    """Raise an alert for each cause, or add to the unresolved one of its case and kind
    (one unresolved alert per case and kind): the first cause opens it, each later one
    retriggers it; a higher severity raises it, and any critical trigger re-opens it and
    escalates at once, contact persons and on-call first. Call inside the caller's
    transaction. Returns the alerts in the order of ``triggers``.

    New alerts, their ``raised`` events and audit entries are written with one statement
    each, so a crowd of missed check-ins costs a few queries per batch. Should another
    transaction open one of these alerts meanwhile, the new ones are raised one by one,
    each adding to the alert that now exists."""
    for trigger in triggers:
        _rank(trigger.severity)
    if not triggers:
        return []
    with transaction.atomic():
        now = timezone.now()
        existing = {
            (alert.case_id, alert.kind): alert
            for alert in _unresolved({t.case.pk for t in triggers}, {t.kind for t in triggers}).order_by("pk")
        }
        results: dict[int, Alert] = {}
        fresh: list[tuple[int, AlertTrigger]] = []
        again: list[tuple[int, AlertTrigger]] = []
        opening: set[tuple[int, str]] = set()
        for index, trigger in enumerate(triggers):
            key = (trigger.case.pk, trigger.kind)
            if key in existing:
                results[index] = _retrigger(existing[key], trigger, now=now)
            elif key in opening:
                again.append((index, trigger))  # a later cause for an alert this batch opens
            else:
                opening.add(key)
                fresh.append((index, trigger))
        # In one order everywhere, so two sweeps inserting for the same cases never deadlock.
        fresh.sort(key=lambda pair: (pair[1].case.pk, pair[1].kind))
        opened = run_in_bulk_else_one_by_one(
            [trigger for _, trigger in fresh],
            bulk=lambda batch: _create_alerts(batch, now=now),
            single=lambda trigger: _raise_alone(trigger, now=now),
            what="alert",
            logger=logger,
            race=IntegrityError,
            isolate=False,
        )
        for (index, trigger), alert in zip(fresh, opened, strict=True):
            assert isinstance(alert, Alert)  # isolate=False: a failure propagates instead
            results[index] = existing[(trigger.case.pk, trigger.kind)] = alert
        for index, trigger in again:
            results[index] = _retrigger(existing[(trigger.case.pk, trigger.kind)], trigger, now=now)
    return [results[index] for index in range(len(triggers))]


def _unresolved(case_ids: set[int], kinds: set[str]) -> QuerySet[Alert]:
    """The unresolved alerts of these cases and kinds, locked (their own rows only)."""
    return (
        Alert.objects.select_for_update(of=("self",))
        .filter(case_id__in=case_ids, kind__in=kinds)
        .exclude(state=Alert.State.RESOLVED)
        .select_related("case")
    )


def _raise_alone(trigger: AlertTrigger, *, now: dt.datetime) -> Alert:
    """One new alert on its own, after its batch lost a race: add to the unresolved alert
    another transaction opened meanwhile, or open it (and should yet another open it at
    the same moment, add to theirs)."""
    existing = _unresolved({trigger.case.pk}, {trigger.kind}).first()
    if existing is None:
        try:
            with transaction.atomic():
                (alert,) = _create_alerts([trigger], now=now)
                return alert
        except IntegrityError:
            existing = _unresolved({trigger.case.pk}, {trigger.kind}).get()
    return _retrigger(existing, trigger, now=now)


def _create_alerts(triggers: Sequence[AlertTrigger], *, now: dt.datetime) -> list[Alert]:
    """New alerts with their ``raised`` events and audit entries, in a few statements."""
    programme_ids = {t.case.programme_id for t in triggers}
    policies = {p.programme_id: p for p in EscalationPolicy.objects.filter(programme_id__in=programme_ids)}
    alerts = Alert.objects.bulk_create(
        [
            Alert(
                case=t.case,
                kind=t.kind,
                severity=_rank(t.severity),
                categories=sorted(set(t.categories)),
                reasons=_merged_reasons([], t.reasons),
                created_at=now,
                updated_at=now,
                escalation=_snapshot_of(policies.get(t.case.programme_id), _rank(t.severity)),
                next_step_at=now,
            )
            for t in triggers
        ]
    )
    AlertEvent.objects.bulk_create(
        [
            AlertEvent(
                alert=alert,
                at=now,
                kind="raised",
                detail={
                    "severity": t.severity,
                    "categories": alert.categories,
                    **({"reasons": _merged_reasons([], t.reasons)} if t.reasons else {}),
                    **(t.detail or {}),
                },
            )
            for alert, t in zip(alerts, triggers, strict=True)
        ]
    )
    record_events(
        [
            AuditEvent(action="alert.raised", case_id=t.case.pk, target=alert_ref(alert), details={"kind": t.kind})
            for alert, t in zip(alerts, triggers, strict=True)
        ]
    )
    # Who may see each case, for all of them at once (a new alert has no recipients yet).
    case_ids = {alert.case_id for alert in alerts}
    staff: dict[int, set[int]] = {case_id: set() for case_id in case_ids}
    for case_id, staff_id in CaseAssignment.objects.filter(case_id__in=case_ids).values_list("case_id", "staff_id"):
        staff[case_id].add(staff_id)
    grants = AccessGrant.objects.filter(policy.active_grants(now=timezone.now()), case_id__in=case_ids)
    for case_id, staff_id in grants.values_list("case_id", "staff_id"):
        staff[case_id].add(staff_id)
    realtime.publish_many_on_commit(
        (realtime.user_group(user_id), alert_frame(alert, "alert.new"))
        for alert in alerts
        for user_id in sorted(staff[alert.case_id])
    )
    return alerts


def _retrigger(alert: Alert, trigger: AlertTrigger, *, now: dt.datetime) -> Alert:
    """Add a cause to the unresolved ``alert`` (locked by the caller)."""
    level = _rank(trigger.severity)
    alert.trigger_count += 1
    alert.categories = sorted(set(alert.categories) | set(trigger.categories))
    alert.reasons = _merged_reasons(alert.reasons, trigger.reasons)
    alert.updated_at = now
    explained: dict[str, Any] = {"reasons": _merged_reasons([], trigger.reasons)} if trigger.reasons else {}
    add_event(alert, "retriggered", severity=Severity.of_rank(level), **explained, **(trigger.detail or {}))
    if level > alert.severity:
        add_event(alert, "severity_raised", previous=alert.severity_name, severity=Severity.of_rank(level))
        alert.severity = level
    if level == Severity.CRITICAL.rank:
        # Every critical trigger (a second panic, duress again, a raise to critical) must
        # reach people at once, even when someone acknowledged the alert: re-open and
        # escalate from the top, contacts and on-call first.
        if alert.state == Alert.State.ACKNOWLEDGED:
            add_event(alert, "reopened", reason="critical trigger")
        alert.state = Alert.State.OPEN
        alert.escalation = policy_snapshot(alert.case, level)
        alert.step_index = alert.round = 0
        alert.next_step_at = now
        alert.reopen_at = None
    alert.save()
    publish_to_case_staff(alert, "alert.updated")
    return alert


def panic(*, user: User) -> None:
    """The panic button on the defector's phone: a critical alert for their case at once."""
    case = policy.case_of_defector(user.pk)
    if case is None:
        raise Problem(status_code=404, slug="not-found", detail="No case for this device.")
    with transaction.atomic():
        raise_alert(case=case, kind=Alert.Kind.PANIC, severity=Severity.CRITICAL)


def acknowledge_alert(*, alert: Alert, user: User, note: str = "") -> Alert:
    """A human has it: escalation stops at once (a step already claimed by a worker sees
    the new state under its row lock and does nothing). The acknowledger may read the
    case while the alert is unresolved. Idempotent for the same person."""
    with transaction.atomic():
        locked = Alert.objects.select_for_update(of=("self",)).select_related("case__programme").get(pk=alert.pk)
        if locked.state == Alert.State.RESOLVED:
            raise Problem(status_code=409, slug="alert-resolved", detail="The alert is already resolved.")
        if locked.state == Alert.State.ACKNOWLEDGED:
            return locked
        now = timezone.now()
        locked.state = Alert.State.ACKNOWLEDGED
        locked.acknowledged_at, locked.acknowledged_by = now, user
        locked.next_step_at = locked.lease_until = None
        locked.lease_owner = ""
        locked.reopen_at = now + locked.case.programme.ack_timeout
        locked.updated_at = now
        locked.save()
        add_event(locked, "acknowledged", actor=user, note=note[:NOTE_MAX_CHARS])
        if not CaseAssignment.objects.filter(case_id=locked.case_id, staff=user).exists():
            grant_alert_access(
                case=locked.case, staff=user, alert_ref=alert_ref(locked), reason=f"acknowledged {locked.kind}"
            )
        record_event(action="alert.acknowledged", actor=user, case_id=locked.case_id, target=alert_ref(locked))
        publish_to_case_staff(locked, "alert.updated")
    return locked


def resolve_alert(*, alert: Alert, user: User, note: str) -> Alert:
    """Close the alert with a note saying what was done. Ends alert-based access."""
    note = note.strip()
    if not note:
        raise Problem(status_code=400, slug="validation", detail="Say what was done.", field="note")
    with transaction.atomic():
        locked = Alert.objects.select_for_update().get(pk=alert.pk)
        if locked.state == Alert.State.RESOLVED:
            raise Problem(status_code=409, slug="alert-resolved", detail="The alert is already resolved.")
        now = timezone.now()
        locked.state = Alert.State.RESOLVED
        locked.resolved_at, locked.resolved_by, locked.resolution_note = now, user, note[:RESOLUTION_MAX_CHARS]
        locked.next_step_at = locked.lease_until = locked.reopen_at = None
        locked.lease_owner = ""
        locked.updated_at = now
        locked.save()
        add_event(locked, "resolved", actor=user)
        end_alert_access(alert_ref=alert_ref(locked))
        record_event(action="alert.resolved", actor=user, case_id=locked.case_id, target=alert_ref(locked))
        publish_to_case_staff(locked, "alert.updated")
    return locked
