"""Log lines: JSON with the request id, the id carried into the worker's lines about the
request's rows, one line per request, and nothing secret or personal in any line."""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from backend import structured_logs
from backend.audit.models import AuditEntry
from backend.cases.enrollment import create_enrollment_code
from backend.messaging.models import Conversation
from backend.push.services import drain_outbox
from tests.accounts.test_enrollment import enroll
from tests.conftest import device_client, staff_client
from tests.factories import STAFF_PASSWORD, DeviceFactory
from tests.operations.throwaway_services import free_port

REPO = Path(__file__).resolve().parents[2]


class Captured:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]


@pytest.fixture
def captured() -> Iterator[Captured]:
    """Every logger at DEBUG, written through the production handler (JSON formatter and
    filters as ``settings.LOGGING`` builds them)."""
    config = structured_logs.logging_config(json_lines=True, level="DEBUG")
    spec = dict(config["formatters"]["livlina"])
    formatter = spec.pop("()")(**spec)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(structured_logs.RequestContextFilter())
    handler.addFilter(structured_logs.RedactionFilter())
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    levels = {logger: logger.level for logger in loggers}
    for logger in loggers:
        logger.setLevel(logging.NOTSET)
    root_level = logging.root.level
    logging.root.setLevel(logging.DEBUG)
    logging.root.addHandler(handler)
    try:
        yield Captured(stream)
    finally:
        logging.root.removeHandler(handler)
        logging.root.setLevel(root_level)
        for logger, level in levels.items():
            logger.setLevel(level)


def test_scrub_removes_what_secrets_look_like():
    token = "QsziDst5g5dp6mQjas1rtppC-HWA96GbUKS5LTgyAbc"
    lines = [
        f"Authorization: Bearer {token}",
        f"refreshed with {token}",
        "code 7KQ4-M2ZD-9XRT and 7KQ4M2ZD9XRT",
        "totp JBSWY3DPEHPK3PXPJBSWY3DP, key 3132333435363738393031323334353637383930",
        "pin=9137 duress_pin: 2468 {'why': 'he said he would find me', \"body\": \"meet at the barn\"}",
    ]
    scrubbed = structured_logs.scrub("\n".join(lines))
    for secret in (token, "7KQ4", "JBSWY3DP", "31323334", "9137", "2468", "find me", "barn"):
        assert secret not in scrubbed
    # What is not secret stays readable.
    kept = "GET /api/v1/cases/12 404 3.1ms request 0f8e2a9c-7d1b-4c55-9a0e-1b2c3d4e5f60 at 2026-12-02 04:00:01"
    assert structured_logs.scrub(kept) == kept


def test_sensitive_fields_are_redacted_whatever_their_value(captured):
    logging.getLogger("livlina.test").info("answer", extra={"pin": "9137", "body": "meet at the barn", "kind": "ok"})
    (record,) = captured.records()
    assert record["pin"] == record["body"] == "[redacted]"
    assert record["kind"] == "ok"


def test_an_offered_request_id_is_kept_only_if_it_is_harmless():
    assert structured_logs.new_request_id("edge-5f2c-0001") == "edge-5f2c-0001"
    for offered in ("short", "a" * 65, "has space in it", "7KQ4-M2ZD-9XRT", "Bearer-" + "x" * 50):
        assert structured_logs.new_request_id(offered) != offered


def test_the_request_id_follows_a_message_into_the_workers_push_log(
    case, contact, defector_device, captured, django_capture_on_commit_callbacks
):
    DeviceFactory(user=contact.user, push_token="staff-token")
    conversation = Conversation.objects.get(case=case)
    response = device_client(defector_device).post(
        f"/api/v1/conversations/{conversation.pk}/messages",
        {"client_id": str(uuid.uuid4()), "body": "hej"},
        format="json",
        HTTP_X_REQUEST_ID="edge-req-000042",
    )
    assert response.status_code == 201
    assert response["X-Request-ID"] == "edge-req-000042"
    assert drain_outbox() == 1  # the worker's job, outside the request
    lines = captured.records()
    access = [r for r in lines if r["logger"] == "livlina.access"]
    assert len(access) == 1 and access[0]["request_id"] == "edge-req-000042"
    (push,) = [r for r in lines if r["logger"] == "backend.push.services"]
    assert push["message"] == "push message attempt 1: sent"
    assert push["request_id"] == "edge-req-000042"


