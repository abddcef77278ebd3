"""Throttles that fail closed, and the limits on staff logins (password + TOTP). The
enrollment-code throttles build on ``FailClosedThrottle`` in ``cases.throttles``.

Staff logins are limited two ways, both counting failures only (an office behind one NAT
address logs in all day without spending anything):

- per account, an exponential back-off: after ``LIVLINA_LOGIN_FREE_FAILURES`` wrong
  attempts in a row, each further one locks the account's logins for twice as long as the
  last (2 s, 4 s, …), at most ``LIVLINA_LOGIN_BACKOFF_MAX_SECONDS``; attempts refused
  while locked are not evaluated and do not lengthen the lock, so the owner waits at most
  the cap after the last guess; a success starts the count afresh;
- per client address, the ``staff_login`` rate (20 failures an hour) across accounts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
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


@dataclass(frozen=True)
class LoginHeldBackError(Exception):
    """A staff login refused unevaluated: wait ``retry_after`` seconds."""

    retry_after: int


class _StaffLoginFailureRate(SimpleRateThrottle):
    # Only its rate is used (DRF's parsing of "20/hour").
    scope = "staff_login"


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


def _count(key: str, *, timeout: int) -> int:
    """Add one to a counter in the cache and return it."""
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # it expired between the two calls
        cache.set(key, 1, timeout=timeout)
        return 1


def _wait_until(until: float) -> LoginHeldBackError:
    return LoginHeldBackError(max(1, math.ceil(until - timezone.now().timestamp())))


def _address_window(address: str) -> tuple[str, float, int]:
    """The cache key of this address's failures in the current window, the window's
    end, and how many failures it allows."""
    rate = _StaffLoginFailureRate()
    limit, seconds = rate.parse_rate(rate.rate)
    assert limit is not None and seconds is not None  # the rate is in settings
    window = int(timezone.now().timestamp()) // seconds
    return f"staff-login-failures:{address}:{window}", float((window + 1) * seconds), limit


def hold_back_staff_login(*, account: str, address: str) -> None:
    """Raise LoginHeldBackError if this account is backing off or this address has failed
    too often; otherwise count the attempt against the account before it is evaluated,
    so that parallel guesses cannot all slip in before the first failure is recorded.
    ``account`` is a keyed hash of the typed username. Fails closed without the cache."""
    now = timezone.now().timestamp()
    try:
        locked_until = cache.get(f"staff-login-lock:{account}")
        if locked_until is not None and locked_until > now:
            raise _wait_until(locked_until)
        key, window_end, limit = _address_window(address)
        if (cache.get(key) or 0) >= limit:
            raise _wait_until(window_end)
        attempts = _count(f"staff-login-attempts:{account}", timeout=24 * 3600)
        free = settings.LIVLINA_LOGIN_FREE_FAILURES
        if attempts >= free:
            cap = settings.LIVLINA_LOGIN_BACKOFF_MAX_SECONDS
            backoff = min(2 ** min(attempts - free + 1, 32), cap)
            cache.set(f"staff-login-lock:{account}", now + backoff, timeout=cap + 60)
    except RedisError as exc:
        throttle_health.failed(exc)
        raise LoginHeldBackError(FailClosedThrottle.cache_down_wait_seconds) from None


def staff_login_failed(*, address: str) -> None:
    """Count a failed login against its address (the account counted it already)."""
    key, window_end, _ = _address_window(address)
    try:
        _count(key, timeout=math.ceil(window_end - timezone.now().timestamp()) + 60)
    except RedisError as exc:
        throttle_health.failed(exc)


def staff_login_succeeded(*, account: str) -> None:
    """The owner is in: their account's count starts afresh."""
    try:
        cache.delete_many([f"staff-login-attempts:{account}", f"staff-login-lock:{account}"])
    except RedisError as exc:
        throttle_health.failed(exc)
