"""How fast one device (or one staff member without a device) may send, over REST and
WebSocket together. A fixed window in the shared cache (Redis in production), so the
limit holds across sockets and server processes."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache

from backend.accounts.models import Device, User
from backend.problems import Problem
from backend.realtime import OutageLog

cache_health = OutageLog("cache unavailable; message rate limits are not enforced until it is back")

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _rate() -> tuple[int, int]:
    count, _, period = settings.LIVLINA_MESSAGE_RATE.partition("/")
    return int(count), PERIODS[period[0]]


def require_send_budget(*, user: User, device: Device | None) -> None:
    """Raise a 429 Problem when the sender is over ``LIVLINA_MESSAGE_RATE``."""
    limit, period = _rate()
    ident = f"device:{device.pk}" if device is not None else f"user:{user.pk}"
    window = int(time.time() // period)
    key = f"send-rate:{ident}:{window}"
    try:
        cache.add(key, 0, timeout=period * 2)
        try:
            used = cache.incr(key)
        except ValueError:  # evicted between add and incr: start the window again
            cache.set(key, 1, timeout=period * 2)
            used = 1
    except Exception as exc:
        # The cache (Redis) is down: a defector's message matters more than the limit.
        cache_health.failed(exc)
        return
    cache_health.succeeded()
    if used > limit:
        raise Problem(
            status_code=429,
            slug="rate-limited",
            detail=f"At most {settings.LIVLINA_MESSAGE_RATE} messages; retry in {period - int(time.time()) % period}s.",
        )