def test_no_secret_or_content_reaches_any_log_line(api, case, contact, settings, captured):
    """The flows that carry secrets and content, with every logger at DEBUG (SQL too)."""
    settings.DEBUG = True  # Django logs every SQL statement with its parameters
    staff = staff_client(contact)
    code, _ = create_enrollment_code(case=case, created_by=contact.user)
    session = enroll(api, code, push_token="push-token-secret-123")
    app = device_client(session)
    assert app.post("/api/v1/me/pin", {"pin": "9137"}, format="json").status_code == 204
    assert app.post("/api/v1/me/duress-pin", {"pin": "2468"}, format="json").status_code == 204
    conversation = Conversation.objects.get(case=case)
    text = "Meet me behind the red barn at midnight"
    sent = app.post(
        f"/api/v1/conversations/{conversation.pk}/messages",
        {"client_id": str(uuid.uuid4()), "body": text},
        format="json",
    )
    assert sent.status_code == 201
    reason = "Suspected relapse after the call from Kvarngatan"
    # The reason rides its header (percent-encoded), never the URL; it reaches the audit log only.
    assert staff.get(f"/api/v1/cases/{case.pk}", HTTP_X_LIVLINA_REASON=quote(reason)).status_code == 200
    assert AuditEntry.objects.filter(action="case.read", reason=reason).exists()
    assert (
        app.post("/api/v1/checkins/999999/respond", {"status": "ok", "pin": "9137"}, format="json").status_code == 404
    )
    refused = api.get("/api/v1/me", HTTP_AUTHORIZATION="Bearer not-a-real-token-but-looks-like-one-0123456789abc")
    assert refused.status_code == 401
    drain_outbox()

    text_logged = captured.text
    assert "livlina.access" in text_logged and "SELECT" in text_logged  # the capture did capture
    totp_hex = contact.totp_device.key
    secrets = {
        "enrollment code": code,
        "enrollment code without dashes": code.replace("-", ""),
        "access token": session.access_token,
        "refresh token": session.refresh_token,
        "push token": "push-token-secret-123",
        "staff password": STAFF_PASSWORD,
        "TOTP secret (hex)": totp_hex,
        "TOTP secret (base32)": base64.b32encode(bytes.fromhex(totp_hex)).decode().rstrip("="),
        "message text": "red barn",
        "free-text reason": "Kvarngatan",
        "bearer token": "not-a-real-token",
    }
    leaked = {name for name, secret in secrets.items() if secret in text_logged}
    assert not leaked, [line[:400] for line in text_logged.splitlines() if any(secrets[n] in line for n in leaked)]
    for pin in ("9137", "2468"):
        assert not re.search(rf"(?<!\d){pin}(?!\d)", text_logged), pin


def _wait_until_up(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise TimeoutError(url)


@pytest.mark.slow
def test_daphne_writes_one_json_line_per_request_even_for_4xx(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(LIVLINA_DATA_DIR=str(tmp_path), LIVLINA_LOG_FORMAT="json", PYTHONPATH=str(REPO), LIVLINA_DEBUG="1")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=REPO, env=env, check=True)
    log = (tmp_path / "daphne.log").open("w")
    # Daphne as production runs it (no access log of its own).
    server = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-v", "0", "-p", str(port), "backend.asgi:application"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(f"{base}/healthz")
        ids = {
            path: httpx.get(base + path, headers={"Authorization": "Bearer nope"}).headers["X-Request-ID"]
            for path in ("/api/v1/alerts", "/nope", "/api/v1/nope")
        }
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
    lines = [json.loads(line) for line in (tmp_path / "daphne.log").read_text().splitlines() if line.startswith("{")]
    for path, request_id in ids.items():
        about = [line for line in lines if line.get("request_id") == request_id]
        assert len(about) == 1, about
        assert about[0]["logger"] == "livlina.access"
        assert about[0]["path"] == path and about[0]["status"] in (401, 404)
        assert not [line for line in lines if not line.get("request_id") and path in line["message"]]
