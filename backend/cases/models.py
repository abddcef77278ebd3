"""A case: one defector in one programme, the staff assigned to it, temporary access
grants, and the one-time codes that enroll the defector's app."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Case(models.Model):
    class Status(models.TextChoices):
        OPEN = "open"
        CLOSED = "closed"

    programme = models.ForeignKey("accounts.Programme", on_delete=models.PROTECT, related_name="cases")
    defector = models.OneToOneField("accounts.Defector", on_delete=models.PROTECT, related_name="case")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)


class CaseAssignment(models.Model):
    """Staff on a case: exactly one primary contact person, any number of backups."""

    class Role(models.TextChoices):
        PRIMARY = "primary"
        BACKUP = "backup"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="assignments")
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="case_assignments")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["case", "staff"], name="unique_case_staff"),
            models.UniqueConstraint(fields=["case"], condition=Q(role="primary"), name="one_primary_per_case"),
        ]


class AccessGrant(models.Model):
    """Temporary access for staff who are not assigned: while holding an alert for the case,
    or a supervisor's break-glass opening with a written reason."""

    class Basis(models.TextChoices):
        ALERT = "alert"
        BREAK_GLASS = "break_glass"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="grants")
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="case_grants")
    basis = models.CharField(max_length=16, choices=Basis.choices)
    reason = models.TextField()
    source = models.CharField(max_length=64, blank=True, default="", help_text="e.g. alert:42")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["staff", "case"])]


class EnrollmentCode(models.Model):
    """A one-time code that lets the defector's app enroll for one case.

    Only an HMAC of the code (keyed with a pepper outside the database) is stored, so a
    leaked table cannot be brute-forced offline."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="enrollment_codes")
    code_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by_device = models.ForeignKey(
        "accounts.Device", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
