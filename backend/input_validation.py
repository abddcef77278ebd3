"""Input is validated one way: a serializer per request body (``StrictSerializer``: a
misspelt or unexpected field is an error the client hears about, not something silently
ignored) or query string (``QuerySerializer``), checked by ``validated_input``. The API
base views (``backend.accounts.api_views``) call it as ``parse_body`` / ``parse_query``."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import IO, Any, ClassVar, NoReturn

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponseBase
from django.utils.http import parse_header_parameters
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from typing_extensions import override

from backend.problems import PROBLEM_CONTENT_TYPE, Problem, problem_body, problem_response

logger = logging.getLogger(__name__)

# An ASGI application as Django's handler and Channels' router both take it.
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]

# No body or frame of the API nests deeper than a handful of levels; this leaves room to
# grow and keeps whatever walks a parsed value (serializers, error lists) far from
# Python's recursion limit.
MAX_JSON_DEPTH = 32


# The type argument is the instance a serializer reads or writes: an input serializer has none.
class InputSerializer(serializers.Serializer[None]):
    """A serializer that only reads input; output shapes are the apps' output serializers."""

    def create(self, validated_data: Any) -> NoReturn:  # pragma: no cover - input only
        raise NotImplementedError

    def update(self, instance: None, validated_data: Any) -> NoReturn:  # pragma: no cover - input only
        raise NotImplementedError


class QuerySerializer(InputSerializer):
    """Query-string parameters. Unknown ones are ignored: browsers, proxies and caches add
    their own. An empty value is a value (``?limit=`` is not an integer), not an absent
    parameter."""


NOT_TEXT = "Must be a string."

# What DRF's text fields take, as JSON Schema patterns (Python's and ECMAScript's regex
# syntax alike): never a NUL character (ProhibitNullCharactersValidator), and, where a
# field trims whitespace and refuses blanks, at least one character that is not space.
TEXT_PATTERN = r"^[^\x00]*$"
NOT_BLANK_TEXT_PATTERN = r"^[^\x00]*[^\s\x00][^\x00]*$"
NOT_INTEGER = "Must be an integer (a JSON number without a fraction, not a string)."


def _takes_text(field: serializers.Field[Any, Any, Any, Any]) -> bool:
    if isinstance(field, serializers.ChoiceField):
        return all(isinstance(choice, str) for choice in field.choices)
    return isinstance(field, serializers.CharField | serializers.UUIDField)


def json_type_error(field: serializers.Field[Any, Any, Any, Any], value: Any) -> Any:
    """Why ``value`` is not of the JSON type ``field`` takes, or None. DRF converts: its
    CharField takes 0 and true as "0" and "True", its IntegerField "3" and 3.0, its
    UUIDField an integer. A body says what it means or is refused; ``null`` is left to
    the field's own ``allow_null``."""
    if value is None:
        return None
    if _takes_text(field):
        return None if isinstance(value, str) else [NOT_TEXT]
    if isinstance(field, serializers.IntegerField):
        return None if isinstance(value, int) and not isinstance(value, bool) else [NOT_INTEGER]
    if isinstance(field, serializers.ListField) and isinstance(value, list):
        wrong = {n: error for n, item in enumerate(value) if (error := json_type_error(field.child, item))}
        return wrong or None
    return None


# The serializer for a request body. (Its docstring is in every input's schema entry.)
class StrictSerializer(InputSerializer):
    """Rejects unknown fields (named in the error), bodies that are not JSON objects, and
    values of the wrong JSON type: text fields take strings only, integer fields integers
    only (not "3", 3.0 or true)."""

    # JSON Schema keywords that state the rules of ``validate()`` spanning several fields,
    # where JSON Schema can say them; ``api_schema`` adds them to the body's schema.
    schema_rules: ClassVar[dict[str, Any]] = {}
    # Fields the server also checks against rules JSON Schema cannot state (stored rows,
    # the clock, a grammar), each with its rule in words; ``api_schema`` writes them into
    # the body's schema (``x-rules-beyond-schema``, and the field's description).
    rules_beyond_schema: ClassVar[dict[str, str]] = {}

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        errors: dict[str, Any] = {name: ["Unknown field."] for name in sorted(set(data) - set(self.fields))}
        wrong_types = {
            name: error
            for name, field in self.fields.items()
            if name in data and not field.read_only and (error := json_type_error(field, data[name])) is not None
        }
        try:
            # The fields of the wrong type are left out, so no validator sees DRF's conversion of them.
            value = super().to_internal_value({k: v for k, v in data.items() if k not in wrong_types})
        except serializers.ValidationError as exc:
            errors.update(exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail})
        errors.update(wrong_types)
        if errors:
            raise serializers.ValidationError(errors)
        return value


