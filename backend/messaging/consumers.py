"""The WebSocket endpoint ``/ws/v1/``: a thin edge over messaging.services/selectors."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import BaseChannelLayer, get_channel_layer
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from typing_extensions import override

from backend import metrics, realtime
from backend.accounts.models import Device, User
from backend.jobs import Failed, run_in_bulk_else_one_by_one
from backend.messaging import selectors, services, socket_registry
from backend.messaging.batching import BatchQueue
from backend.messaging.rate_limits import take_send_budgets
from backend.messaging.socket_auth import SocketIdentity, authenticate_handshake, still_valid, still_valid_many
from backend.messaging.socket_frames import FrameError, parse_frame
from backend.problems import DATABASE_UNAVAILABLE, Problem, database_unavailable

logger = logging.getLogger(__name__)


def database_call(fn: Any) -> Any:
    """Run ORM work in a thread pool, not on the one shared sync thread: sockets wait on
    the database in parallel instead of in a single queue. Connections are per thread and
    closed when stale, as with every ``database_sync_to_async``."""
    return database_sync_to_async(fn, thread_sensitive=False)


CLOSE_UNAUTHENTICATED = 4401
CLOSE_REVOKED = 4403
# Closed to make room for a newer socket of the same device (LIVLINA_SOCKETS_PER_DEVICE):
# the client should not reconnect on its own, or two of its sockets would take turns.
CLOSE_SUPERSEDED = 4409
# RFC 6455's "try again later": the database did not answer the handshake's credential
# check. The socket is accepted only to be closed with this code, so the client learns to
# reconnect (a refusal before the accept would reach it as an HTTP 403, "your credential").
CLOSE_TRY_AGAIN_LATER = 1013
SYNC_PAGE = 200
# Sends stored in one transaction at most; more wait for the next batch.
SEND_BATCH = 100
# A socket opened while the channel layer was down tries to join its groups again after
# these pauses (seconds), doubling: live frames resume soon after the layer is back.
LIVE_REJOIN_FIRST_PAUSE = 0.5
LIVE_REJOIN_MAX_PAUSE = 10.0
# Once per outage, not once per socket every LIVLINA_SOCKET_RECHECK_SECONDS.
credential_check_health = realtime.OutageLog("database unavailable; sockets' credentials re-checked when it is back")


def _unavailable(frame: dict[str, Any], error: BaseException) -> FrameError:
    """The answer to a frame the database failed to serve: send it again (a message with
    the same client_id, which is stored once), as a REST client retries a 503."""
    logger.warning("a %s frame failed, the database did not answer: %r", frame.get("type"), error)
    client_id = frame.get("client_id") if isinstance(frame.get("client_id"), str) else None
    return FrameError("unavailable", "The database did not answer; send it again shortly.", client_id)


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


class CredentialGoneError(Exception):
    pass


async def _require_valid(identity: SocketIdentity) -> None:
    """Refuse a frame once the credential behind the socket is gone (a revoked device, a
    logged-out session), even if the event that closes the socket never arrived."""
    if not await still_valid(identity):
        raise CredentialGoneError


@dataclass(frozen=True, repr=False)
class SocketSend:
    identity: SocketIdentity
    frame: dict[str, Any]

    @override
    def __repr__(self) -> str:
        # What a failure's log line names: never the message's text.
        return f"<socket send {self.frame.get('client_id')} to conversation {self.frame.get('conversation')}>"


def _take_budgets(requests: Sequence[services.SendRequest]) -> list[Problem | None]:
    return take_send_budgets([(request.sender, request.sender_device) for request in requests])


def _ack(result: services.SendResult) -> dict[str, Any]:
    message = result.message
    return {
        "type": "message.ack",
        "conversation": message.conversation_id,
        "client_id": str(message.client_id),
        "id": message.pk,
        "seq": message.seq,
    }


def _store_sends(sends: Sequence[SocketSend], *, count_budgets: bool) -> list[dict[str, Any] | Exception]:
    """Store a batch of ``message.send`` frames from any sockets of this process (their
    credentials just re-checked): an ack for each stored (or repeated) message, or the
    Problem that refused a send. Their live frames are published as the batch commits."""
    requests = [
        services.SendRequest(
            sender=send.identity.user,
            sender_device=send.identity.device,
            conversation_id=send.frame["conversation"],
            client_id=uuid.UUID(send.frame["client_id"]),
            body=send.frame["body"],
        )
        for send in sends
    ]
    outcomes = services.send_messages(requests, budget=_take_budgets if count_budgets else None)
    return [outcome if isinstance(outcome, Problem) else _ack(outcome) for outcome in outcomes]


def _store_alone(send: SocketSend) -> dict[str, Any] | Exception:
    (outcome,) = _store_sends([send], count_budgets=False)
    return outcome


@database_call
def _store_admitted(sends: list[SocketSend]) -> list[dict[str, Any] | Exception]:
    """``_store_sends`` for the whole batch; should something unexpected break it, nothing
    of it was stored (send_messages commits its own transaction, so no savepoints here):
    each send alone, so one bad send fails only its own socket's frame, and without
    counting budgets again (the batch may have). A lone send is not stored twice: its
    failure propagates."""
    alone = len(sends) == 1
    outcomes = run_in_bulk_else_one_by_one(
        sends,
        bulk=lambda batch: _store_sends(batch, count_budgets=True),
        single=None if alone else _store_alone,
        what="socket send",
        logger=logger,
        isolate=not alone,
        savepoints=False,
    )
    return [outcome.error if isinstance(outcome, Failed) else outcome for outcome in outcomes]


async def _store_batch(sends: list[SocketSend]) -> list[dict[str, Any] | Exception]:
    """For each send, its ack, the Problem that refused it, or CredentialGoneError for a
    socket whose credential has ended (one query re-checks every device in the batch)."""
    valid = await still_valid_many([send.identity for send in sends])
    stored = iter(await _store_admitted([send for send, ok in zip(sends, valid, strict=True) if ok]))
    return [next(stored) if ok else CredentialGoneError() for ok in valid]


async def _store_and_publish(sends: list[SocketSend]) -> list[dict[str, Any] | Exception]:
    """One batch: store it, then fan its ``message.new`` frames out from this loop, then
    answer its senders. Acks after the fan-out, as the relay's: the next batch is stored
    only when this one's frames are out, so the fan-out never falls behind the store."""
    with realtime.collect_published() as frames:
        try:
            outcomes = await _store_batch(sends)
        except Exception:
            await realtime.publish_all(frames)  # what committed before the failure still goes out
            raise
    await realtime.publish_all(frames)
    return outcomes


