"""Throttles that fail closed, and the one on staff logins (password + TOTP). The
enrollment-code throttles build on ``FailClosedThrottle`` in ``cases.throttles``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from typing_extensions import override

from backend.realtime import OutageLog

if TYPE_CHECKING:
    from rest_framework.views import APIView

throttle_health = OutageLog("cache unavailable; enrollment and staff login refused until it is back")


class FailClosedThrottle(SimpleRateThrottle):
    """While the cache that counts attempts is down, refuse (429) rather than let
    guessing run unthrottled."""

    # What a client refused while the cache is down is told to wait (Retry-After). DRF
    # makes a throttle per request, so `cache_down` speaks of this request only.
    cache_down_wait_seconds = 60
    cache_down = False

    @override
    def allow_request(self, request: Request, view: APIView) -> bool:
        try:
            return super().allow_request(request, view)
        except RedisError as exc:  # the cache is Redis (settings.CACHES); LocMemCache never fails
            throttle_health.failed(exc)
            self.cache_down = True
            return False

    @override
    def wait(self) -> float | None:
        if self.cache_down:
            return self.cache_down_wait_seconds
        return super().wait()


class StaffLoginThrottle(FailClosedThrottle):
    scope = "staff_login"

    @override
    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


device_update_throttle_health = OutageLog("cache unavailable; device updates are not rate-limited until it is back")


class DeviceUpdateThrottle(SimpleRateThrottle):
    """Per device: a phone updates its push token or name a few times an hour at most.
    Fails open: a staff phone that cannot register its fresh token misses its alerts,
    which is worse than a phone updating itself too often while the cache is down."""

    scope = "device_update"

    @override
    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        device_id = getattr(request.auth, "pk", None)
        if device_id is None:
            return None  # no device: the view refuses the request, nothing to count
        return self.cache_format % {"scope": self.scope, "ident": str(device_id)}

    @override
    def allow_request(self, request: Request, view: APIView) -> bool:
        try:
            return super().allow_request(request, view)
        except RedisError as exc:  # the cache is Redis (settings.CACHES); LocMemCache never fails
            device_update_throttle_health.failed(exc)
            return True