def validated_input(serializer_class: type[InputSerializer], data: Any) -> dict[str, Any]:
    """``data`` as ``serializer_class`` validates it; otherwise a ValidationError, which the
    API answers with a 400 problem naming every field that is wrong."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    validated: dict[str, Any] = serializer.validated_data
    return validated


class TextField(serializers.CharField):
    """A string and only a string: DRF's CharField would quietly turn 12 or true into text."""

    default_error_messages = {"not_text": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_text")
        return super().to_internal_value(data)


# The largest integer the database holds (bigint: every id, every sequence number).
MAX_DATABASE_INTEGER = 2**63 - 1


class IdField(serializers.IntegerField):
    """The id of a row: 1 up to the largest bigint, so an id no row can have is refused as
    input rather than failing in the database."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=1, max_value=MAX_DATABASE_INTEGER, **kwargs)


# A wall-clock time (working hours, an on-call hand-off), read in the zone the body names.
LOCAL_TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$"


@extend_schema_field(
    {"type": "string", "pattern": LOCAL_TIME_PATTERN, "description": "a local time: HH:MM, HH:MM:SS, no offset"}
)
class LocalTimeField(serializers.TimeField):
    """A local time as ``HH:MM[:SS[.ffffff]]``, and nothing else: DRF's TimeField would drop
    an offset (``08:00+05:00``) silently, and the schema's ``format: time`` (RFC 3339)
    demands one, which answers never carry."""

    default_error_messages = {"local_time": "Must be a local time, HH:MM or HH:MM:SS, without an offset."}

    def to_internal_value(self, value: Any) -> dt.time:
        if not isinstance(value, str) or not re.fullmatch(LOCAL_TIME_PATTERN, value):
            self.fail("local_time")
        return super().to_internal_value(value)


class StrictBooleanField(serializers.BooleanField):
    """true or false only: DRF's BooleanField would also take "yes", "1" or 0."""

    default_error_messages = {"not_boolean": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("not_boolean")
        return data


def is_text_encoding(name: str) -> bool:
    """Whether ``name`` is a codec between text and bytes. ``zlib``, ``rot13``, ``base64``
    and the like are codecs too, but not text encodings: decoding a body with them fails
    with errors nothing expects."""
    try:
        "".encode(name)
        b"".decode(name)
    except (LookupError, ValueError):  # unknown, or not text (UnicodeError is a ValueError)
        return False
    return True


def _nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether a parsed JSON value nests lists and objects more than ``limit`` levels,
    found without recursion."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


def loads_bounded(text: str, *, parse_constant: Any = None) -> Any:
    """``json.loads``, refusing with a ValueError a document nested deeper than
    ``MAX_JSON_DEPTH`` (one deep enough to exhaust the parser's recursion included)."""
    try:
        value = json.loads(text, parse_constant=parse_constant)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if _nested_deeper_than(value, MAX_JSON_DEPTH):
        raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def _declared_charset(scope: Mapping[str, Any]) -> str | None:
    header = next((value for key, value in scope.get("headers", []) if key.lower() == b"content-type"), b"")
    _, params = parse_header_parameters(header.decode("latin-1"))
    return params.get("charset")


def refuse_non_text_charsets(app: ASGIApp) -> ASGIApp:
    """HTTP requests whose ``Content-Type`` names a charset that is not a text encoding
    (``zlib``, ``rot13``, an unknown name) get a 400 before Django builds the request:
    Django decodes the query string and form bodies with it and fails deep inside (while
    constructing the request, where no handler turns it into a 4xx)."""

    async def guarded(scope: Any, receive: Any, send: Any) -> None:
        charset = _declared_charset(scope) if scope["type"] == "http" else None
        if charset is None or is_text_encoding(charset):
            await app(scope, receive, send)
            return
        detail = f"The charset {charset[:40]!r} is not a text encoding."
        logger.warning("Bad Request (charset): %s", scope.get("path", "")[:200])
        if str(scope.get("path", "")).startswith("/api/"):
            content_type, body = (
                PROBLEM_CONTENT_TYPE,
                json.dumps(problem_body(status_code=400, slug="malformed-request", detail=detail)),
            )
        else:
            content_type, body = "text/plain; charset=utf-8", detail
        headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body.encode())).encode())]
        await send({"type": "http.response.start", "status": 400, "headers": headers})
        await send({"type": "http.response.body", "body": body.encode()})

    return guarded


def refuse_foreign_hosts_as_problems(
    get_response: Callable[[HttpRequest], HttpResponseBase],
) -> Callable[[HttpRequest], HttpResponseBase]:
    """Under ``/api/`` a ``Host`` outside ``ALLOWED_HOSTS`` is a 400 ``malformed-request``
    problem, as every other client error of the API, instead of Django's HTML page (or
    its debug page in development). One warning line, as Django's own, without the
    traceback. Elsewhere Django answers as it does."""

    def middleware(request: HttpRequest) -> HttpResponseBase:
        if request.path.startswith("/api/"):
            try:
                request.get_host()
            except DisallowedHost:
                logger.warning("Bad Request (Host not allowed): %s", request.path[:200])
                return problem_response(
                    status_code=400,
                    slug="malformed-request",
                    detail="The Host header names no host this server answers for.",
                )
        return get_response(request)

    return middleware


class BoundedJSONParser(JSONParser):
    """JSON bodies up to ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (larger ones are a 413 before
    parsing; DRF's parser reads the stream itself, so Django's own limit never applies),
    in a text encoding, nested at most ``MAX_JSON_DEPTH`` levels; anything else is a 400
    ``malformed-request``."""

    @override
    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        request = (parser_context or {}).get("request")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        except ValueError:
            length = 0
        if length > limit:
            raise Problem(
                status_code=413, slug="payload-too-large", detail=f"Request bodies are at most {limit} bytes."
            )
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        if not is_text_encoding(encoding):
            raise ParseError(f"The charset {encoding[:40]!r} is not a text encoding.")
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:  # a body longer than its Content-Length said
            raise Problem(
                status_code=413, slug="payload-too-large", detail=f"Request bodies are at most {limit} bytes."
            )
        try:
            # DRF's parser interface promises a dict; StrictSerializer refuses anything else.
            parsed: dict[str, Any] = loads_bounded(raw.decode(encoding), parse_constant=_refuse_constant)
        except ValueError as exc:  # bad JSON, bad bytes for the charset, too deep
            raise ParseError(f"JSON parse error - {exc}") from None
        return parsed
