"""RFC 9457 problem details for every error the API returns.

Each problem has a stable ``type`` (``urn:livlina:problem:<slug>``), a human ``title``,
the HTTP ``status``, a ``detail`` and, for validation errors, ``errors``: a list of
``{field, message}`` so a client can point at the field that is wrong.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime
from typing import Any, NotRequired, TypedDict

from django.db import DataError, InterfaceError, OperationalError
from django.http import JsonResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"

TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    410: "Gone",
    413: "Payload too large",
    415: "Unsupported media type",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


class Problem(exceptions.APIException):
    """An API error with a stable slug, raised by services and views alike."""

    def __init__(self, *, status_code: int, slug: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail=detail)
        self.status_code = status_code
        self.slug = slug
        self.field = field


_API_DATETIME = serializers.DateTimeField()  # holds no state between calls; one for all


def api_datetime(value: datetime) -> str:
    """A timestamp as the API writes it everywhere (DRF's form: ISO 8601, UTC as Z), also
    for frames built outside serializers."""
    return _API_DATETIME.to_representation(value)


class FieldError(TypedDict):
    field: str  # "" for the request as a whole
    message: str


class ProblemBody(TypedDict):
    type: str
    title: str
    status: int
    detail: str
    errors: NotRequired[list[FieldError]]
    retry_after: NotRequired[int]  # seconds, on a 429 or a 503


def problem_type(slug: str) -> str:
    return f"urn:livlina:problem:{slug}"


def _flatten_errors(detail: Any, prefix: str = "") -> list[FieldError]:
    if isinstance(detail, dict):
        out: list[FieldError] = []
        for key, value in detail.items():
            name = "" if key == "non_field_errors" else str(key)
            out.extend(_flatten_errors(value, f"{prefix}.{name}" if prefix and name else prefix or name))
        return out
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            return [FieldError(field=prefix, message=str(item)) for item in detail]
        out = []
        for index, item in enumerate(detail):
            out.extend(_flatten_errors(item, f"{prefix}[{index}]"))
        return out
    return [FieldError(field=prefix, message=str(detail))]


def problem_body(*, status_code: int, slug: str, detail: str, errors: list[FieldError] | None = None) -> ProblemBody:
    body = ProblemBody(
        type=problem_type(slug), title=TITLES.get(status_code, "Error"), status=status_code, detail=detail
    )
    if errors:
        body["errors"] = errors
    return body


_SLUGS = {
    exceptions.ParseError: "malformed-request",
    exceptions.AuthenticationFailed: "not-authenticated",
    exceptions.NotAuthenticated: "not-authenticated",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not-found",
    exceptions.MethodNotAllowed: "method-not-allowed",
    exceptions.NotAcceptable: "not-acceptable",
    exceptions.UnsupportedMediaType: "unsupported-media-type",
    exceptions.Throttled: "rate-limited",
}


# The database did not answer: its connection died (a restart, a failover, a backend
# terminated), it refused a new one, or it gave up on a lock or a deadlock. The request can
# be sent again as it was (a message with the same client_id is stored once), so the
# answer says so instead of a 500 with a traceback; Django opens a new connection for the
# next request.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 1


def database_unavailable(error: BaseException) -> BaseException | None:
    """The database's error if ``error``, or an error it was raised from, is the database
    not answering; else None."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, DATABASE_UNAVAILABLE):
            return cause
        cause = cause.__cause__
    return None


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    # Imported here: rest_framework.views loads the authentication classes (DRF settings),
    # which import this module, so a top-level import would be a cycle.
    from rest_framework.views import exception_handler  # noqa: PLC0415

    if isinstance(exc, (OverflowError, DataError)):
        # A number or text the database cannot hold (an id of 10**30, a NUL byte): the
        # client's input, not a server fault.
        exc = Problem(status_code=400, slug="out-of-range", detail="A value in the request is out of range.")
    elif isinstance(exc, DATABASE_UNAVAILABLE):
        logger.warning("database unavailable, answered 503: %r", exc)
        exc = Problem(status_code=503, slug="unavailable", detail="The database did not answer; retry shortly.")
    response = exception_handler(exc, context)
    if response is None:
        return None  # a real bug: Django's 500 handler answers (as problem+json, see urls.py)
    status_code = response.status_code
    if isinstance(exc, Problem):
        errors = [FieldError(field=exc.field, message=str(exc.detail))] if exc.field else None
        body = problem_body(status_code=status_code, slug=exc.slug, detail=str(exc.detail), errors=errors)
    elif isinstance(exc, exceptions.ValidationError):
        errors = _flatten_errors(exc.detail)
        detail = "; ".join(f"{e['field'] or 'request'}: {e['message']}" for e in errors) or "Invalid input."
        body = problem_body(status_code=status_code, slug="validation", detail=detail, errors=errors)
    else:
        slug = next((s for cls, s in _SLUGS.items() if isinstance(exc, cls)), "error")
        detail = str(exc.detail) if isinstance(exc, exceptions.APIException) else str(exc)
        body = problem_body(status_code=status_code, slug=slug, detail=detail)
        wait = getattr(exc, "wait", None)
        if isinstance(exc, exceptions.Throttled) and wait is not None:
            body["retry_after"] = max(1, math.ceil(wait))
    if status_code == status.HTTP_503_SERVICE_UNAVAILABLE:
        body["retry_after"] = RETRY_AFTER_SECONDS
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    if status_code == status.HTTP_401_UNAUTHORIZED and "WWW-Authenticate" not in response:
        response["WWW-Authenticate"] = "Bearer"
    response.data = body
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def problem_response(*, status_code: int, slug: str, detail: str) -> JsonResponse:
    """A problem+json answer outside DRF (Django's own 404/500 handlers for /api/)."""
    return JsonResponse(
        problem_body(status_code=status_code, slug=slug, detail=detail),
        status=status_code,
        content_type=PROBLEM_CONTENT_TYPE,
    )


# --- problems in the OpenAPI schema ---------------------------------------------------

# What each status means in this API, for the schema's response descriptions.
PROBLEM_DESCRIPTIONS = {
    400: "`validation` (a value is wrong: `errors` names each field) or `malformed-request` (the body is"
    " not JSON or nests over 32 levels, a charset that is no text encoding, a Host this server does not"
    " answer for); some endpoints name their own slug (see docs/api.md)",
    401: "`not-authenticated`: no credentials, or an access token that is invalid, expired, rotated away"
    " or of a revoked device",
    403: "`forbidden`: the caller's kind or role may not do this (an unsafe request with a staff session"
    " also needs its CSRF token)",
    404: "`not-found`: no such resource, or one the caller may not see (the same answer)",
    406: "`not-acceptable`: the Accept header admits no JSON",
    409: "the resource's state does not allow this now; the slug says why",
    413: "`payload-too-large`: the request body is over 64 KiB",
    415: "`unsupported-media-type`: the body is not application/json",
    429: "`rate-limited`: too many requests; `retry_after` says how many seconds to wait where known",
}


class FieldErrorOutput(serializers.Serializer[FieldError]):
    field = serializers.CharField(help_text='the wrong field ("" for the request as a whole)')
    message = serializers.CharField()


@extend_schema_serializer(component_name="Problem")
class ProblemOutput(serializers.Serializer[ProblemBody]):
    type = serializers.CharField(help_text="urn:livlina:problem:<slug>")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    # The body's key is "errors", which DRF's Serializer also names its validation errors.
    errors = FieldErrorOutput(many=True, required=False)  # type: ignore[assignment]
    retry_after = serializers.IntegerField(required=False, help_text="seconds to wait, on some 429s")


def problem_schema_response(status_code: int) -> OpenApiResponse:
    """The schema's entry for a problem answer with this status."""
    return OpenApiResponse(ProblemOutput, description=PROBLEM_DESCRIPTIONS.get(status_code, TITLES[status_code]))


def problem_responses(*status_codes: int) -> dict[Any, Any]:
    """``extend_schema(responses=…)`` entries for the problems an endpoint itself decides
    (a role it refuses, a state conflict), as ``application/problem+json``. What follows
    from the endpoint's shape (401 and 403 of its base, 400/413/415 for a body, 404 for an
    id in the path, 429 for a throttle) ``api_schema.ProblemAutoSchema`` adds itself."""
    return {(code, PROBLEM_CONTENT_TYPE): problem_schema_response(code) for code in status_codes}
