"""Channel-layer group names and publishing after commit: the one place both are defined.

Group names carry ids only, never names or content. Publishing is best-effort: the
database is the source of truth, so a layer that is down costs live delivery, not data.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections import deque
from collections.abc import Sequence
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


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


def publish_now(group: str, event: dict[str, Any]) -> None:
    try:
        layer = get_channel_layer()
        if layer is None:
            return
        async_to_sync(layer.group_send)(group, event)
    except Exception as exc:  # the layer is best-effort; never fail the caller's request
        layer_health.failed(exc)
    else:
        layer_health.succeeded()


def publish_on_commit(group: str, event: dict[str, Any]) -> None:
    """Send ``event`` to ``group`` once the current transaction commits (never before)."""
    transaction.on_commit(lambda: publish_now(group, event))


async def publish_all(events: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """``publish_now`` for many (group, event) pairs from async code, after the commit
    that made them true: the groups in parallel, each group's events in order (a client
    that sees ``seq`` jump syncs, so order saves it a round trip)."""
    by_group: dict[str, list[dict[str, Any]]] = {}
    for group, event in events:
        by_group.setdefault(group, []).append(event)
    try:
        layer = get_channel_layer()
        if layer is None or not by_group:
            return

        async def send_in_order(group: str, group_events: list[dict[str, Any]]) -> None:
            for event in group_events:
                await layer.group_send(group, event)

        outcomes = await asyncio.gather(
            *(send_in_order(group, group_events) for group, group_events in by_group.items()), return_exceptions=True
        )
        failure = next((o for o in outcomes if isinstance(o, Exception)), None)
        if failure is not None:
            raise failure
    except Exception as exc:  # best-effort, as publish_now
        layer_health.failed(exc)
    else:
        layer_health.succeeded()


class _OrderedPublisher:
    """Publishes batches of events in the order they were handed over, in the background
    of one event loop, so whoever hands them over (acks waiting to go out) does not wait
    for the channel layer."""

    def __init__(self) -> None:
        self._pending: deque[tuple[Sequence[tuple[str, dict[str, Any]]], asyncio.Future[None]]] = deque()
        self._task: asyncio.Task[None] | None = None

    def put(self, events: Sequence[tuple[str, dict[str, Any]]]) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((events, done))
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        return done

    async def _run(self) -> None:
        try:
            while self._pending:
                events, done = self._pending.popleft()
                try:
                    await publish_all(events)
                finally:
                    if not done.done():
                        done.set_result(None)
        finally:
            self._task = None


_publishers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _OrderedPublisher] = weakref.WeakKeyDictionary()


def publish_soon(events: Sequence[tuple[str, dict[str, Any]]]) -> asyncio.Future[None]:
    """From async code, after the commit that made ``events`` true: ``publish_all`` them in
    the background of the running loop, after every earlier ``publish_soon`` call's events.
    The future is done when they have gone out (or failed to: publishing is best-effort)."""
    loop = asyncio.get_running_loop()
    publisher = _publishers.get(loop)
    if publisher is None:
        publisher = _publishers[loop] = _OrderedPublisher()
    return publisher.put(events)
