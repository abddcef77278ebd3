"""Devices, tokens, staff credentials and revocation.

Every function that changes state runs in one transaction and writes an audit entry,
except a revocation's: accounts sits below cases and cannot tell which case a
defector's device belongs to, so it sends ``signals.device_revoked`` in the transaction
and the cases app files the entry under the case. Enrolling the defector's app with a
one-time code is the case's business (``cases.enrollment``); it builds on
``new_device`` and ``issue_token_pair`` here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import nacl.exceptions
import nacl.signing
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from backend import realtime
from backend.accounts import throttles
from backend.accounts.models import Device, DeviceToken, User
from backend.accounts.signals import device_revoked
from backend.audit.services import record_event
from backend.problems import Problem

SESSION_LOGIN_AT_KEY = "livlina_login_at"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class DeviceKeys:
    name: str
    platform: str
    signing_key: str
    box_key: str
    push_token: str = ""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- tokens --------------------------------------------------------------------------


def issue_token_pair(device: Device, *, now: datetime) -> TokenPair:
    access = secrets.token_urlsafe(32)
    refresh = secrets.token_urlsafe(32)
    DeviceToken.objects.bulk_create(
        [
            DeviceToken(
                device=device,
                kind=DeviceToken.Kind.ACCESS,
                token_hash=hash_token(access),
                expires_at=now + settings.LIVLINA_ACCESS_TOKEN_TTL,
            ),
            DeviceToken(
                device=device,
                kind=DeviceToken.Kind.REFRESH,
                token_hash=hash_token(refresh),
                expires_at=now + settings.LIVLINA_REFRESH_TOKEN_TTL,
            ),
        ]
    )
    return TokenPair(access, refresh, int(settings.LIVLINA_ACCESS_TOKEN_TTL.total_seconds()))


def device_for_access_token(token: str) -> Device | None:
    """The live device behind an access token, or None if the token is unknown, expired,
    or its device was revoked. Checked on every request, so revocation is immediate."""
    found = access_token_lookup(token)
    return found[0] if found else None


def access_token_lookup(token: str) -> tuple[Device, datetime] | None:
    """The live device behind an access token and the moment the token expires."""
    now = timezone.now()
    row = (
        DeviceToken.objects.select_related("device__user")
        .filter(
            token_hash=hash_token(token),
            kind=DeviceToken.Kind.ACCESS,
            expires_at__gt=now,
            device__revoked_at__isnull=True,
            device__user__is_active=True,
        )
        .first()
    )
    return (row.device, row.expires_at) if row else None


def staff_session_ends_at(session: SessionBase) -> datetime | None:
    login_at = session.get(SESSION_LOGIN_AT_KEY)
    if login_at is None:
        return None
    return datetime.fromtimestamp(float(login_at), tz=UTC) + settings.LIVLINA_SESSION_MAX_AGE


def _decode_b64(value: str, *, field: str, length: int | None = None) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise Problem(status_code=400, slug="validation", detail="Not valid base64.", field=field) from None
    if length is not None and len(raw) != length:
        raise Problem(status_code=400, slug="validation", detail=f"Must be base64 of {length} bytes.", field=field)
    return raw


def refresh_tokens(*, device_id: str, refresh_token: str, timestamp: str, signature: str) -> TokenPair:
    """Rotate a device's tokens. Needs the device's Ed25519 signature over
    ``refresh_token + "." + timestamp`` within the allowed clock skew. A refresh token
    presented a second time means it was copied: the device is revoked."""
    invalid = Problem(status_code=401, slug="refresh-invalid", detail="The refresh token is invalid or expired.")
    now = timezone.now()
    ts = int(timestamp)  # decimal digits: RefreshInput refuses anything else
    if abs(now.timestamp() - ts) > settings.LIVLINA_REFRESH_CLOCK_SKEW.total_seconds():
        raise Problem(
            status_code=401,
            slug="clock-skew",
            detail="The timestamp is too far from the server's clock.",
            field="timestamp",
        )
    raw_signature = _decode_b64(signature, field="signature", length=64)
    with transaction.atomic():
        row = (
            DeviceToken.objects.select_for_update()
            .select_related("device")
            .filter(token_hash=hash_token(refresh_token), kind=DeviceToken.Kind.REFRESH)
            .first()
        )
        if row is None or str(row.device_id) != str(device_id) or row.device.is_revoked:
            raise invalid
        device = row.device
        verify_key = nacl.signing.VerifyKey(base64.b64decode(device.signing_key))
        try:
            verify_key.verify(f"{refresh_token}.{timestamp}".encode(), raw_signature)
        except nacl.exceptions.BadSignatureError:
            raise Problem(
                status_code=401, slug="signature-invalid", detail="The signature does not verify.", field="signature"
            ) from None
        if row.used_at is not None:
            _revoke(device, reason="refresh token reused", actor=None, action="device.refresh_reuse", audit_reason="")
        elif row.expires_at <= now:
            raise invalid
        else:
            row.used_at = now
            row.save(update_fields=["used_at"])
            # The old access tokens die with the rotation: only the newest pair works.
            DeviceToken.objects.filter(device=device, kind=DeviceToken.Kind.ACCESS).delete()
            device.last_seen_at = now
            device.save(update_fields=["last_seen_at"])
            return issue_token_pair(device, now=now)
    # Raised outside the atomic block so the revocation above is committed.
    raise Problem(
        status_code=401, slug="refresh-reused", detail="This refresh token was already used; the device is revoked."
    )


# --- devices -------------------------------------------------------------------------


def validate_device_keys(keys: DeviceKeys) -> None:
    """400 unless both public keys are base64 of 32 bytes."""
    _decode_b64(keys.signing_key, field="device.signing_key", length=32)
    _decode_b64(keys.box_key, field="device.box_key", length=32)


def new_device(user: User, keys: DeviceKeys) -> Device:
    """A device for ``user`` with the app's public keys; call inside the enrolling transaction."""
    return Device.objects.create(
        user=user,
        name=keys.name,
        platform=keys.platform,
        signing_key=keys.signing_key,
        box_key=keys.box_key,
        push_token=keys.push_token,
    )


