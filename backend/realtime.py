"""Channel-layer group names and publishing after commit: the one place both are defined.

Group names carry ids only, never names or content. Publishing is best-effort: the
database is the source of truth, so a layer that is down costs live delivery, not data.

Domain code publishes one way, ``publish_on_commit``/``publish_many_on_commit``; where
the frames go once their transaction commits depends on who is running it:

- inside ``collect_published()`` (the socket path opens one around the work of a batch of
  frames) they are kept for the opener, which sends them from its own event loop with
  ``publish_all``, before it answers its clients;
- in code serving a connection of the ASGI application (``serving_connections`` marks
  it, and asgiref carries the mark into the threads that run its sync code) they go out
  on the server's loop, where the sockets live;
- anywhere else, a plain thread such as the worker's, through one long-lived loop per
  process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from asgiref.sync import async_to_sync
from asgiref.typing import ASGI3Application, ASGIReceiveCallable, ASGISendCallable, Scope
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction

from backend import metrics

logger = logging.getLogger(__name__)

Frame = tuple[str, dict[str, Any]]  # (group, event)


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def device_group(device_id: object) -> str:
    return f"device.{device_id}"


class OutageLog:
    """Logs a broken dependency once, and once more when it recovers, not per request."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._lock = threading.Lock()
        self.failing = False

    def failed(self, exc: Exception) -> None:
        with self._lock:
            if not self.failing:
                logger.error("%s: %r", self.what, exc)
            self.failing = True

    def succeeded(self) -> None:
        with self._lock:
            if self.failing:
                logger.warning("recovered: %s", self.what)
            self.failing = False


layer_health = OutageLog("channel layer unavailable, live delivery paused (clients sync)")


def publish_on_commit(group: str, event: dict[str, Any]) -> None:
    """Send ``event`` to ``group`` once the current transaction commits (never before)."""
    publish_many_on_commit([(group, event)])


def publish_many_on_commit(frames: Iterable[Frame]) -> None:
    """Send every ``(group, event)`` once the current transaction commits (never before)."""
    batch = list(frames)
    if batch:
        transaction.on_commit(lambda: publish_many_now(batch))


def publish_now(group: str, event: dict[str, Any]) -> None:
    publish_many_now([(group, event)])


def publish_many_now(frames: Iterable[Frame]) -> None:
    """Send frames whose commit has happened, in one hop to an event loop (or hand them to
    the collector open in this context). Never raises: a layer outage is logged once."""
    batch = list(frames)
    if not batch:
        return
    collected = _collected.get()
    if collected is not None:
        collected.extend(batch)
        return
    try:
        layer = get_channel_layer()
        if layer is None:
            return
        _send_all(layer, batch)
    except Exception as exc:  # noqa: BLE001 - the layer is best-effort; never fail the caller's request
        layer_health.failed(exc)
    else:
        layer_health.succeeded()


# --- collecting, for code that sends from its own event loop ----------------------------

_collected: ContextVar[list[Frame] | None] = ContextVar("livlina_collected_frames", default=None)


@contextmanager
def collect_published() -> Iterator[list[Frame]]:
    """Keep the frames published in this context while open, in the order their commits
    happened, instead of sending them; the opener sends them with ``publish_all``. The
    context reaches the threads that ``sync_to_async`` starts from it (asgiref copies it),
    so the commits of the ORM work a coroutine awaits land here too."""
    frames: list[Frame] = []
    token = _collected.set(frames)
    try:
        yield frames
    finally:
        _collected.reset(token)


async def _send_grouped(layer: Any, events: Sequence[Frame]) -> None:
    """Send every event: the groups in parallel, each group's events in order (a client
    that sees ``seq`` jump syncs, so order saves it a round trip). Raises the first error
    after trying them all."""
    by_group: dict[str, list[dict[str, Any]]] = {}
    for group, event in events:
        by_group.setdefault(group, []).append(event)

    async def send_in_order(group: str, group_events: list[dict[str, Any]]) -> Exception | None:
        first_error = None
        for event in group_events:
            try:
                await layer.group_send(group, event)
            except Exception as exc:  # noqa: BLE001 - collected: the other groups are still tried, the first error raised after
                first_error = first_error or exc
        return first_error

    errors = await asyncio.gather(*(send_in_order(group, group_events) for group, group_events in by_group.items()))
    first_error = next((error for error in errors if error is not None), None)
    if first_error is not None:
        raise first_error


