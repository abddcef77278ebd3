"""Who is on the other end of a WebSocket handshake.

Devices send ``Authorization: Bearer <access_token>`` on the handshake; a mobile client
may send no ``Origin`` at all, since the token is the control (tokens never go in the URL:
proxies log it). The inbox uses its session cookie, which needs a verified second factor
and an ``Origin`` this server allows, so another site cannot ride the cookie."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import import_module
from typing import TYPE_CHECKING, Any, cast

from asgiref.typing import ASGI3Application
from channels.auth import get_user
from channels.db import database_sync_to_async
from channels.security.websocket import OriginValidator
from channels.sessions import SessionMiddlewareStack
from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.utils import timezone

from backend.accounts import services as account_services
from backend.accounts.models import Device, DeviceToken, User
from backend.accounts.sessions import verified_staff_session

if TYPE_CHECKING:
    # The stubs' (types-channels) type of a consumer's scope: a name for type checking only.
    from channels.consumer import _ChannelScope as ConsumerScope


def _header(scope: Mapping[str, Any], name: bytes) -> str:
    return next((value.decode("latin-1") for key, value in scope.get("headers", []) if key.lower() == name), "")


def with_socket_credentials(consumer: ASGI3Application) -> ASGI3Application:
    """The WebSocket application: a handshake with an ``Authorization`` header (a device)
    goes straight to ``consumer``; any other one rides the inbox's session cookie, so it
    first passes Channels' ``OriginValidator`` (its own host, or one of
    ``CSRF_TRUSTED_ORIGINS``; a missing ``Origin`` is refused) and gets its session in the
    scope (``SessionMiddlewareStack``)."""
    with_session = SessionMiddlewareStack(consumer)

    # Typed as Channels types its own middleware (its stubs' protocol takes Any).
    async def application(scope: Any, receive: Any, send: Any) -> None:
        if _header(scope, b"authorization"):
            await consumer(scope, receive, send)
            return
        host = _header(scope, b"host")
        own_origins = [f"{scheme}://{host}" for scheme in ("http", "https")] if host else []
        validator = OriginValidator(with_session, [*own_origins, *settings.CSRF_TRUSTED_ORIGINS])
        await validator(scope, receive, send)

    return application


@dataclass(frozen=True)
class SocketIdentity:
    user: User
    device: Device | None
    valid_until: datetime  # the access token's expiry, or the staff session's absolute end
    session_key: str = ""
    # The hash of the access token a device's socket was opened with: rotating it
    # (POST /auth/refresh) ends the socket as it ends the token's REST use.
    token_hash: str = ""


async def authenticate_handshake(scope: ConsumerScope) -> tuple[SocketIdentity | None, str]:
    """(identity, reason refused): device-token sockets have a device; inbox sockets none."""
    authorization = _header(scope, b"authorization")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return None, "unsupported authorization scheme"
        found = await database_sync_to_async(account_services.access_token_lookup)(token.strip())
        if found is None:
            return None, "invalid, expired or revoked token"
        device, expires_at = found
        return SocketIdentity(
            device.user, device, expires_at, token_hash=account_services.hash_token(token.strip())
        ), ""
    session = scope.get("session")
    if session is None or session.session_key is None:
        return None, "no credentials"
    user = await get_user(scope)
    ends_at = await database_sync_to_async(verified_staff_session)(user, session, now=timezone.now())
    if ends_at is None or not isinstance(user, User):
        return None, "session invalid, expired or without second factor"
    return SocketIdentity(user, None, ends_at, session.session_key), ""


async def still_valid(identity: SocketIdentity) -> bool:
    """Re-checked while the socket lives: the device not revoked and its access token
    not rotated away, the staff session not logged out or expired, the credential not
    past its end."""
    return (await still_valid_many([identity]))[0]


async def still_valid_many(identities: Sequence[SocketIdentity]) -> list[bool]:
    """``still_valid`` for each identity: one query for all the device sockets, and each
    inbox session read again from the session store."""
    now = timezone.now()
    answers = [now < identity.valid_until for identity in identities]
    token_hashes = {i.token_hash for i, ok in zip(identities, answers, strict=True) if ok and i.device is not None}
    # In the thread pool, as the consumer's other ORM work: a batch does not queue behind
    # the one thread that Channels' own sync work shares.
    live = (
        await database_sync_to_async(_live_access_tokens, thread_sensitive=False)(token_hashes)
        if token_hashes
        else set()
    )
    for n, identity in enumerate(identities):
        if not answers[n]:
            continue
        if identity.device is not None:
            answers[n] = identity.token_hash in live
        else:
            answers[n] = await _session_still_verified(identity)
    return answers


def _live_access_tokens(token_hashes: set[str]) -> set[str]:
    """Which of these access tokens still exist (a refresh deletes the old ones) on a
    device that is not revoked, of a user still active."""
    return set(
        DeviceToken.objects.filter(
            token_hash__in=token_hashes,
            kind=DeviceToken.Kind.ACCESS,
            device__revoked_at__isnull=True,
            device__user__is_active=True,
        ).values_list("token_hash", flat=True)
    )


async def _session_still_verified(identity: SocketIdentity) -> bool:
    session: SessionBase = import_module(settings.SESSION_ENGINE).SessionStore(identity.session_key)
    user = await get_user(cast("ConsumerScope", {"session": session}))  # all get_user reads
    if user.pk != identity.user.pk:  # logged out (the session is gone), or another login
        return False
    return await database_sync_to_async(verified_staff_session)(user, session, now=timezone.now()) is not None