def update_device(*, device: Device, push_token: str | None, name: str | None, case_id: int | None) -> Device:
    """The calling phone's own update: a new push token (from the next push on, the outbox
    sends to it: a row's token is read when it is sent, so rows still pending go to the
    new one) or a new name; ``None`` leaves a field as it is, and an empty token means no
    push. The audit entry names the fields, never the token or the name (free text that
    may identify someone); ``case_id`` files it under the defector's case (None for a
    staff phone). A device revoked meanwhile is refused like its token would be."""
    now = timezone.now()
    with transaction.atomic():
        locked = Device.objects.select_for_update().get(pk=device.pk)
        if locked.is_revoked:
            raise Problem(status_code=401, slug="not-authenticated", detail="This device was revoked.")
        changed = []
        if push_token is not None and push_token != locked.push_token:
            locked.push_token = push_token
            changed.append("push_token")
        if name is not None and name != locked.name:
            locked.name = name
            changed.append("name")
        locked.last_seen_at = now
        locked.save(update_fields=[*changed, "last_seen_at"])
        record_event(
            action="device.updated",
            actor=locked.user,
            case_id=case_id,
            target=f"device:{locked.pk}",
            details={"changed": changed, "push": bool(locked.push_token)},
        )
    return locked


def failed_login_target(username: str) -> str:
    """What the audit log keeps of a failed login: a keyed hash of the typed name, so
    attempts on one account can be correlated but a password typed into the username
    field is never written to the append-only log."""
    digest = hmac.new(settings.SECRET_KEY.encode(), username.encode(), hashlib.sha256).hexdigest()[:16]
    return f"username-hash:{digest}"


def verify_staff_credentials(*, username: str, password: str, otp: str) -> User | None:
    """The staff member if password and current TOTP both check out, else None."""
    user = authenticate(username=username, password=password)
    if user is None or not isinstance(user, User) or not user.is_staff_member:
        return None
    for totp in TOTPDevice.objects.devices_for_user(user, confirmed=True):
        if totp.verify_token(otp):
            return user
    return None


def staff_login(*, username: str, password: str, otp: str, address: str) -> User | None:
    """A staff login, from the inbox's form or a staff phone: the staff member if password
    and current TOTP check out, None (audited, counted against the account and the
    address) if not. Raises ``throttles.LoginHeldBackError`` without evaluating anything
    while the account backs off or the address has failed too often (``throttles``)."""
    account = failed_login_target(username)
    throttles.hold_back_staff_login(account=account, address=address)
    user = verify_staff_credentials(username=username, password=password, otp=otp)
    if user is None:
        throttles.staff_login_failed(address=address)
        with transaction.atomic():
            record_event(action="staff.login_failed", actor=None, target=account)
        return None
    throttles.staff_login_succeeded(account=account)
    return user


def enroll_staff_device(
    *, username: str, password: str, otp: str, keys: DeviceKeys, address: str
) -> tuple[Device, TokenPair]:
    """Enroll an on-call or contact person's phone; needs password and TOTP (a
    ``staff_login``, held back as every staff login is)."""
    validate_device_keys(keys)
    user = staff_login(username=username, password=password, otp=otp, address=address)
    if user is None:
        raise Problem(status_code=401, slug="credentials-invalid", detail="Wrong username, password or one-time code.")
    with transaction.atomic():
        device = new_device(user, keys)
        pair = issue_token_pair(device, now=timezone.now())
        record_event(action="device.enrolled", actor=user, target=f"device:{device.pk}")
    return device, pair


# --- revocation ----------------------------------------------------------------------


def _revoke(device: Device, *, reason: str, actor: User | None, action: str, audit_reason: str) -> None:
    device.revoked_at = timezone.now()
    device.revoked_reason = reason[:200]
    device.push_token = ""
    device.save(update_fields=["revoked_at", "revoked_reason", "push_token"])
    DeviceToken.objects.filter(device=device).delete()
    realtime.publish_on_commit(realtime.device_group(device.pk), {"type": "device.revoked"})
    device_revoked.send(sender=Device, device=device, actor=actor, action=action, reason=audit_reason)


def revoke_device(*, device: Device, actor: User, reason: str = "") -> None:
    """Revoke a lost or stolen device at once: its tokens die, its sockets close, its push
    token is dropped. The caller got ``device`` through ``policy.device_for`` (the owner,
    staff who may see the defector's case, supervisors). Idempotent."""
    with transaction.atomic():
        locked = Device.objects.select_for_update().get(pk=device.pk)
        if locked.is_revoked:
            return
        _revoke(locked, reason=reason or "revoked", actor=actor, action="device.revoked", audit_reason=reason)
    device.refresh_from_db()
