"""The WebSocket endpoint ``/ws/v1/``: a thin edge over messaging.services/selectors."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Any

from channels.consumer import get_handler_name
from channels.db import DatabaseSyncToAsync
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import timezone

from backend import realtime
from backend.accounts.models import Device, User
from backend.messaging import selectors, services
from backend.messaging.rate_limits import require_send_budget
from backend.messaging.socket_auth import SocketIdentity, authenticate_handshake, still_valid
from backend.messaging.socket_frames import FrameError, parse_frame
from backend.problems import Problem

logger = logging.getLogger(__name__)


def database_call(fn: Any) -> Any:
    """Run ORM work in a thread pool, not on the one shared sync thread: sockets wait on
    the database in parallel instead of in a single queue. Connections are per thread and
    closed when stale, as with Channels' ``database_sync_to_async``."""
    return DatabaseSyncToAsync(fn, thread_sensitive=False)


CLOSE_UNAUTHENTICATED = 4401
CLOSE_REVOKED = 4403
SYNC_PAGE = 200


class TokenBucket:
    """Per-connection rate limit: ``rate`` frames a second, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.updated = burst, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def _require_valid(identity: SocketIdentity) -> None:
    """Refuse a frame once the credential behind the socket is gone (a revoked device, a
    logged-out session), even if the event that closes the socket never arrived."""
    if not still_valid(identity):
        raise CredentialGoneError


class CredentialGoneError(Exception):
    pass


@database_call
def _send(identity: SocketIdentity, frame: dict[str, Any]) -> dict[str, Any]:
    _require_valid(identity)
    user, device = identity.user, identity.device
    conversation = selectors.conversation_for(user, frame["conversation"])
    require_send_budget(user=user, device=device)
    result = services.send_message(
        sender=user,
        sender_device=device,
        conversation=conversation,
        client_id=uuid.UUID(frame["client_id"]),
        body=frame["body"],
    )
    return {
        "type": "message.ack",
        "conversation": conversation.pk,
        "client_id": str(result.message.client_id),
        "id": result.message.pk,
        "seq": result.message.seq,
    }


@database_call
def _sync_page(identity: SocketIdentity, conversation_id: int, after_seq: int) -> selectors.MessagePage:
    _require_valid(identity)
    user = identity.user
    conversation = selectors.conversation_for(user, conversation_id)
    return selectors.messages_after(user, conversation, after_seq=after_seq, limit=SYNC_PAGE)


@database_call
def _read(identity: SocketIdentity, conversation_id: int, up_to_seq: int) -> None:
    _require_valid(identity)
    user = identity.user
    conversation = selectors.conversation_for(user, conversation_id)
    services.mark_read(user=user, conversation=conversation, up_to_seq=up_to_seq)


class LivlinaConsumer(AsyncWebsocketConsumer):
    user: User | None = None
    device: Device | None = None

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale database connections on the shared sync thread before
        # every frame, live ones included; every ORM call here goes through
        # database_call, which does that itself, so the extra hop is skipped.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        identity, reason = await authenticate_handshake(self.scope)
        if identity is None:
            logger.info("websocket refused: %s", reason)
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        user, device = identity.user, identity.device
        self.identity = identity
        self.user, self.device = user, device
        # A socket lives no longer than the credential that opened it: the client
        # reconnects with a fresh access token (or logs in again).
        self.watcher = asyncio.create_task(self._watch_credential())
        self.bucket = TokenBucket(settings.LIVLINA_SOCKET_RATE, settings.LIVLINA_SOCKET_BURST)
        self.joined = [realtime.user_group(user.pk)]
        if device is not None:
            self.joined.append(realtime.device_group(device.pk))
        for group in self.joined:
            try:
                await self.channel_layer.group_add(group, self.channel_name)
            except Exception as exc:
                # The layer is down: the socket still sends, acks and syncs; only live
                # frames pause until the client reconnects.
                realtime.layer_health.failed(exc)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if getattr(self, "watcher", None) is not None:
            self.watcher.cancel()
        for group in getattr(self, "joined", []):
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception:  # a layer outage must not turn a disconnect into an error
                logger.debug("group_discard failed for %s", group)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            frame = parse_frame(text_data, bytes_data)
            if not self.bucket.take():
                raise FrameError("rate-limited", "Too many frames; slow down and retry.", frame.get("client_id"))
            await self.handle(frame)
        except CredentialGoneError:
            await self.close(code=CLOSE_UNAUTHENTICATED)
        except FrameError as error:
            await self.send_json(error.as_frame())
        except Problem as problem:
            client_id = frame.get("client_id") if isinstance(frame.get("client_id"), str) else None
            error = FrameError(problem.slug, str(problem.detail), client_id)
            await self.send_json(error.as_frame())

    async def _watch_credential(self) -> None:
        """Close at the credential's end, and re-check it on a short beat so that a
        logout or a revocation whose event was lost still ends the socket."""
        recheck = settings.LIVLINA_SOCKET_RECHECK_SECONDS
        while True:
            remaining = (self.identity.valid_until - timezone.now()).total_seconds()
            await asyncio.sleep(max(0.0, min(recheck, remaining)))
            if not await database_call(still_valid)(self.identity):
                await self.close(code=CLOSE_UNAUTHENTICATED)
                return

    async def handle(self, frame: dict[str, Any]) -> None:
        assert self.user is not None
        kind = frame["type"]
        if kind == "message.send":
            await self.send_json(await _send(self.identity, frame))
        elif kind == "sync":
            after = frame["after_seq"]
            while True:
                page = await _sync_page(self.identity, frame["conversation"], after)
                for message in page.results:
                    await self.send_json(
                        {"type": "message.new", "conversation": frame["conversation"], "message": message}
                    )
                    after = message["seq"]
                if not page.has_more:
                    break
            await self.send_json({"type": "sync.done", "conversation": frame["conversation"], "last_seq": after})
        elif kind == "read":
            await _read(self.identity, frame["conversation"], frame["up_to_seq"])
        elif kind == "ping":
            await self.send_json({"type": "pong"})

    async def send_json(self, content: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(content, separators=(",", ":")))

    # --- events from the channel layer ------------------------------------------------

    async def message_new(self, event: dict[str, Any]) -> None:
        await self.send_json(event)

    async def receipt_read(self, event: dict[str, Any]) -> None:
        await self.send_json(event)

    async def alert_new(self, event: dict[str, Any]) -> None:
        await self.send_json(event)

    async def alert_updated(self, event: dict[str, Any]) -> None:
        await self.send_json(event)

    async def device_revoked(self, event: dict[str, Any]) -> None:
        await self.close(code=CLOSE_REVOKED)
