"""Who is on the other end of a WebSocket handshake.

Devices send ``Authorization: Bearer <access_token>`` on the handshake; a mobile client
may send no ``Origin`` at all, since the token is the control (tokens never go in the URL:
proxies log it). The inbox uses its session cookie, which needs a verified second factor
and an ``Origin`` this server allows, so another site cannot ride the cookie."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlsplit

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device as OtpDevice

from backend.accounts import services as account_services
from backend.accounts.models import Device, User


def _headers(scope: dict[str, Any]) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def origin_allowed(origin: str, host: str) -> bool:
    if not origin:
        return False
    parts = urlsplit(origin)
    if parts.netloc and parts.netloc == host:
        return True
    return origin.rstrip("/") in {o.rstrip("/") for o in settings.CSRF_TRUSTED_ORIGINS}


@dataclass(frozen=True)
class SocketIdentity:
    user: User
    device: Device | None
    valid_until: datetime  # the access token's expiry, or the staff session's absolute end
    session_key: str = ""


def still_valid(identity: SocketIdentity) -> bool:
    """Re-checked while the socket lives: the device not revoked, the staff session not
    logged out or expired, the credential not past its end."""
    return still_valid_many([identity])[0]


def still_valid_many(identities: Sequence[SocketIdentity]) -> list[bool]:
    """``still_valid`` for each identity, with one query for all the device sockets."""
    now = timezone.now()
    device_ids = {i.device.pk for i in identities if i.device is not None and now < i.valid_until}
    live = set()
    if device_ids:
        live = set(
            Device.objects.filter(pk__in=device_ids, revoked_at__isnull=True, user__is_active=True).values_list(
                "pk", flat=True
            )
        )
    return [
        now < i.valid_until
        and (i.device.pk in live if i.device is not None else _staff_from_session(i.session_key) is not None)
        for i in identities
    ]


def _staff_from_session(session_key: str) -> SocketIdentity | None:
    session = SessionStore(session_key=session_key)
    user_id = session.get(SESSION_KEY)
    if user_id is None or BACKEND_SESSION_KEY not in session:
        return None
    user = User.objects.filter(pk=user_id, is_active=True, kind=User.Kind.STAFF).first()
    if user is None:
        return None
    if not constant_time_compare(session.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash()):
        return None
    otp_device = OtpDevice.from_persistent_id(session.get(DEVICE_ID_SESSION_KEY, ""), for_verify=False)
    if otp_device is None or otp_device.user_id != user.pk:
        return None
    ends_at = account_services.staff_session_ends_at(session)
    if ends_at is None or ends_at <= timezone.now():
        return None
    return SocketIdentity(user, None, ends_at, session_key)


@database_sync_to_async
def authenticate_handshake(scope: dict[str, Any]) -> tuple[SocketIdentity | None, str]:
    """(identity, reason refused): device-token sockets have a device; inbox sockets none."""
    headers = _headers(scope)
    authorization = headers.get("authorization", "")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return None, "unsupported authorization scheme"
        found = account_services.access_token_lookup(token.strip())
        if found is None:
            return None, "invalid, expired or revoked token"
        device, expires_at = found
        return SocketIdentity(device.user, device, expires_at), ""
    cookie = SimpleCookie()
    cookie.load(headers.get("cookie", ""))
    morsel = cookie.get(settings.SESSION_COOKIE_NAME)
    if morsel is None:
        return None, "no credentials"
    if not origin_allowed(headers.get("origin", ""), headers.get("host", "")):
        return None, "origin not allowed"
    identity = _staff_from_session(morsel.value)
    if identity is None:
        return None, "session invalid, expired or without second factor"
    return identity, ""
