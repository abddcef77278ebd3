"""Enrollment-code guessing: a throttle per client address, and an installation-wide
alarm.

With 60-bit codes that live a day, guessing is hopeless even at a server's full rate
(finding one live code among 1,000 takes on the order of 2**60 / 1000 guesses), so the
installation-wide budget refuses nobody: a global limit cannot tell a guess from a
defector enrolling a replacement phone, and one address would otherwise lock everyone
out. It counts only wrong codes (requests its address's throttle let through) and logs
one warning when an hour's count passes ``LIVLINA_ENROLL_RATE_GLOBAL``, for the
operators to look at."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.core.cache import cache
from django.utils import timezone
from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from typing_extensions import override

from backend.accounts.throttles import FailClosedThrottle

if TYPE_CHECKING:
    from rest_framework.views import APIView

logger = logging.getLogger(__name__)


class EnrollmentAddressThrottle(FailClosedThrottle):
    scope = "enroll_address"

    @override
    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class _GlobalEnrollmentBudget(SimpleRateThrottle):
    # Only its rate is used (DRF's parsing of "200/hour"); it never throttles a request.
    scope = "enroll_global"


def note_wrong_enrollment_code() -> None:
    """Count a wrong code installation-wide; the one that passes the hour's budget logs
    the alarm. Best effort: with the cache down the per-address throttle refuses
    enrollment anyway."""
    budget = _GlobalEnrollmentBudget()
    limit, seconds = budget.parse_rate(budget.rate)
    if limit is None or seconds is None:
        return
    key = f"enroll-wrong-codes:{int(timezone.now().timestamp()) // seconds}"
    try:
        cache.add(key, 0, timeout=seconds)
        count = cache.incr(key)
    except (RedisError, ValueError):  # the cache is down, or the key expired in between
        return
    if count == limit + 1:
        logger.warning(
            "%d wrong enrollment codes this hour across all addresses (budget %s): someone may be guessing",
            count,
            budget.rate,
        )
