"""Alerts, their timelines, escalation policies and on-call schedules."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q


class Alert(models.Model):
    class Kind(models.TextChoices):
        KEYWORD = "keyword"
        MISSED_CHECKIN = "missed_checkin"
        DURESS = "duress"
        PANIC = "panic"
        UNANSWERED = "unanswered"
        NEED_CONTACT = "need_contact"
        DANGER = "danger"

    class Severity(models.IntegerChoices):
        # Ordered, so "higher severity" is a comparison.
        NORMAL = 1, "normal"
        HIGH = 2, "high"
        CRITICAL = 3, "critical"

    class State(models.TextChoices):
        OPEN = "open"
        ACKNOWLEDGED = "acknowledged"
        RESOLVED = "resolved"

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=32)
    severity = models.PositiveSmallIntegerField(choices=Severity.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN)
    categories = models.JSONField(default=list, blank=True)
    trigger_count = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution_note = models.TextField(blank=True, default="")
    # Escalation state: the policy as it was when escalation started (a snapshot), where
    # it is, when the next step is due, and the lease of the worker running it.
    escalation = models.JSONField(default=dict)
    step_index = models.PositiveIntegerField(default=0)
    round = models.PositiveIntegerField(default=0)
    next_step_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=64, blank=True, default="")
    reopen_at = models.DateTimeField(null=True, blank=True, help_text="ack timeout: re-open if not resolved")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["case", "kind"], condition=~Q(state="resolved"), name="one_unresolved_alert_per_case_kind"
            )
        ]
        indexes = [
            models.Index(fields=["state", "next_step_at"]),
            models.Index(fields=["state", "reopen_at"]),
        ]

    @property
    def severity_name(self) -> str:
        return self.Severity(self.severity).label


class AlertEvent(models.Model):
    """The alert's timeline: everything that happened to it, in order."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    kind = models.CharField(max_length=32)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "pk"]


class AlertRecipient(models.Model):
    """Staff who were notified of an alert: they may see it (and, once they acknowledge,
    its case) even when they are not assigned to the case."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="recipients")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    first_notified_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["alert", "user"], name="unique_alert_recipient")]


class EscalationPolicy(models.Model):
    """A programme's escalation: ordered steps, repeated from the top ``repeat`` times.

    Steps are ``{"action": "notify_contacts" | "notify_on_call" | "notify_supervisors"}``
    or ``{"action": "wait", "minutes": N}``."""

    programme = models.OneToOneField("accounts.Programme", on_delete=models.CASCADE, related_name="escalation_policy")
    steps = models.JSONField()
    repeat = models.PositiveSmallIntegerField(default=3)
    updated_at = models.DateTimeField(auto_now=True)


class OnCallRotation(models.Model):
    """Members take turns: each shift lasts ``shift_days`` and hands off at ``handoff_time``
    local time in ``timezone``, starting on ``start_date`` with the first member."""

    programme = models.ForeignKey("accounts.Programme", on_delete=models.CASCADE, related_name="rotations")
    name = models.CharField(max_length=100)
    members = models.JSONField(help_text="ordered list of user ids")
    start_date = models.DateField()
    handoff_time = models.TimeField(default=dt.time(8, 0))
    shift_days = models.PositiveSmallIntegerField(default=7)
    timezone = models.CharField(max_length=64, default="Europe/Stockholm")


class OnCallOverride(models.Model):
    """One person covers a single stretch of time instead of the rotation."""

    rotation = models.ForeignKey(OnCallRotation, on_delete=models.CASCADE, related_name="overrides")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()


class WorkingHours(models.Model):
    """When a contact person is at work (outside it, an unanswered message alerts at once)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="working_hours")
    weekdays = models.JSONField(default=list, help_text="ISO weekdays, 1 = Monday")
    start = models.TimeField(default=dt.time(8, 0))
    end = models.TimeField(default=dt.time(17, 0))
    timezone = models.CharField(max_length=64, default="Europe/Stockholm")


class UnansweredCheck(models.Model):
    """Due when a defector message must have been read by staff."""

    conversation = models.ForeignKey("messaging.Conversation", on_delete=models.CASCADE, related_name="+")
    seq = models.PositiveBigIntegerField()
    due_at = models.DateTimeField(db_index=True)


from backend.crisis.phrase_lists import *  # noqa: E402,F403
