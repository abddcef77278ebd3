"""Throttles that make guessing an enrollment code hopeless: per client address, and
globally (an attacker with many addresses shares one budget). With 60-bit codes and the
default 200 attempts an hour installation-wide, finding one live code among 1,000 takes
on the order of 2**60 / 1000 / 200 hours."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.request import Request
from typing_extensions import override

from backend.accounts.throttles import FailClosedThrottle

if TYPE_CHECKING:
    from rest_framework.views import APIView


class EnrollmentAddressThrottle(FailClosedThrottle):
    scope = "enroll_address"

    @override
    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class EnrollmentGlobalThrottle(FailClosedThrottle):
    scope = "enroll_global"

    @override
    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self.cache_format % {"scope": self.scope, "ident": "all"}
