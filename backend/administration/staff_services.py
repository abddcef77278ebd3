"""Staff accounts of a programme: the first admin (``create_admin``), invitations,
one-time setup links (a password under Django's validators and a confirmed TOTP
authenticator), roles, deactivation and second-factor resets.

Whoever creates a link never sees the password or the TOTP secret: the person sets both
on the setup page. Only a SHA-256 of a link's token is stored. Every write is audited
with its actor."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from backend.accounts.models import Device, Programme, StaffRole, User
from backend.accounts.services import revoke_device
from backend.administration.models import SetupLink
from backend.audit.services import record_event
from backend.cases.models import CaseAssignment
from backend.problems import Problem

SETUP_LINK_TTL = timedelta(hours=24)
SETUP_AUTHENTICATOR_NAME = "authenticator"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _bad(field: str, detail: str) -> Problem:
    return Problem(status_code=400, slug="validation", detail=detail, field=field)


# --- setup links ----------------------------------------------------------------------


def issue_setup_link(*, user: User, purpose: SetupLink.Purpose, actor: User | None) -> str:
    """A new one-time token for ``user`` (call inside the caller's transaction); any
    earlier unused link of theirs stops working. Returns the token, which is not stored."""
    now = timezone.now()
    SetupLink.objects.filter(user=user, used_at__isnull=True, expires_at__gt=now).update(expires_at=now)
    token = secrets.token_urlsafe(32)
    link = SetupLink.objects.create(
        user=user,
        purpose=purpose,
        token_hash=_token_hash(token),
        created_by=actor,
        created_at=now,
        expires_at=now + SETUP_LINK_TTL,
    )
    record_event(action="staff.setup_link_issued", actor=actor, target=f"user:{user.pk}", details={"link": link.pk})
    return token


def live_setup_link(token: str) -> SetupLink | None:
    """The unused, unexpired link behind ``token``, or None."""
    return (
        SetupLink.objects.select_related("user")
        .filter(token_hash=_token_hash(token), used_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )


def pending_authenticator(link: SetupLink) -> TOTPDevice:
    """The unconfirmed TOTP device the setup page shows as a QR code; the same one on
    every visit until the link is used."""
    device = TOTPDevice.objects.filter(user=link.user, confirmed=False, name=SETUP_AUTHENTICATOR_NAME).first()
    if device is not None:
        return device
    with transaction.atomic():
        device = TOTPDevice.objects.create(user=link.user, name=SETUP_AUTHENTICATOR_NAME, confirmed=False)
        # When a link was first opened: worth knowing if someone else opened it first.
        record_event(action="staff.setup_opened", target=f"user:{link.user_id}", details={"link": link.pk})
    return device


def totp_secret(device: TOTPDevice) -> str:
    """The base32 secret an authenticator app is given (shown only on the setup page)."""
    return base64.b32encode(bytes.fromhex(device.key)).decode()


def complete_setup(*, token: str, password: str, password_again: str, otp: str) -> User:
    """Use a setup link: for an invitation, set the password (Django's validators) and
    confirm the authenticator with a current code; for a 2FA reset, confirm the new
    authenticator only. The link dies; any older authenticator is removed."""
    gone = Problem(status_code=404, slug="not-found", detail="This setup link is unknown, used or expired.")
    link = live_setup_link(token)
    if link is None:
        raise gone
    user = link.user
    if link.purpose == SetupLink.Purpose.INVITE:
        if password != password_again:
            raise _bad("password_again", "The two passwords differ.")
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise _bad("password", " ".join(exc.messages)) from None
    device = pending_authenticator(link)
    # Outside the transaction below, so django-otp's count of wrong codes (which slows
    # guessing down) is kept when the code is refused.
    if not device.verify_token(otp):
        raise _bad("otp", "That code does not match; check the authenticator and try again.")
    with transaction.atomic():
        link = SetupLink.objects.select_for_update().select_related("user").get(pk=link.pk)
        if link.used_at is not None or link.expires_at <= timezone.now():
            raise gone
        if link.purpose == SetupLink.Purpose.INVITE:
            user.set_password(password)
            user.save(update_fields=["password"])
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        link.used_at = timezone.now()
        link.save(update_fields=["used_at"])
        record_event(action="staff.setup_completed", actor=user, target=f"user:{user.pk}", details={"link": link.pk})
    return user


# --- accounts ---------------------------------------------------------------------------


def _clean_roles(roles: Sequence[str]) -> list[str]:
    cleaned = sorted(set(roles))
    if not cleaned:
        raise _bad("roles", "Give at least one role.")
    unknown = [role for role in cleaned if role not in StaffRole.Role.values]
    if unknown:
        raise _bad("roles", f"Unknown roles: {unknown}.")
    return cleaned


def bootstrap_admin(*, programme_name: str, username: str) -> tuple[Programme, User, str]:
    """``create_admin``: the programme (created if new) and an admin in it, with a setup
    link. An existing staff member becomes its admin and gets a new link (the way back in
    for an installation whose only admin lost their authenticator)."""
    with transaction.atomic():
        programme, created = Programme.objects.get_or_create(name=programme_name)
        if created:
            record_event(action="programme.created", actor=None, target=f"programme:{programme.pk}")
        user = User.objects.filter(username=username).first()
        if user is not None and not user.is_staff_member:
            raise _bad("username", "That username belongs to no staff member.")
        if user is None:
            user = User(username=username, kind=User.Kind.STAFF)
            user.set_unusable_password()
            user.save()
        user.is_active = True
        user.save(update_fields=["is_active"])
        StaffRole.objects.get_or_create(user=user, programme=programme, role=StaffRole.Role.ADMIN)
        record_event(
            action="staff.roles_changed",
            actor=None,
            target=f"user:{user.pk}",
            details={"programme": programme.pk, "added": [StaffRole.Role.ADMIN.value]},
        )
        token = issue_setup_link(user=user, purpose=SetupLink.Purpose.INVITE, actor=None)
    return programme, user, token


@dataclass(frozen=True)
class Invitation:
    user: User
    token: str | None  # None: an existing account joined the programme; it has credentials


def _may_add_existing(actor: User, user: User) -> bool:
    """An existing account joins another programme only through an admin who already
    administers it somewhere: otherwise any admin could take over anyone's account."""
    theirs = StaffRole.objects.filter(user=user).values("programme_id")
    return StaffRole.objects.filter(user=actor, role=StaffRole.Role.ADMIN, programme_id__in=theirs).exists()


def invite_staff(
    *, programme: Programme, actor: User, username: str, first_name: str, last_name: str, roles: Sequence[str]
) -> Invitation:
    """A new staff account with ``roles`` in the programme and its setup link; for the
    username of someone the actor already administers elsewhere, those roles here; for
    an account deactivated everywhere, a fresh start with a new setup link."""
    cleaned = _clean_roles(roles)
    with transaction.atomic():
        user = User.objects.select_for_update().filter(username=username).first()
        token: str | None = None
        if user is None:
            user = User(username=username, kind=User.Kind.STAFF, first_name=first_name, last_name=last_name)
            user.set_unusable_password()
            user.save()
            token = issue_setup_link(user=user, purpose=SetupLink.Purpose.INVITE, actor=actor)
        elif user.is_staff_member and not user.staff_roles.exists():
            # An account deactivated everywhere starts again from scratch: new
            # credentials through a new link, nothing of the old ones kept.
            user.first_name, user.last_name, user.is_active = first_name, last_name, True
            user.set_unusable_password()
            user.save()
            TOTPDevice.objects.filter(user=user).delete()
            token = issue_setup_link(user=user, purpose=SetupLink.Purpose.INVITE, actor=actor)
        elif not (user.is_staff_member and _may_add_existing(actor, user)):
            raise Problem(status_code=409, slug="username-taken", detail="That username is taken.")
        elif StaffRole.objects.filter(user=user, programme=programme).exists():
            raise Problem(status_code=409, slug="already-staff", detail="Already staff in this programme.")
        else:
            user.is_active = True
            user.save(update_fields=["is_active"])
        StaffRole.objects.bulk_create([StaffRole(user=user, programme=programme, role=role) for role in cleaned])
        record_event(
            action="staff.invited",
            actor=actor,
            target=f"user:{user.pk}",
            details={"programme": programme.pk, "roles": cleaned},
        )
    return Invitation(user=user, token=token)


def programme_member(programme: Programme, user_id: int) -> User:
    """A staff member holding a role in the programme; "not found" otherwise."""
    user = User.objects.filter(pk=user_id, staff_roles__programme=programme).distinct().first()
    if user is None:
        raise Problem(status_code=404, slug="not-found", detail="No such staff member.")
    return user


@dataclass(frozen=True)
class StaffMember:
    user: User
    roles: list[str]
    two_factor: str  # "enrolled" | "pending"


def staff_of(programme: Programme) -> list[StaffMember]:
    """Everyone with a role in the programme, with those roles and whether they have a
    confirmed authenticator."""
    rows = StaffRole.objects.filter(programme=programme).select_related("user").order_by("user__username", "role")
    by_user: dict[int, StaffMember] = {}
    for row in rows:
        member = by_user.setdefault(row.user_id, StaffMember(user=row.user, roles=[], two_factor="pending"))
        member.roles.append(row.role)
    enrolled = set(
        TOTPDevice.objects.filter(user_id__in=list(by_user), confirmed=True).values_list("user_id", flat=True)
    )
    return [
        StaffMember(user=m.user, roles=m.roles, two_factor="enrolled" if uid in enrolled else "pending")
        for uid, m in by_user.items()
    ]


def member_of(programme: Programme, user: User) -> StaffMember:
    return next(m for m in staff_of(programme) if m.user.pk == user.pk)


def set_roles(*, programme: Programme, actor: User, user_id: int, roles: Sequence[str]) -> StaffMember:
    """Replace the member's roles in this programme (their roles elsewhere stay)."""
    cleaned = _clean_roles(roles)
    user = programme_member(programme, user_id)
    with transaction.atomic():
        before = set(StaffRole.objects.filter(user=user, programme=programme).values_list("role", flat=True))
        StaffRole.objects.filter(user=user, programme=programme).exclude(role__in=cleaned).delete()
        StaffRole.objects.bulk_create(
            [StaffRole(user=user, programme=programme, role=role) for role in cleaned if role not in before]
        )
        record_event(
            action="staff.roles_changed",
            actor=actor,
            target=f"user:{user.pk}",
            details={
                "programme": programme.pk,
                "added": sorted(set(cleaned) - before),
                "removed": sorted(before - set(cleaned)),
            },
        )
    return member_of(programme, user)


@dataclass(frozen=True)
class Deactivation:
    user: User
    account_deactivated: bool  # False: they still work in another programme
    cases_needing_primary: list[int]


def deactivate_staff(*, programme: Programme, actor: User, user_id: int) -> Deactivation:
    """Take someone off the programme at once: their roles here and their assignments to
    its cases end (the cases they were primary contact of are returned for a supervisor
    to reassign). Someone left with no programme is deactivated: their sessions stop
    being accepted and their phones are revoked at once."""
    user = programme_member(programme, user_id)
    if user.pk == actor.pk:
        raise Problem(status_code=409, slug="self-deactivation", detail="Ask another admin to deactivate you.")
    with transaction.atomic():
        StaffRole.objects.filter(user=user, programme=programme).delete()
        assignments = CaseAssignment.objects.filter(staff=user, case__programme=programme)
        orphaned = sorted(assignments.filter(role=CaseAssignment.Role.PRIMARY).values_list("case_id", flat=True))
        for case_id, role in assignments.values_list("case_id", "role"):
            record_event(
                action="case.unassigned", actor=actor, case_id=case_id, target=f"user:{user.pk}", details={"role": role}
            )
        assignments.delete()
        still_staff = StaffRole.objects.filter(user=user).exists()
        if not still_staff:
            user.is_active = False
            user.save(update_fields=["is_active"])
            SetupLink.objects.filter(user=user, used_at__isnull=True).update(expires_at=timezone.now())
            for device in Device.objects.filter(user=user, revoked_at__isnull=True):
                revoke_device(device=device, actor=actor, reason="staff deactivated")
        record_event(
            action="staff.deactivated",
            actor=actor,
            target=f"user:{user.pk}",
            details={"programme": programme.pk, "account_deactivated": not still_staff},
        )
    return Deactivation(user=user, account_deactivated=not still_staff, cases_needing_primary=orphaned)


def reset_second_factor(*, programme: Programme, actor: User, user_id: int) -> str:
    """Remove the member's authenticators (their inbox sessions stop being accepted at
    once, since a session is verified by a device that no longer exists) and give them a
    link to enrol a new one. Their password stays."""
    user = programme_member(programme, user_id)
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        record_event(
            action="staff.2fa_reset", actor=actor, target=f"user:{user.pk}", details={"programme": programme.pk}
        )
        return issue_setup_link(user=user, purpose=SetupLink.Purpose.RESET_2FA, actor=actor)
