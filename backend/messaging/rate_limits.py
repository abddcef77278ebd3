"""How fast one device (or one staff member without a device) may send, over REST and
WebSocket together. A fixed window in Redis when it is configured, so the limit holds
across sockets and server processes (one pipelined round trip for a whole batch of
sends); in the process's own cache on the embedded default, which runs one process."""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence

import redis
from django.conf import settings
from django.core.cache import cache

from backend.accounts.models import Device, User
from backend.problems import Problem
from backend.realtime import OutageLog

cache_health = OutageLog("cache unavailable; message rate limits are not enforced until it is back")
# What a counter store that did not answer raises. redis-py can surface a connection that
# broke under it mid-handshake as the socket's own error, an OSError, or as a ValueError
# from its read buffer ("I/O operation on closed file", seen once under load while a
# Daphne process was killed), not as a RedisError; the store did not answer either way.
STORE_DID_NOT_ANSWER = (redis.RedisError, OSError, ValueError)

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
KEY_PREFIX = "livlina:send-rate"


def _rate() -> tuple[int, int]:
    count, _, period = settings.LIVLINA_MESSAGE_RATE.partition("/")
    return int(count), PERIODS[period[0]]


def _cache_redis_url() -> str | None:
    """The counters live where the cache lives: Redis when the cache is Redis."""
    config = settings.CACHES["default"]
    return config["LOCATION"] if config["BACKEND"].endswith(".RedisCache") else None


@functools.cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def _count_in_redis(url: str, keys: Sequence[str], ttl: int) -> list[int]:
    pipeline = _redis(url).pipeline(transaction=False)
    for key in keys:
        pipeline.incr(key)
        pipeline.expire(key, ttl)
    return [int(n) for n in pipeline.execute()[::2]]


def _count_in_cache(keys: Sequence[str], ttl: int) -> list[int]:
    counts = []
    for key in keys:
        cache.add(key, 0, timeout=ttl)
        try:
            counts.append(cache.incr(key))
        except ValueError:  # evicted between add and incr: start the window again
            cache.set(key, 1, timeout=ttl)
            counts.append(1)
    return counts


def take_send_budgets(senders: Sequence[tuple[User, Device | None]]) -> list[Problem | None]:
    """Count one send for each (user, device); for each, a 429 Problem when that sender
    is over ``LIVLINA_MESSAGE_RATE``, else None. With the counter store down, nothing is
    refused: a defector's message matters more than the limit."""
    limit, period = _rate()
    window = int(time.time() // period)
    keys = [
        f"{KEY_PREFIX}:{f'device:{device.pk}' if device is not None else f'user:{user.pk}'}:{window}"
        for user, device in senders
    ]
    try:
        url = _cache_redis_url()
        counts = _count_in_redis(url, keys, period * 2) if url else _count_in_cache(keys, period * 2)
    except STORE_DID_NOT_ANSWER as exc:
        cache_health.failed(exc)
        return [None] * len(senders)
    cache_health.succeeded()
    detail = f"At most {settings.LIVLINA_MESSAGE_RATE} messages; retry in {period - int(time.time()) % period}s."
    return [Problem(status_code=429, slug="rate-limited", detail=detail) if used > limit else None for used in counts]


def require_send_budget(*, user: User, device: Device | None) -> None:
    """Raise a 429 Problem when the sender is over ``LIVLINA_MESSAGE_RATE``."""
    (problem,) = take_send_budgets([(user, device)])
    if problem is not None:
        raise problem
