"""A staff phone's push token dies and the phone registers a new one, over real HTTP on a
real server whose worker pushes through the real firebase-admin code path to the local
FCM stand-in (tests/push/fcm_standin.py); and the demo app registers its token."""

from __future__ import annotations

import base64
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
from django_otp.oath import totp

from client.device import DeviceSession, LivlinaClient
from tests.e2e.live_server import ROOT, live_server
from tests.push.fcm_standin import FcmStandIn

pytestmark = pytest.mark.slow


@pytest.fixture
def standin():
    server = FcmStandIn().start()
    yield server
    server.stop()


def fcm_environment(standin: FcmStandIn) -> dict[str, str]:
    return {
        **standin.client_environment(),
        "LIVLINA_PUSH_BACKEND": "fcm",
        "LIVLINA_FCM_PROJECT_ID": "livlina-test",
    }


def wait_for(check: Callable[[], Any], what: str, *, timeout: float = 30.0) -> Any:
    """What ``check`` returns once it is truthy; the worker runs on its own clock."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def timeline(http: LivlinaClient, phone: DeviceSession, alert_id: int) -> list[dict[str, Any]]:
    response = http.get(phone, f"/api/v1/alerts/{alert_id}")
    assert response.status_code == 200
    return response.json()["timeline"]


def pushes(http: LivlinaClient, phone: DeviceSession, alert_id: int, outcome: str) -> list[dict[str, Any]]:
    return [item for item in timeline(http, phone, alert_id) if item["event"] == f"push.{outcome}"]


def open_panic_alert(http: LivlinaClient, phone: DeviceSession) -> int:
    alerts = http.get(phone, "/api/v1/alerts", state="open").json()
    return next(alert["id"] for alert in alerts if alert["kind"] == "panic")


def test_a_dead_token_shows_on_the_timeline_and_a_fresh_one_gets_the_next_alert(tmp_path, standin):
    with live_server(tmp_path, extra_env=fcm_environment(standin)) as server:
        http = LivlinaClient(server.base_url)
        app = http.enroll(server.demo["case"]["enrollment_code"])
        staff = server.demo["staff"]["contact_person"]
        phone = http.enroll_staff_phone(
            username=staff["username"],
            password=staff["password"],
            otp=f"{totp(base64.b32decode(staff['totp_secret'])):06d}",
            push_token="fid-before-reinstall",
        )
        standin.dead_tokens.add("fid-before-reinstall")  # the app is reinstalled: FCM forgets the old ID

        assert http.post(app, "/api/v1/panic").status_code == 202
        first = wait_for(lambda: http.get(phone, "/api/v1/alerts", state="open").json(), "the panic alert")[0]["id"]
        dead = wait_for(lambda: pushes(http, phone, first, "token_dead"), "push.token_dead on the timeline")
        assert dead[0]["detail"]["device"] == phone.device_id
        assert "UnregisteredError" in dead[0]["detail"]["error"]
        assert "fid-before-reinstall" not in repr(timeline(http, phone, first))  # never the token itself
        assert [r["json"]["message"]["fid"] for r in standin.requests] == ["fid-before-reinstall"] * len(
            standin.requests
        )

        # The reinstalled app registers its new installation ID.
        device = http.update_device(phone, push_token="fid-after-reinstall")
        assert device["push_enabled"] is True and device["id"] == phone.device_id

        # The contact person takes the first alert and closes it; the defector presses panic again.
        assert http.post(phone, f"/api/v1/alerts/{first}/ack").status_code == 200
        assert (
            http.post(phone, f"/api/v1/alerts/{first}/resolve", {"note": "Ringde upp, allt lugnt."}).status_code == 200
        )
        assert http.post(app, "/api/v1/panic").status_code == 202
        second = wait_for(lambda: open_panic_alert(http, phone), "the second panic alert")
        assert second != first
        sent = wait_for(lambda: pushes(http, phone, second, "sent"), "push.sent on the second alert's timeline")
        assert sent[0]["detail"]["device"] == phone.device_id
        reached = [
            r["json"]["message"] for r in standin.requests if r["json"]["message"]["fid"] != "fid-before-reinstall"
        ]
        assert reached and {message["fid"] for message in reached} == {"fid-after-reinstall"}
        assert reached[0]["data"]["kind"] == "alert"
        http.close()


def test_the_demo_app_registers_its_push_token_and_shows_its_next_check_ins(tmp_path):
    with live_server(tmp_path) as server:
        http = LivlinaClient(server.base_url)
        staff = server.demo["staff"]["contact_person"]
        phone = http.enroll_staff_phone(
            username=staff["username"],
            password=staff["password"],
            otp=f"{totp(base64.b32decode(staff['totp_secret'])):06d}",
        )
        schedule = {
            "rrule": "FREQ=DAILY;BYHOUR=21;BYMINUTE=0",
            "timezone": "Europe/Stockholm",
            "window_minutes": 60,
            "grace_minutes": 15,
        }
        case_id = server.demo["case"]["id"]
        assert http.post(phone, f"/api/v1/cases/{case_id}/checkin-schedules", schedule).status_code == 201
        http.close()
        demo = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "client.demo",
                server.base_url,
                server.demo["case"]["enrollment_code"],
                "--push-token",
                "demo-fid",
            ],
            cwd=ROOT,
            env=server.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        with demo:
            try:
                assert demo.stdout is not None
                lines = []
                for line in demo.stdout:
                    lines.append(line.strip())
                    if line.startswith("sent, stored as seq"):
                        break
            finally:
                demo.terminate()
                demo.wait(timeout=10)
        assert lines[0].startswith("enrolled device ")
        assert "push token registered; push on" in lines
        due = [line for line in lines if line.startswith("next check-in due ")]
        assert len(due) == 3 and all(line.endswith("Z") for line in due)
