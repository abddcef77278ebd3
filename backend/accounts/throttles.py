"""Throttles that fail closed, and the one on staff logins (password + TOTP). The
enrollment-code throttles build on ``FailClosedThrottle`` in ``cases.throttles``."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from backend.realtime import OutageLog

throttle_health = OutageLog("cache unavailable; enrollment and staff login refused until it is back")


class FailClosedThrottle(SimpleRateThrottle):
    """While the cache that counts attempts is down, refuse (429) rather than let
    guessing run unthrottled."""

    def allow_request(self, request: Request, view: Any) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception as exc:
            throttle_health.failed(exc)
            self.wait = lambda: 60  # type: ignore[method-assign]
            return False


class StaffLoginThrottle(FailClosedThrottle):
    scope = "staff_login"

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
