"""Staff: password plus a TOTP second factor everywhere; sessions expire."""

from __future__ import annotations

import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from backend.accounts.models import Device
from backend.audit.models import AuditEntry
from client.device import DeviceKeys
from tests.conftest import device_client, staff_client
from tests.factories import STAFF_PASSWORD


def test_inbox_login_needs_the_second_factor(contact):
    client = APIClient()
    response = client.post("/inbox/login/", {"username": "contact", "password": STAFF_PASSWORD, "otp": "000000"})
    assert response.status_code == 400
    assert "Fel användarnamn, lösenord eller engångskod".encode() in response.content  # Swedish by default
    assert client.get("/inbox/").status_code == 302
    assert client.get("/api/v1/cases").status_code == 401


def test_password_without_otp_field_is_refused(contact):
    client = APIClient()
    response = client.post("/inbox/login/", {"username": "contact", "password": STAFF_PASSWORD})
    assert response.status_code == 400
    assert client.get("/inbox/").status_code == 302


def test_a_session_without_verified_otp_opens_no_staff_api(contact, case):
    client = APIClient()
    client.force_login(contact.user)  # password-only session: no second factor on it
    assert client.get("/api/v1/cases").status_code == 401
    assert client.get("/inbox/").status_code == 302


def test_verified_staff_sees_inbox_and_api(contact, case):
    client = staff_client(contact)
    assert client.get("/inbox/").status_code == 200
    cases = client.get("/api/v1/cases").json()
    assert [c["id"] for c in cases] == [case.pk]


def test_staff_session_expires_after_idle_time(contact, case):
    client = staff_client(contact)
    with time_machine.travel(timezone.now() + timezone.timedelta(minutes=31)):
        assert client.get("/api/v1/cases").status_code == 401
        assert client.get("/inbox/").status_code == 302


def test_staff_session_has_an_absolute_limit_even_when_active(contact, case):
    client = staff_client(contact)
    start = timezone.now()
    for minutes in range(25, 12 * 60, 25):
        with time_machine.travel(start + timezone.timedelta(minutes=minutes)):
            assert client.get("/api/v1/cases").status_code == 200
    with time_machine.travel(start + timezone.timedelta(hours=12, minutes=5)):
        assert client.get("/api/v1/cases").status_code == 401


def test_defector_user_cannot_log_in_to_the_inbox(case):
    client = APIClient()
    response = client.post("/inbox/login/", {"username": case.defector.user.username, "password": "", "otp": "123456"})
    assert response.status_code == 400


def test_staff_phone_enrolls_with_password_and_totp(api, oncall, case):
    response = api.post(
        "/api/v1/auth/staff-device",
        {"username": "oncall", "password": STAFF_PASSWORD, "otp": oncall.otp(), "device": DeviceKeys().public()},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["role"] == "staff" and body["case_id"] is None
    assert Device.objects.get(pk=body["device_id"]).user == oncall.user


def test_staff_phone_with_wrong_totp_is_refused(api, oncall):
    response = api.post(
        "/api/v1/auth/staff-device",
        {"username": "oncall", "password": STAFF_PASSWORD, "otp": "123456", "device": DeviceKeys().public()},
        format="json",
    )
    assert response.status_code == 401
    assert response.json()["type"] == "urn:livlina:problem:credentials-invalid"
    assert not Device.objects.exists()


def test_staff_phone_token_opens_the_staff_api(api, contact, case):
    response = api.post(
        "/api/v1/auth/staff-device",
        {"username": "contact", "password": STAFF_PASSWORD, "otp": contact.otp(), "device": DeviceKeys().public()},
        format="json",
    )
    phone = APIClient()
    phone.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access_token']}")
    assert [c["id"] for c in phone.get("/api/v1/cases").json()] == [case.pk]


def test_defector_device_cannot_use_staff_endpoints(defector_device, case):
    client = device_client(defector_device)
    assert client.get(f"/api/v1/cases/{case.pk}/devices").status_code == 403
    assert client.post(f"/api/v1/cases/{case.pk}/break-glass", {"reason": "x" * 20}, format="json").status_code == 403


def test_a_failed_login_keeps_no_typed_username_in_the_audit_log(db):
    typed = "my-secret-password-typed-in-the-wrong-field"
    APIClient().post("/inbox/login/", {"username": typed, "password": STAFF_PASSWORD, "otp": "123456"})
    entry = AuditEntry.objects.get(action="staff.login_failed")
    assert typed not in entry.target and typed not in str(entry.details)
    assert entry.target.startswith("username-hash:")
