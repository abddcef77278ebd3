"""How many sockets a device has open, across every server process.

A device may hold ``LIVLINA_SOCKETS_PER_DEVICE`` sockets at once. The one over the cap
that goes is the OLDEST, not the newest: a phone that lost its network silently (a
tunnel, a lift) leaves a socket the server still thinks is open and reconnects with a
new one; refusing the newest would lock it out until the dead ones time out, while the
oldest is the one most likely to be dead already. The oldest is told to close through the
channel layer (``socket.superseded`` to its own channel, wherever it lives) and closes
with ``CLOSE_SUPERSEDED``.

With Redis (``REDIS_URL``, as in production with several Daphne processes) the register
is a sorted set per device in Redis (score: when the socket opened), so the cap holds
across processes; its entries expire with the longest a device socket can live (its
access token's lifetime), so a process that died without unregistering leaves nothing
behind for long. Without Redis (development, one process) the register is this
process's own.

Should Redis be unreachable, sockets still open (availability first); the cap is then
not enforced until it is back."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import defaultdict

from django.conf import settings
from django.utils import timezone
from redis.asyncio import Redis

from backend.realtime import OutageLog

logger = logging.getLogger(__name__)

register_health = OutageLog("socket register unavailable, sockets per device not capped")

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Redis] = weakref.WeakKeyDictionary()
# Without Redis: device id -> {channel name: opened at}, in this process.
_local: defaultdict[str, dict[str, float]] = defaultdict(dict)


def _key(device_id: str) -> str:
    return f"livlina:sockets:device:{device_id}"


def _client() -> Redis:
    """One client per event loop: redis.asyncio's connections belong to the loop that
    made them (Daphne runs one loop per process; tests run one per test)."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        client = _clients[loop] = Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    return client


def _lifetime_seconds() -> float:
    return settings.LIVLINA_ACCESS_TOKEN_TTL.total_seconds()


async def register(device_id: object, channel: str) -> list[str]:
    """Record that ``channel`` (a socket of this device) opened; the channels of the
    device's oldest sockets beyond the cap, which the caller tells to close. They are
    already out of the register."""
    device = str(device_id)
    cap = settings.LIVLINA_SOCKETS_PER_DEVICE
    now = timezone.now().timestamp()
    stale_before = now - _lifetime_seconds()
    if not settings.REDIS_URL:
        sockets = _local[device]
        for name in [name for name, opened in sockets.items() if opened < stale_before]:
            del sockets[name]
        sockets[channel] = now
        oldest = sorted(sockets, key=sockets.__getitem__)[: max(0, len(sockets) - cap)]
        for name in oldest:
            del sockets[name]
        return oldest
    key = _key(device)
    try:
        async with _client().pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(key, "-inf", f"({stale_before}")
            pipe.zadd(key, {channel: now})
            # Everything but the newest ``cap``, oldest first (ties: by name, either is fine).
            pipe.zrange(key, 0, -(cap + 1))
            pipe.zremrangebyrank(key, 0, -(cap + 1))
            pipe.expire(key, int(_lifetime_seconds()) + 60)
            results = await pipe.execute()
    except Exception as exc:  # noqa: BLE001 - the cap is a safeguard, not a reason to refuse
        register_health.failed(exc)
        return []
    register_health.succeeded()
    return [name.decode() for name in results[2]]


async def unregister(device_id: object, channel: str) -> None:
    device = str(device_id)
    if not settings.REDIS_URL:
        _local[device].pop(channel, None)
        if not _local[device]:
            del _local[device]
        return
    try:
        await _client().zrem(_key(device), channel)
    except Exception as exc:  # noqa: BLE001 - the entry expires by itself
        register_health.failed(exc)
