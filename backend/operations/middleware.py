"""One log line per request, under a request id that the response returns and the rows
the request writes for the worker keep (``X-Request-ID``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBase

from backend.problems import RETRY_AFTER_SECONDS, database_unavailable
from backend.structured_logs import bound_request_id, new_request_id

access_log = logging.getLogger("livlina.access")
logger = logging.getLogger(__name__)
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


# A page outside the API (the inbox) whose database stopped answering: the same short
# answer as the API's 503, as a page that needs nothing from the database to render
# (the inbox's own layout would look up the session, the language and the phone).
UNAVAILABLE_PAGE = """<!doctype html>
<html lang="sv"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Livlina</title></head><body>
<main><h1>Livlina svarar inte just nu</h1><p>Försök igen om en stund; inget du skickat har gått förlorat.</p>
<p lang="en">Livlina is not answering just now. Try again in a moment; nothing you sent was lost.</p></main>
</body></html>
"""


class DatabaseUnavailableMiddleware:
    """A page outside DRF (the inbox's) that fails because the database did not answer
    gets a 503 with ``Retry-After`` and one warning line, not a 500 with a traceback. The
    API's views are all DRF's: their problem handler answers the same as problem+json."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_exception(self, _request: HttpRequest, exception: Exception) -> HttpResponseBase | None:
        cause = database_unavailable(exception)
        if cause is None:
            return None
        logger.warning("database unavailable, answered 503: %r", cause)
        response = HttpResponse(UNAVAILABLE_PAGE, status=503, content_type="text/html; charset=utf-8")
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        response["Cache-Control"] = "no-store"
        return response