PUBLISH_TIMEOUT_SECONDS = 2.0
PAUSE_AFTER_HANG_SECONDS = 15.0


class LayerPausedError(Exception):
    """Publishing is paused: the channel layer hung a moment ago."""


class _HangGuard:
    """A layer that hangs (rather than failing fast) costs one timeout; then publishing is
    skipped for ``PAUSE_AFTER_HANG_SECONDS``, so the worker's jobs and the server's acks go
    on (live frames pause, clients sync), and the first try after the pause finds out
    whether the layer is back."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._paused_until = 0.0

    def check(self) -> None:
        if self._clock() < self._paused_until:
            raise LayerPausedError("the channel layer hung; publishing paused")

    def hung(self) -> None:
        with self._lock:
            self._paused_until = self._clock() + PAUSE_AFTER_HANG_SECONDS


hang_guard = _HangGuard()


async def _guarded_send(layer: Any, events: Sequence[Frame]) -> None:
    try:
        hang_guard.check()
        await asyncio.wait_for(_send_grouped(layer, events), PUBLISH_TIMEOUT_SECONDS)
    except TimeoutError:
        hang_guard.hung()
        metrics.FRAMES_FAILED.inc(len(events))
        raise
    except Exception:
        # The whole batch counts as failed: frames of other groups may have gone out, but
        # the clients of this batch sync either way.
        metrics.FRAMES_FAILED.inc(len(events))
        raise
    metrics.FRAMES_PUBLISHED.inc(len(events))


async def publish_all(events: Sequence[Frame]) -> None:
    """``publish_many_now`` from async code, on the running loop: for the frames a
    ``collect_published()`` gathered, after the commits that made them true."""
    if not events:
        return
    try:
        layer = get_channel_layer()
        if layer is None:
            return
        await _guarded_send(layer, events)
    except Exception as exc:  # noqa: BLE001 - best-effort, as publish_many_now
        layer_health.failed(exc)
    else:
        layer_health.succeeded()


# --- where a thread publishes --------------------------------------------------------------

_serving_connection: ContextVar[bool] = ContextVar("livlina_serving_connection", default=False)


def serving_connections(app: ASGI3Application) -> ASGI3Application:
    """The ASGI application ``app``, with the code that serves its connections marked: a
    request's view, run by asgiref in a thread, then publishes on the server's own loop
    (``async_to_sync`` goes back to the loop that called ``sync_to_async``), as a thread
    that belongs to no server cannot."""

    async def serve(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        token = _serving_connection.set(True)
        try:
            await app(scope, receive, send)
        finally:
            _serving_connection.reset(token)

    return serve


# ``async_to_sync`` outside a server makes a new event loop per call, and the Redis layers
# keep their connections per loop: the worker paid a fresh Redis connection (~5 ms) for
# every frame. Plain threads publish through one long-lived loop per process instead.

_publish_loop_lock = threading.Lock()
_publish_loop: tuple[int, asyncio.AbstractEventLoop] | None = None


def _long_lived_loop() -> asyncio.AbstractEventLoop:
    global _publish_loop  # noqa: PLW0603 - one loop per process, replaced only in a forked child, under the lock
    with _publish_loop_lock:
        if _publish_loop is None or _publish_loop[0] != os.getpid():  # a forked child starts its own
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="livlina-publish", daemon=True).start()
            _publish_loop = (os.getpid(), loop)
        return _publish_loop[1]


def _send_all(layer: Any, frames: list[Frame]) -> None:
    """Send every frame from a thread; raise the first error after trying them all."""

    async def send() -> None:
        await _guarded_send(layer, frames)

    # The in-memory layer's queues belong to the loop of the sockets waiting on them, so
    # it keeps asgiref's path; so does code serving a connection, which has the server's loop.
    if isinstance(layer, InMemoryChannelLayer) or _serving_connection.get():
        async_to_sync(send)()
        return
    future = asyncio.run_coroutine_threadsafe(send(), _long_lived_loop())
    try:
        future.result(timeout=PUBLISH_TIMEOUT_SECONDS + 1)  # send() times out first
    except TimeoutError:
        future.cancel()
        raise
