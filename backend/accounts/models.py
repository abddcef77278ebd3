"""People and their devices: programmes, staff roles, defectors, enrolled devices, tokens.
(The one-time codes that enroll a defector's app belong to a case: ``cases.models``.)"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A login identity. Staff log in with password + TOTP; a defector never logs in with a
    password: their user exists so that every request has one principal, and they
    authenticate only through an enrolled device."""

    class Kind(models.TextChoices):
        STAFF = "staff"
        DEFECTOR = "defector"

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.STAFF)

    @property
    def is_defector(self) -> bool:
        return self.kind == self.Kind.DEFECTOR

    @property
    def is_staff_member(self) -> bool:
        return self.kind == self.Kind.STAFF


class Programme(models.Model):
    """An exit programme (usually one municipality's). Several share one installation."""

    name = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    ack_timeout = models.DurationField(default=timedelta(minutes=30))
    unanswered_limit = models.DurationField(default=timedelta(minutes=10))

    def __str__(self) -> str:
        return self.name


class StaffRole(models.Model):
    class Role(models.TextChoices):
        CONTACT_PERSON = "contact_person"
        ON_CALL = "on_call"
        SUPERVISOR = "supervisor"
        ADMIN = "admin"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="staff_roles")
    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="staff_roles")
    role = models.CharField(max_length=32, choices=Role.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "programme", "role"], name="unique_staff_role")]


class Defector(models.Model):
    """A person leaving a criminal group, known only by an alias."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="defector")
    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="defectors")
    alias = models.CharField(max_length=80)
    created_at = models.DateTimeField(auto_now_add=True)


class Device(models.Model):
    """A phone enrolled by a defector (through a one-time code) or by staff (password + TOTP)."""

    class Platform(models.TextChoices):
        ANDROID = "android"
        IOS = "ios"
        OTHER = "other"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="devices")
    name = models.CharField(max_length=100)
    platform = models.CharField(max_length=16, choices=Platform.choices)
    signing_key = models.CharField(max_length=44, help_text="base64 Ed25519 public key")
    box_key = models.CharField(max_length=44, help_text="base64 X25519 public key")
    push_token = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=200, blank=True, default="")

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class DeviceToken(models.Model):
    """An opaque bearer token, stored only as its SHA-256 so a database leak yields none."""

    class Kind(models.TextChoices):
        ACCESS = "access"
        REFRESH = "refresh"

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="tokens")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["device", "kind"])]