_send_queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, BatchQueue[SocketSend, dict[str, Any]]] = (
    weakref.WeakKeyDictionary()
)


def _send_queue() -> BatchQueue[SocketSend, dict[str, Any]]:
    """The send queue of the running event loop (Daphne runs one per process)."""
    loop = asyncio.get_running_loop()
    queue = _send_queues.get(loop)
    if queue is None:
        queue = _send_queues[loop] = BatchQueue(_store_and_publish, max_batch=SEND_BATCH)
    return queue


@database_call
def _sync_page(user: User, conversation_id: int, after_seq: int) -> selectors.MessagePage:
    conversation = selectors.conversation_for(user, conversation_id)
    return selectors.messages_after(user, conversation, after_seq=after_seq, limit=SYNC_PAGE)


@database_call
def _read(user: User, conversation_id: int, up_to_seq: int) -> None:
    conversation = selectors.conversation_for(user, conversation_id)
    services.mark_read(user=user, conversation=conversation, up_to_seq=up_to_seq)


def _live_layer() -> BaseChannelLayer:
    layer = get_channel_layer()
    if layer is None:  # the settings always name one (in memory on the embedded default)
        raise ImproperlyConfigured("CHANNEL_LAYERS has no default layer")
    return layer


# What the socket's groups carry; each is sent to the client as it is.
LIVE_FRAME_TYPES = frozenset({"message.new", "receipt.read", "alert.new", "alert.updated"})


