"""What administering a programme needs to remember between two requests: one-time setup
links for staff accounts, a case's pending crypto-shred (two supervisors must agree), and
proposals to move a case to another programme."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class SetupLink(models.Model):
    """A one-time link where a staff member sets a password and enrols TOTP (an invitation)
    or enrols TOTP again (a 2FA reset). Only a SHA-256 of the token is stored; the link is
    shown once, valid for 24 hours and used at most once."""

    class Purpose(models.TextChoices):
        INVITE = "invite"
        RESET_2FA = "reset_2fa"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="setup_links")
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)


class ShredRequest(models.Model):
    """The first supervisor's request to crypto-shred a closed case; a second, different
    supervisor confirms it within 24 hours and the key is destroyed."""

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="shred_requests")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)


class CaseTransfer(models.Model):
    """A proposal to move a case to another programme of this installation (a relocated
    defector). Nothing changes until the receiving programme accepts."""

    class State(models.TextChoices):
        PROPOSED = "proposed"
        ACCEPTED = "accepted"
        DECLINED = "declined"
        EXPIRED = "expired"

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="transfers")
    from_programme = models.ForeignKey("accounts.Programme", on_delete=models.PROTECT, related_name="+")
    to_programme = models.ForeignKey("accounts.Programme", on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PROPOSED)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["case"], condition=Q(state="proposed"), name="one_open_transfer_per_case")
        ]
