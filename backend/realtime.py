"""Channel-layer group names and publishing after commit: the one place both are defined.

Group names carry ids only, never names or content. Publishing is best-effort: the
database is the source of truth, so a layer that is down costs live delivery, not data.
"""

from __future__ import annotations

import logging
import threading
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
