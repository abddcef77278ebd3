"""The push outbox: one row per (recipient device, event). Written in the transaction that
makes the event true; drained by the worker with retries. Payloads carry no content.

Push sits below the apps that push (crisis, check-ins, messaging): they write outbox rows
through ``push.services`` and read what happened to them here (``PushAttempt``)."""

from __future__ import annotations

import uuid

from django.db import models


class PushKind(models.TextChoices):
    """What a push wakes the app for; the payload's ``kind``."""

    MESSAGE = "message"
    ALERT = "alert"
    CHECKIN = "checkin"
    REMINDER = "reminder"


class Outcome(models.TextChoices):
    """How one attempt to deliver a push went."""

    SENT = "sent"
    RETRY = "retry"  # transient: try again later
    SLOW_DOWN = "slow_down"  # quota: try again, much later
    TOKEN_DEAD = "token_dead"  # the token is gone for good: drop it
    FAILED = "failed"  # permanent for this row


class PushOutbox(models.Model):
    class State(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        DROPPED = "dropped"  # the token is dead or was removed; nothing left to try
        FAILED = "failed"  # gave up after the last retry

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    device = models.ForeignKey("accounts.Device", on_delete=models.CASCADE, related_name="push_outbox")
    kind = models.CharField(max_length=16, choices=PushKind.choices)
    high_priority = models.BooleanField(default=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True, default="")
    provider_message_id = models.CharField(max_length=200, blank=True, default="")
    # For alert pushes: the alert's timeline shows the row while it waits and each attempt.
    alert = models.ForeignKey(
        "crisis.Alert", null=True, blank=True, on_delete=models.SET_NULL, related_name="push_deliveries"
    )
    # The id of the request that wrote the row, so the worker's log lines about sending it
    # can be found with the request's own (empty when a worker wrote it).
    request_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["state", "next_attempt_at"])]


class PushAttempt(models.Model):
    """One attempt to deliver an outbox row and its outcome, written by the drain. Content-free:
    no token, no payload; ``detail`` is the provider's error, if any."""

    outbox = models.ForeignKey(PushOutbox, on_delete=models.CASCADE, related_name="attempt_log")
    device = models.ForeignKey("accounts.Device", on_delete=models.CASCADE, related_name="+")
    number = models.PositiveIntegerField()  # 1 for the row's first attempt
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    detail = models.CharField(max_length=300, blank=True, default="")
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "pk"]


class PushLogEntry(models.Model):
    """What the log backend 'sent' on the embedded default: visible in the inbox and tests."""

    outbox = models.ForeignKey(PushOutbox, on_delete=models.CASCADE, related_name="log_entries")
    device = models.ForeignKey("accounts.Device", on_delete=models.CASCADE, related_name="+")
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
