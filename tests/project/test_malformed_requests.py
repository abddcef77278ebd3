"""A body the JSON parser cannot take (nested too deep, in a charset that is no text
encoding) is the client's fault: a 400 ``malformed-request`` problem and at most one log
line, on every endpoint, never a 500 with a traceback."""

from __future__ import annotations

import json
import logging

import pytest
from channels.testing import HttpCommunicator
from rest_framework.test import APIClient

from tests.conftest import device_client

MALFORMED = "urn:livlina:problem:malformed-request"

# About 980 levels raised RecursionError in the parser under Daphne; 30,000 does anywhere.
DEEP_BODIES = {
    "deep-list": "[" * 1000 + "]" * 1000,
    "deeper-list": "[" * 30_000 + "]" * 30_000,
    "deep-object": '{"a":' * 1000 + "1" + "}" * 1000,
    "deep-inside-a-field": '{"device_id": ' + "[" * 1000 + "]" * 1000 + "}",
    # Shallow enough to parse, deeper than any body of the API.
    "forty-levels": "[" * 40 + "]" * 40,
}
NOT_TEXT_CODECS = ["zlib", "rot13", "bz2", "base64", "hex", "uu"]
PUBLIC_POSTS = ["/api/v1/auth/refresh", "/api/v1/enroll", "/api/v1/auth/staff-device"]


def _assert_malformed(response, caplog) -> None:
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"] == MALFORMED
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) <= 1
    assert not any(r.exc_info for r in caplog.records)


@pytest.mark.parametrize("path", PUBLIC_POSTS)
@pytest.mark.parametrize("body", DEEP_BODIES.values(), ids=DEEP_BODIES.keys())
def test_deeply_nested_json_is_a_malformed_request(db, caplog, path, body):
    response = APIClient().generic("POST", path, body, content_type="application/json")
    _assert_malformed(response, caplog)


@pytest.mark.parametrize("path", PUBLIC_POSTS)
@pytest.mark.parametrize("charset", NOT_TEXT_CODECS)
def test_the_parser_refuses_a_codec_that_is_no_text_encoding(db, caplog, path, charset):
    response = APIClient().generic("POST", path, b'{"code": "x"}', content_type=f"application/json; charset={charset}")
    _assert_malformed(response, caplog)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/alerts?state=%6Fpen"),
        ("GET", "/inbox/login/?next=%2Finbox%2F"),
        ("POST", "/api/v1/auth/refresh"),
        ("POST", "/inbox/login/"),
    ],
)
@pytest.mark.parametrize("charset", ["zlib", "rot13", "no-such-charset"])
async def test_the_served_application_refuses_a_charset_that_is_no_text_encoding(caplog, method, path, charset):
    # Django decodes a query string with escapes in the declared charset while it builds
    # the request, before any view or middleware: the served application refuses first.
    from backend.asgi import application

    url, _, query = path.partition("?")
    communicator = HttpCommunicator(
        application,
        method,
        url,
        body=b"username=x&password=%41" if method == "POST" else b"",
        headers=[(b"content-type", f"application/json; charset={charset}".encode())],
    )
    communicator.scope["query_string"] = query.encode()
    response = await communicator.get_response()
    assert response["status"] == 400
    headers = dict(response["headers"])
    if url.startswith("/api/"):
        assert headers[b"content-type"] == b"application/problem+json"
        assert json.loads(response["body"])["type"] == MALFORMED
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) <= 1
    assert not any(r.exc_info for r in caplog.records)


def test_deep_json_to_a_signed_in_endpoint_is_a_malformed_request(caplog, case, defector_device):
    conversation = case.conversation.pk
    response = device_client(defector_device).generic(
        "POST",
        f"/api/v1/conversations/{conversation}/messages",
        "[" * 1000 + "]" * 1000,
        content_type="application/json",
    )
    _assert_malformed(response, caplog)


def test_text_charsets_still_work(case, defector_device):
    conversation = case.conversation.pk
    body = '{"client_id": "6f1c1f7e-2f4e-4a57-9a53-2b8f6e0f6a11", "body": "hej åäö"}'
    response = device_client(defector_device).generic(
        "POST",
        f"/api/v1/conversations/{conversation}/messages",
        body.encode("utf-16"),
        content_type="application/json; charset=utf-16",
    )
    assert response.status_code == 201, response.content
    assert response.json()["body"] == "hej åäö"


def test_every_body_taking_operation_refuses_deep_json(supervisor, as_staff, caplog):
    """Over the served schema: no operation that takes a JSON body answers a deep one with
    anything but a 4xx, and a 400 is always ``malformed-request``."""
    client = as_staff(supervisor)
    schema = client.get("/api/v1/schema/?format=json").json()
    tried = 0
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if "requestBody" not in operation:
                continue
            url = "/api/v1" + path.removeprefix("/api/v1")
            for name in ("{id}", "{case_id}", "{programme_id}", "{alert_id}", "{conversation_id}", "{checkin_id}"):
                url = url.replace(name, "1")
            url = url.replace("{device_id}", "6f1c1f7e-2f4e-4a57-9a53-2b8f6e0f6a11")
            url = url.replace("{schedule_id}", "1").replace("{phrase_id}", "1")
            response = client.generic(method.upper(), url, "[" * 1000 + "]" * 1000, content_type="application/json")
            assert 400 <= response.status_code < 500, (method, url, response.content[:200])
            if response.status_code == 400:
                assert response.json()["type"] == MALFORMED, (method, url)
            tried += 1
    assert tried >= 15
    assert not any(r.exc_info for r in caplog.records)


@pytest.mark.parametrize("debug", [False, True], ids=["production", "development"])
@pytest.mark.parametrize("path", ["/api/v1/auth/refresh", "/api/v1/cases/1", "/api/v1/no-such-route"])
def test_a_host_outside_allowed_hosts_is_a_400_problem_under_the_api(path, debug, settings, caplog, db):
    settings.DEBUG = debug
    response = APIClient().post(path, data="{}", content_type="application/json", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"] == MALFORMED
    assert "Host" in response.json()["detail"]
    assert not any(r.exc_info for r in caplog.records)


def test_a_host_outside_allowed_hosts_elsewhere_stays_djangos_400(settings, db):
    settings.DEBUG = False
    response = APIClient().get("/inbox/login/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert not response["Content-Type"].startswith("application/problem+json")


def test_a_foreign_host_refused_by_the_https_redirect_is_a_problem_too(settings, db):
    settings.DEBUG, settings.SECURE_SSL_REDIRECT = False, True
    response = APIClient().get("/api/v1/cases/1", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"] == MALFORMED
