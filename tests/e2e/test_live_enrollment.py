"""The real service over real HTTP, driven by the Python client that plays the app."""

from __future__ import annotations

import base64

import httpx
import pytest
from django_otp.oath import totp

from client.device import LivlinaClient
from tests.e2e.live_server import live_server

pytestmark = pytest.mark.slow


def test_app_enrolls_refreshes_and_is_cut_off_by_revocation(tmp_path):
    with live_server(tmp_path) as server:
        app = LivlinaClient(server.base_url)
        # The served process names no server software.
        assert "server" not in httpx.get(f"{server.base_url}/api/v1/schema/").headers
        session = app.enroll(server.demo["case"]["enrollment_code"], push_token="token-1")
        assert session.case_id == server.demo["case"]["id"]
        assert app.get(session, "/api/v1/me").json()["role"] == "defector"
        app.refresh(session)
        assert app.get(session, "/api/v1/cases").status_code == 200

        staff = server.demo["staff"]["contact_person"]
        otp = f"{totp(base64.b32decode(staff['totp_secret'])):06d}"
        phone = app.enroll_staff_phone(username=staff["username"], password=staff["password"], otp=otp)
        assert [c["id"] for c in app.get(phone, "/api/v1/cases").json()] == [session.case_id]
        assert app.post(phone, f"/api/v1/devices/{session.device_id}/revoke", {"reason": "lost"}).status_code == 204
        assert app.get(session, "/api/v1/me").status_code == 401
        with pytest.raises(httpx.HTTPStatusError):
            app.refresh(session)

        audit = server.manage("verify_audit")
        assert audit.returncode == 0, audit.stderr
        app.close()
