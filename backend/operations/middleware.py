"""One log line per request, under a request id that the response returns and the rows
the request writes for the worker keep (``X-Request-ID``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from backend.structured_logs import bound_request_id, new_request_id

access_log = logging.getLogger("livlina.access")
# Probes and scrapes come every few seconds; a failing one is still logged at INFO.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class RequestLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request_id = new_request_id(request.headers.get("X-Request-ID"))
        started = time.perf_counter()
        with bound_request_id(request_id):
            response = self.get_response(request)
            # The path only: a query string may carry a stated reason (``?why=``).
            quiet = request.path in QUIET_PATHS and response.status_code < 400  # noqa: PLR2004
            access_log.log(
                logging.DEBUG if quiet else logging.INFO,
                "%s %s %d %.1fms",
                request.method,
                request.path,
                response.status_code,
                (time.perf_counter() - started) * 1000,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
        # Django's handler logs every response >= 400 again, outside this context (so
        # without the request id), unless the response says it was logged.
        response._has_been_logged = True  # type: ignore[attr-defined]  # noqa: SLF001
        response["X-Request-ID"] = request_id
        return response
