"""Log lines: one JSON object each in production, a readable line in development; a
request id on every line written while serving a request, and on the worker's lines about
the rows that request wrote; redaction of secrets and content before anything is written.

Redaction has two layers, because one would not be enough. Fields passed as ``extra``
under a sensitive name (a body, a token, a PIN, a code, a secret, a reason) are replaced
whatever their value; and every finished line, traceback included, is scrubbed of what a
secret looks like (bearer tokens, URL-safe tokens, enrollment codes, TOTP secrets, hex
keys, ``pin=…``-style pairs). Message text and free-text reasons have no shape to find:
they stay out because no code logs them and the access line carries the path without its
query string; ``tests/project/test_structured_logs.py`` runs the flows that carry them
with every logger at DEBUG and looks for them in the output."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.json import JsonFormatter
from typing_extensions import override

REDACTED = "[redacted]"

_request_id: ContextVar[str] = ContextVar("livlina_request_id", default="")

# What a client may send as X-Request-ID for us to keep (a proxy's id): anything else is
# replaced, so a header cannot smuggle text into the logs.
_ACCEPTABLE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def current_request_id() -> str:
    return _request_id.get()


def new_request_id(offered: str | None = None) -> str:
    """The id a request is logged under: a proxy's ``X-Request-ID`` if it looks like one."""
    if offered and _ACCEPTABLE_REQUEST_ID.fullmatch(offered) and scrub(offered) == offered:
        return offered
    # Hyphenated: 32 hex digits in a row would look like a key to ``scrub``.
    return str(uuid.uuid4())


@contextmanager
def bound_request_id(request_id: str) -> Iterator[None]:
    """Log every line in this context (and the threads asgiref starts from it) under
    ``request_id``."""
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


SENSITIVE_FIELDS = frozenset(
    {
        "authorization",
        "body",
        "code",
        "cookie",
        "duress_pin",
        "enrollment_code",
        "password",
        "pin",
        "push_token",
        "reason",
        "refresh",
        "refresh_token",
        "secret",
        "text",
        "token",
        "access",
        "access_token",
        "totp_secret",
        "why",
    }
)
_SENSITIVE_NAMES = "|".join(sorted(SENSITIVE_FIELDS, key=len, reverse=True))

_SCRUB = [
    # "Bearer <anything>" in a header someone logged.
    (re.compile(r"(?i)\b(bearer)\s+\S+"), r"\1 " + REDACTED),
    # name=value, name: value, "name": "value" for a sensitive name (query strings,
    # reprs of dicts, JSON bodies).
    (
        re.compile(rf"""(?i)(["']?\b(?:{_SENSITIVE_NAMES})\b["']?\s*[:=]\s*)("(?:[^"\\]|\\.)*"|'[^']*'|[^\s,;&}}]+)"""),
        r"\1" + f'"{REDACTED}"',
    ),
    # An enrollment code (Crockford base32, 12 characters, with or without dashes).
    (re.compile(r"(?<![0-9A-Za-z-])[0-9A-Z]{4}-?[0-9A-Z]{4}-?[0-9A-Z]{4}(?![0-9A-Za-z-])"), REDACTED),
    # A TOTP secret as shown to people (base32) and as django-otp stores it (hex), and
    # any other long hex key or hash.
    (re.compile(r"(?<![A-Za-z0-9])[A-Z2-7]{16,}(?![A-Za-z0-9])"), REDACTED),
    (re.compile(r"(?<![A-Za-z0-9])[0-9a-fA-F]{32,}(?![A-Za-z0-9])"), REDACTED),
    # Access and refresh tokens: 43 URL-safe characters (secrets.token_urlsafe(32)).
    (re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{40,}(?![A-Za-z0-9_-])"), REDACTED),
]


def scrub(text: str) -> str:
    for pattern, replacement in _SCRUB:
        text = pattern.sub(replacement, text)
    return text


class RequestContextFilter(logging.Filter):
    """Puts the current request id on the record (empty outside a request)."""

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = _request_id.get()
        return True


_SQL_VALUES_START = re.compile(r"\b(?:VALUES|WHERE|SET)\b", re.IGNORECASE)


def sql_shape(sql: str) -> str:
    """A statement without its values: what it does to which table, not with what."""
    return _SQL_VALUES_START.split(sql, maxsplit=1)[0].rstrip() + " …"


class RedactionFilter(logging.Filter):
    """Replaces every ``extra`` field with a sensitive name, whatever its value; and keeps
    only the shape of the SQL that Django logs at DEBUG (with ``DEBUG = True``), since its
    parameters are the stored values: push tokens, audited reasons."""

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        for name in SENSITIVE_FIELDS & record.__dict__.keys():
            setattr(record, name, REDACTED)
        sql = getattr(record, "sql", None)
        if record.name == "django.db.backends" and isinstance(sql, str):
            record.sql = sql_shape(sql)
            record.params = REDACTED
            record.msg, record.args = "(%.3f) %s", (getattr(record, "duration", 0.0), sql_shape(sql))
        return True


class RedactingJsonFormatter(JsonFormatter):
    """One JSON object per line, scrubbed as a whole (message, fields and traceback)."""

    @override
    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class RedactingConsoleFormatter(logging.Formatter):
    """The development format: readable, scrubbed the same way."""

    @override
    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def logging_config(*, json_lines: bool, level: str) -> dict[str, Any]:
    """``settings.LOGGING``. Django's own handlers are dropped (``django`` propagates to
    the root instead): with them, every 4xx was written twice, once by Django's console
    handler and once by the root's. Django's "Not Found: …" warnings are left out too: the
    access line of ``RequestLogMiddleware`` is the one line per request; server errors
    (``django.request`` at ERROR, with their traceback) stay."""
    formatter: dict[str, Any] = (
        {
            "()": RedactingJsonFormatter,
            "fmt": ["asctime", "levelname", "name", "message", "request_id"],
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
        if json_lines
        else {
            "()": RedactingConsoleFormatter,
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        }
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_context": {"()": RequestContextFilter},
            "redaction": {"()": RedactionFilter},
        },
        "formatters": {"livlina": formatter},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "livlina",
                "filters": ["request_context", "redaction"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django": {"handlers": [], "level": level, "propagate": True},
            "django.request": {"level": "ERROR"},
            "django.server": {"level": "ERROR"},
            "django.channels.server": {"level": "WARNING"},
            # It logs each failing check with a traceback; the probe view logs one line.
            "health_check": {"level": "ERROR"},
        },
    }
