"""Scheduled safety check-ins, their occurrences and answers; the defector's PINs."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class CheckinSchedule(models.Model):
    """An RFC 5545 recurrence (or a single time) in an IANA zone. ``next_due_at`` is the
    next occurrence not yet opened: the worker's sweep reads only schedules whose time has
    come, through an index, so it stays cheap however many schedules exist."""

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="checkin_schedules")
    rrule = models.TextField(blank=True, default="", help_text="empty for a one-off check-in")
    dtstart = models.DateTimeField(help_text="first occurrence (aware)")
    timezone = models.CharField(max_length=64)
    window_minutes = models.PositiveIntegerField()
    grace_minutes = models.PositiveIntegerField()
    reminder_minutes = models.PositiveIntegerField(default=10, help_text="reminder this long before closing")
    paused = models.BooleanField(default=False)
    next_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)


class Checkin(models.Model):
    class Status(models.TextChoices):
        OPEN = "open"
        ANSWERED = "answered"
        MISSED = "missed"

    schedule = models.ForeignKey(CheckinSchedule, on_delete=models.CASCADE, related_name="checkins")
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="checkins")
    due_at = models.DateTimeField()
    closes_at = models.DateTimeField()
    grace_until = models.DateTimeField(db_index=True)
    remind_at = models.DateTimeField(null=True, blank=True, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    extended = models.BooleanField(default=False)
    answered_at = models.DateTimeField(null=True, blank=True)
    answer = models.CharField(max_length=16, blank=True, default="")
    missed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["schedule", "due_at"], name="one_checkin_per_occurrence")]
        indexes = [
            models.Index(fields=["status", "grace_until"]),
            models.Index(fields=["status", "remind_at"]),
            # A case's check-ins newest first: its history, and the work queue's last one.
            models.Index(fields=["case", "due_at"]),
        ]


class CheckinAnswer(models.Model):
    """Every answer, written the same way whatever the PIN: what the answer means (an
    ordinary one or one under duress) is sealed with the case's key and read by the
    worker, so the answering request does identical work either way."""

    checkin = models.ForeignKey(Checkin, on_delete=models.CASCADE, related_name="answers")
    sealed_assessment = models.BinaryField()
    created_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True, db_index=True)

    @property
    def vault_record(self) -> str:
        """What the sealed assessment is bound to. One answer per check-in (an answered
        check-in takes no other), so the check-in's id binds it."""
        return f"checkin-answer:{self.checkin_id}"


class DefectorPins(models.Model):
    """The app's PIN and the duress PIN, stored only as slow hashes."""

    defector = models.OneToOneField("accounts.Defector", on_delete=models.CASCADE, related_name="pins")
    normal_pin_hash = models.CharField(max_length=256, blank=True, default="")
    duress_pin_hash = models.CharField(max_length=256, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)