class LivlinaConsumer(AsyncWebsocketConsumer):
    """Client frames arrive through Channels' dispatch, which first runs
    ``close_old_connections`` on Channels' one shared sync thread, a thread hop per frame.
    The events of the socket's groups (two ``message.new`` for every message sent: the
    sender's copy and the recipient's) would pay that hop too, though sending them never
    touches the database; so the socket takes them from a channel of its own
    (``new_channel``/``receive`` of the channel-layer API) in a task that sends them
    between the handling of client frames, in order, as one dispatch loop would.

    Channels' own channel for the consumer is turned off (``channel_layer_alias`` names no
    layer): nothing is sent to it, it would cost one more Redis subscription per socket,
    and opening it needs the layer, so while Redis was down no socket could open."""

    channel_layer_alias = "none: each socket opens its own live channel"
    user: User | None = None
    device: Device | None = None
    layer: BaseChannelLayer
    live_channel: str | None = None
    joined: list[str]
    registered_device: object = None

    async def connect(self) -> None:
        try:
            identity, reason = await authenticate_handshake(self.scope)
        except Exception as exc:
            cause = database_unavailable(exc)
            if cause is None:
                raise
            logger.warning("database unavailable, socket asked to reconnect: %r", cause)
            await self.accept()
            await self.close(code=CLOSE_TRY_AGAIN_LATER)
            return
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
        # One client frame's answer, or one live frame, at a time: a sync's pages are not
        # interleaved with live frames, and a sender's ack comes before its own copy.
        self.sending = asyncio.Lock()
        self.layer = _live_layer()
        self.joined = [realtime.user_group(user.pk)]
        if device is not None:
            self.joined.append(realtime.device_group(device.pk))
        # Joined before the accept, so no live frame falls between the client's first sync
        # and the socket's groups; with the layer down the socket still sends, acks and
        # syncs, and joins them when the layer is back (_send_live_frames).
        in_groups = await self._join_groups()
        await self.accept()
        self.counted_live = True
        metrics.LIVE_SOCKETS.inc()
        self.live = asyncio.create_task(self._send_live_frames(in_groups=in_groups))
        if in_groups and device is not None:
            await self._make_room(device.pk)

    async def _join_groups(self) -> bool:
        """Open the socket's own channel and add it to its groups; False while the layer
        is down (logged once per outage). Adding a channel to a group twice is harmless."""
        try:
            if self.live_channel is None:
                self.live_channel = await self.layer.new_channel()
            for group in self.joined:
                await self.layer.group_add(group, self.live_channel)
        except Exception as exc:  # noqa: BLE001 - the channel layer is best-effort
            realtime.layer_health.failed(exc)
            return False
        return True

    async def _make_room(self, device_id: object) -> None:
        """Register this socket and close the device's oldest beyond the cap, in
        whichever process they live (see socket_registry)."""
        assert self.live_channel is not None
        self.registered_device = device_id
        for channel in await socket_registry.register(device_id, self.live_channel):
            try:
                await self.layer.send(channel, {"type": "socket.superseded"})
            except Exception as exc:  # noqa: BLE001 - the layer is best-effort; the old socket ends with its token
                realtime.layer_health.failed(exc)

    @override
    async def disconnect(self, code: int) -> None:
        if getattr(self, "counted_live", False):
            self.counted_live = False
            metrics.LIVE_SOCKETS.dec()
        if getattr(self, "watcher", None) is not None:
            self.watcher.cancel()
        channel = self.live_channel  # None if the socket never reached the layer
        if self.registered_device is not None and channel is not None:
            await socket_registry.unregister(self.registered_device, channel)
            self.registered_device = None
        if channel is not None:
            for group in self.joined:
                try:
                    await self.layer.group_discard(group, channel)
                except Exception:  # noqa: BLE001 - a layer outage must not turn a disconnect into an error
                    logger.debug("group_discard failed for %s", group)
        if getattr(self, "live", None) is not None:
            # Wait for the reader to stop, so that the layer has let go of its channel
            # before the consumer ends rather than during the server's shutdown.
            self.live.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.live

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        async with self.sending:
            try:
                frame = parse_frame(text_data, bytes_data)
                if not self.bucket.take():
                    raise FrameError("rate-limited", "Too many frames; slow down and retry.", frame.get("client_id"))
                await self.handle(frame)
            except CredentialGoneError:
                await self.close(code=CLOSE_UNAUTHENTICATED)
            except DATABASE_UNAVAILABLE as error:  # a sync, a read receipt, a credential re-check
                await self.send_json(_unavailable(frame, error).as_frame())
            except FrameError as error:
                await self.send_json(error.as_frame())
            except Problem as problem:
                client_id = frame.get("client_id") if isinstance(frame.get("client_id"), str) else None
                refusal = FrameError(problem.slug, str(problem.detail), client_id)
                await self.send_json(refusal.as_frame())

    async def _send_live_frames(self, *, in_groups: bool) -> None:
        """The events of the socket's groups, in the order they arrive; a revoked device's
        socket closes at once. A socket opened while the layer was down joins its groups
        first, trying again with a growing pause until the layer is back."""
        if not in_groups:
            await self._join_groups_when_the_layer_is_back()
        assert self.live_channel is not None
        while True:
            try:
                event = await self.layer.receive(self.live_channel)
            except Exception as exc:  # noqa: BLE001 - the layer is down: live frames pause, as above
                realtime.layer_health.failed(exc)
                return
            async with self.sending:
                if event["type"] == "device.revoked":
                    await self.close(code=CLOSE_REVOKED)
                    return
                if event["type"] == "socket.superseded":
                    await self.close(code=CLOSE_SUPERSEDED)
                    return
                if event["type"] in LIVE_FRAME_TYPES:
                    await self.send_json(event)
                else:
                    logger.warning("a live event of unknown type %r was not sent", event["type"])

    async def _join_groups_when_the_layer_is_back(self) -> None:
        pause = LIVE_REJOIN_FIRST_PAUSE
        while True:
            await asyncio.sleep(pause)
            if await self._join_groups():
                break
            pause = min(pause * 2, LIVE_REJOIN_MAX_PAUSE)
        realtime.layer_health.succeeded()
        if self.device is not None:
            await self._make_room(self.device.pk)

    async def _watch_credential(self) -> None:
        """Close at the credential's end, and re-check it on a short beat so that a
        logout or a revocation whose event was lost still ends the socket."""
        recheck = settings.LIVLINA_SOCKET_RECHECK_SECONDS
        while True:
            remaining = (self.identity.valid_until - timezone.now()).total_seconds()
            await asyncio.sleep(max(0.0, min(recheck, remaining)))
            try:
                valid = await still_valid(self.identity)
            except DATABASE_UNAVAILABLE as error:
                # Checked again on the next beat; past the credential's end the check
                # needs no database, so an expired socket still closes on time.
                credential_check_health.failed(error)
                continue
            credential_check_health.succeeded()
            if not valid:
                await self.close(code=CLOSE_UNAUTHENTICATED)
                return

    async def handle(self, frame: dict[str, Any]) -> None:
        assert self.user is not None
        kind = frame["type"]
        if kind == "message.send":
            await self.send_json(await self._store(frame))
        elif kind == "sync":
            after = frame["after_seq"]
            while True:
                await _require_valid(self.identity)
                page = await _sync_page(self.user, frame["conversation"], after)
                for message in page.results:
                    await self.send_json(
                        {"type": "message.new", "conversation": frame["conversation"], "message": message}
                    )
                    after = message["seq"]
                if not page.has_more:
                    break
            await self.send_json({"type": "sync.done", "conversation": frame["conversation"], "last_seq": after})
        elif kind == "read":
            await _require_valid(self.identity)
            with realtime.collect_published() as receipts:
                await _read(self.user, frame["conversation"], frame["up_to_seq"])
            await realtime.publish_all(receipts)
        elif kind == "ping":
            await self.send_json({"type": "pong"})

    async def _store(self, frame: dict[str, Any]) -> dict[str, Any]:
        """The ack of a ``message.send``, stored with the sends of any socket of this process."""
        try:
            return await _send_queue().submit(SocketSend(self.identity, frame))
        except (CredentialGoneError, Problem):
            raise
        except Exception as error:
            cause = database_unavailable(error)
            if cause is not None:
                raise _unavailable(frame, cause) from None
            logger.exception("storing a message failed")
            raise FrameError("server-error", "The message was not stored; send it again.", frame["client_id"]) from None

    async def send_json(self, content: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(content, separators=(",", ":")))
