"""Requests that once failed schemathesis's checks (``test_api_fuzzing.py``), kept as they
were generated (with the test's own programme, case or contact person where the run hit
one by its id) and replayed: each gets the answer it should, that answer passes the
checks that need no generation metadata (status code, content type, body and headers as
documented, no server error), and where the server refused a request the schema called
valid, the schema now calls it invalid too, or names the field whose rule it cannot
state (``x-rules-beyond-schema``).

Inputs that broke the server itself before (500s, crashed sockets) are kept where they
were fixed: ``tests/project/test_malformed_requests.py``, ``tests/messaging/test_socket.py``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jsonschema
import pytest
from schemathesis.core import NOT_SET

from tests.fuzz.served_schema import rules_beyond_the_schema_only, schema


@dataclass(frozen=True)
class PastFailure:
    what: str  # what failed, and what was fixed
    role: str
    method: str
    path: str
    status: int | tuple[int, ...]  # a tuple where the database decides between documented answers
    path_parameters: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = NOT_SET
    media_type: str | None = None
    refused_by_schema: bool = False  # the server refuses it and now the schema does too
    beyond_schema: bool = False  # refused for a rule the schema names but cannot state


KEYS_NOT_BASE64 = {"box_key": "POST", "name": "POST", "platform": "ios", "signing_key": "POST"}

PAST_FAILURES = [
    # Every 4xx was undocumented (status_code_conformance, content_type_conformance).
    PastFailure("401 undocumented", "anonymous", "GET", "/api/v1/alerts", 401, query={"state": "resolved"}),
    PastFailure("403 undocumented", "defector", "GET", "/api/v1/alerts", 403),
    PastFailure("404 undocumented", "contact_person", "GET", "/api/v1/alerts/{alert_id}", 404, {"alert_id": 2**31}),
    PastFailure(
        "404 undocumented: a negative id matches no route (Django's 404, as a problem)",
        "anonymous",
        "POST",
        "/api/v1/alerts/{alert_id}/ack",
        404,
        {"alert_id": -1},
        body={"": None},
    ),
    PastFailure("415 undocumented", "anonymous", "POST", "/api/v1/enroll", 415, body="code", media_type="text/plain"),
    # Valid by the schema, refused by the server (positive_data_acceptance): the rules
    # were not in the schema.
    PastFailure(
        "keys not base64 of 32 bytes: now a pattern",
        "anonymous",
        "POST",
        "/api/v1/auth/staff-device",
        400,
        body={"device": KEYS_NOT_BASE64, "otp": "000000", "password": "POST", "username": "POST"},
        refused_by_schema=True,
    ),
    PastFailure(
        "keys not base64 of 32 bytes: now a pattern",
        "anonymous",
        "POST",
        "/api/v1/enroll",
        400,
        body={"code": "POST", "device": KEYS_NOT_BASE64},
        refused_by_schema=True,
    ),
    PastFailure(
        "an empty body: now minProperties 1",
        "defector",
        "PUT",
        "/api/v1/me/device",
        400,
        body={},
        refused_by_schema=True,
    ),
    PastFailure(
        "no body at all: the body is now required", "defector", "PUT", "/api/v1/me/device", 400, refused_by_schema=True
    ),
    PastFailure(
        "a push token outside printable ASCII: now a pattern",
        "defector",
        "PUT",
        "/api/v1/me/device",
        400,
        body={"name": "Pixel", "push_token": "\U0010d858\U0003a869-m"},
        refused_by_schema=True,
    ),
    PastFailure(
        "a phrase without severity and category: now the schema's anyOf",
        "supervisor",
        "POST",
        "/api/v1/programmes/{programme_id}/phrases",
        400,
        {"programme_id": "PROGRAMME"},
        body={"language": "en", "phrase": "POST"},
        refused_by_schema=True,
    ),
    PastFailure(
        "a NUL character (every text field refuses it): now in each text field's pattern",
        "supervisor",
        "PUT",
        "/api/v1/cases/{case_id}/duress-phrase",
        400,
        {"case_id": 1024},
        body={"phrase": "\u00cf\u00fd\U000e953b\u0000\u00fd\u00f8\u00cbQ\u0012\u00fd\ud56f\u00e0\u00cf"},
        refused_by_schema=True,
    ),
    PastFailure(
        "an id no bigint holds: ids in the path now have a maximum (SQLite cannot look it up:"
        " 400 out-of-range; PostgreSQL finds no row: 404)",
        "contact_person",
        "GET",
        "/api/v1/programmes/{programme_id}/phrases",
        (400, 404),
        {"programme_id": 10460292227037077328590012416},
        refused_by_schema=True,
    ),
    PastFailure(
        "a policy of waits only (400: it must notify someone): now the schema's not",
        "supervisor",
        "PUT",
        "/api/v1/programmes/{programme_id}/escalation-policy",
        400,
        {"programme_id": "PROGRAMME"},
        body={"repeat": 1, "steps": [{"action": "wait", "minutes": 239}]},
        refused_by_schema=True,
    ),
    PastFailure(
        "a time with an offset (DRF dropped it silently): now refused, HH:MM[:SS] only",
        "supervisor",
        "PUT",
        "/api/v1/programmes/{programme_id}/staff/{user_id}/working-hours",
        400,
        {"programme_id": "PROGRAMME", "user_id": "CONTACT"},
        body={
            "absences": [{"from": "2000-01-01", "until": "2000-01-01"}],
            "end": "00:00:00Z",
            "start": "00:00:00Z",
            "timezone": "0",
            "weekdays": [],
        },
        refused_by_schema=True,
    ),
    PastFailure(
        "too few words for a duress phrase: a rule the schema names but cannot state",
        "contact_person",
        "PUT",
        "/api/v1/cases/{case_id}/duress-phrase",
        400,
        {"case_id": "CASE"},
        body={"phrase": "0" * 200},
        beyond_schema=True,
    ),
    PastFailure(
        "a concept word marked as an exclusion: now the schema's oneOf",
        "supervisor",
        "POST",
        "/api/v1/programmes/{programme_id}/phrases",
        400,
        {"programme_id": "PROGRAMME"},
        body={"concept": "use", "language": "en", "phrase": "0", "exclusion": True},
        refused_by_schema=True,
    ),
    PastFailure(
        "a tab in the read reason (a control character): the header's pattern is now the server's rule",
        "supervisor",
        "GET",
        "/api/v1/cases/{case_id}",
        400,
        {"case_id": 429},
        headers={"X-Livlina-Reason": ">6`\t7"},
        refused_by_schema=True,
    ),
    # The answer broke its own schema (response_schema_conformance): `format: time` is
    # RFC 3339's full-time, with an offset; working hours are local times without one.
    PastFailure(
        "08:00:00 is not a format: time",
        "supervisor",
        "GET",
        "/api/v1/programmes/{programme_id}/staff/{user_id}/working-hours",
        200,
        {"programme_id": "PROGRAMME", "user_id": "CONTACT"},
    ),
    # Invalid by the schema, accepted by the server (negative_data_rejection): DRF read
    # the query string as an HTML form, where an empty value means "not given".
    PastFailure(
        "?state= listed every alert",
        "supervisor",
        "GET",
        "/api/v1/alerts",
        400,
        query={"state": ""},
        refused_by_schema=True,
    ),
]


def refused_by_the_schema(failure: PastFailure, served: dict[str, Any]) -> bool:
    """Whether the served schema calls the request invalid (OpenAPI 3.0's schemas are
    JSON Schema draft 4 here)."""
    operation = served["paths"][failure.path][failure.method.lower()]

    def invalid(value: Any, schema: dict[str, Any]) -> bool:
        return not jsonschema.Draft4Validator({**schema, "components": served["components"]}).is_valid(value)

    sent = {"path": failure.path_parameters, "query": failure.query, "header": failure.headers}
    for parameter in operation.get("parameters", []):
        given = sent.get(parameter["in"], {})
        if parameter["name"] in given and invalid(given[parameter["name"]], parameter["schema"]):
            return True
    if "requestBody" not in operation:
        return False
    if failure.body is NOT_SET:
        return bool(operation["requestBody"].get("required"))
    return invalid(failure.body, operation["requestBody"]["content"]["application/json"]["schema"])


@pytest.mark.parametrize(
    "failure", PAST_FAILURES, ids=lambda failure: f"{failure.method} {failure.path}: {failure.what}"
)
def test_a_request_that_once_failed_gets_a_documented_answer(
    failure, bearer_headers, programme, case, contact, wsgi_in_test_transaction
):
    the_tests_own = {"PROGRAMME": programme.pk, "CASE": case.pk, "CONTACT": contact.user.pk}
    path_parameters = {name: the_tests_own.get(value, value) for name, value in failure.path_parameters.items()}
    replayed = schema[failure.path][failure.method].Case(
        path_parameters=path_parameters,
        query=failure.query,
        headers=failure.headers,
        body=failure.body,
        media_type=failure.media_type,
    )
    headers = bearer_headers[failure.role]
    response = replayed.call(headers=headers)
    statuses = failure.status if isinstance(failure.status, tuple) else (failure.status,)
    assert response.status_code in statuses, (failure.what, response.text[:300])
    replayed.validate_response(response, headers=headers)
    if failure.refused_by_schema:
        assert refused_by_the_schema(failure, schema.raw_schema), failure.what
    if failure.beyond_schema:
        assert rules_beyond_the_schema_only(response, replayed), (failure.what, response.text[:300])
