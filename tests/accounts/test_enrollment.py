"""Enrollment: one-time, expiring, throttled codes; the app registers its public keys."""

from __future__ import annotations

import logging

import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from backend.accounts.models import Device
from backend.cases.enrollment import (
    ENROLLMENT_ALPHABET,
    create_enrollment_code,
    enrollment_code_hash,
    generate_enrollment_code,
)
from backend.cases.models import Case, EnrollmentCode
from backend.cases.services import grant_alert_access, open_break_glass
from client.device import DeviceKeys, DeviceSession
from tests.conftest import device_client
from tests.factories import Staff


def new_enrollment_code(case: Case, by: Staff) -> str:
    code, _ = create_enrollment_code(case=case, created_by=by.user)
    return code


def enroll(api: APIClient, code: str, *, keys: DeviceKeys | None = None, push_token: str = "") -> DeviceSession:
    """Enroll the way the app does, over ``/api/v1/enroll`` (other tests build their
    devices with ``tests.factories``)."""
    keys = keys or DeviceKeys()
    response = api.post("/api/v1/enroll", {"code": code, "device": keys.public(push_token=push_token)}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    return DeviceSession(
        device_id=body["device_id"],
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
        role=body["role"],
        case_id=body["case_id"],
        keys=keys,
    )


def test_code_has_at_least_50_bits_and_only_its_keyed_hash_is_stored(case, contact):
    code = new_enrollment_code(case, contact)
    symbols = code.replace("-", "")
    assert len(symbols) * (len(ENROLLMENT_ALPHABET).bit_length() - 1) >= 50
    row = EnrollmentCode.objects.get(case=case)
    assert code not in row.code_hash and symbols not in row.code_hash
    assert row.code_hash == enrollment_code_hash(code)
    assert abs((row.expires_at - timezone.now()).total_seconds() - 24 * 3600) < 5


def test_codes_do_not_repeat():
    assert len({generate_enrollment_code() for _ in range(2000)}) == 2000


def test_enrolled_device_gets_tokens_and_its_keys_are_stored(api, case, contact):
    keys = DeviceKeys()
    session = enroll(api, new_enrollment_code(case, contact), keys=keys, push_token="fcm-token-1")
    assert session.role == "defector"
    assert session.case_id == case.pk
    device = Device.objects.get(pk=session.device_id)
    assert device.user == case.defector.user
    assert device.signing_key == keys.public()["signing_key"]
    assert device.push_token == "fcm-token-1"
    me = device_client(session).get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["case_id"] == case.pk


def test_code_is_accepted_in_lower_case_without_dashes(api, case, contact):
    code = new_enrollment_code(case, contact)
    enroll(api, code.replace("-", "").lower())


def test_reused_code_is_refused_with_a_clear_problem(api, case, contact):
    code = new_enrollment_code(case, contact)
    enroll(api, code)
    response = api.post("/api/v1/enroll", {"code": code, "device": DeviceKeys().public()}, format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "urn:livlina:problem:enrollment-code-used"
    assert body["errors"] == [{"field": "code", "message": "This code was already used."}]
    assert Device.objects.count() == 1


def test_expired_code_is_refused(api, case, contact):
    code = new_enrollment_code(case, contact)
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=24, seconds=1)):
        response = api.post("/api/v1/enroll", {"code": code, "device": DeviceKeys().public()}, format="json")
    assert response.status_code == 400
    assert response.json()["type"] == "urn:livlina:problem:enrollment-code-expired"


def test_unknown_code_is_refused(api, case):
    response = api.post("/api/v1/enroll", {"code": "AAAA-BBBB-CCCC", "device": DeviceKeys().public()}, format="json")
    assert response.status_code == 400
    assert response.json()["type"] == "urn:livlina:problem:enrollment-code-invalid"


def test_bad_keys_name_the_field(api, case, contact):
    code = new_enrollment_code(case, contact)
    device = DeviceKeys().public() | {"signing_key": "bm90IDMyIGJ5dGVz"}
    response = api.post("/api/v1/enroll", {"code": code, "device": device}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "device.signing_key"
    # The code was not spent on a failed attempt.
    enroll(api, code)


def test_unknown_and_missing_fields_are_named(api):
    response = api.post("/api/v1/enroll", {"code": "x", "colour": "red", "device": {"name": "p"}}, format="json")
    assert response.status_code == 400
    fields = {e["field"] for e in response.json()["errors"]}
    assert "colour" in fields
    assert {"device.platform", "device.signing_key", "device.box_key"} <= fields


def test_invalid_json_is_a_problem_not_a_500(api):
    response = api.generic("POST", "/api/v1/enroll", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"] == "urn:livlina:problem:malformed-request"


def test_enrollment_is_throttled_per_address(api, settings, case):
    for _ in range(10):
        assert (
            api.post(
                "/api/v1/enroll", {"code": "AAAA-BBBB-CCCC", "device": DeviceKeys().public()}, format="json"
            ).status_code
            == 400
        )
    response = api.post("/api/v1/enroll", {"code": "AAAA-BBBB-CCCC", "device": DeviceKeys().public()}, format="json")
    assert response.status_code == 429
    assert response.json()["type"] == "urn:livlina:problem:rate-limited"
    assert "Retry-After" in response


def test_forwarded_for_header_does_not_buy_a_new_budget(api, case):
    for i in range(10):
        api.post(
            "/api/v1/enroll",
            {"code": "AAAA-BBBB-CCCC", "device": DeviceKeys().public()},
            format="json",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{i}",
        )
    response = api.post(
        "/api/v1/enroll",
        {"code": "AAAA-BBBB-CCCC", "device": DeviceKeys().public()},
        format="json",
        HTTP_X_FORWARDED_FOR="10.9.9.9",
    )
    assert response.status_code == 429


def _wrong_code(client: APIClient) -> int:
    return client.post(
        "/api/v1/enroll", {"code": "AAAA-BBBB-CCCC", "device": DeviceKeys().public()}, format="json"
    ).status_code


def test_one_address_refused_by_its_own_throttle_cannot_stop_enrollment_for_everyone(case, contact):
    attacker = APIClient(REMOTE_ADDR="10.66.0.1")
    statuses = [_wrong_code(attacker) for _ in range(205)]
    assert statuses[:10] == [400] * 10
    assert statuses[10:] == [429] * 195
    # A defector enrolling a replacement phone from another address is not refused.
    code = new_enrollment_code(case, contact)
    response = APIClient(REMOTE_ADDR="10.2.0.1").post(
        "/api/v1/enroll", {"code": code, "device": DeviceKeys().public()}, format="json"
    )
    assert response.status_code == 201, response.content


def test_many_wrong_codes_across_addresses_raise_an_alarm_but_never_refuse_a_valid_code(case, contact, caplog):
    # Guessing a 60-bit code is hopeless even at this rate; availability matters more, so
    # past the installation-wide budget of wrong codes the server logs an alarm once and
    # goes on answering every code on its merits.
    statuses = [_wrong_code(APIClient(REMOTE_ADDR=f"10.1.{i // 250}.{i % 250}")) for i in range(205)]
    assert statuses == [400] * 205
    alarms = [r for r in caplog.records if "wrong enrollment codes" in r.getMessage()]
    assert len(alarms) == 1
    assert alarms[0].levelno == logging.WARNING
    code = new_enrollment_code(case, contact)
    response = APIClient(REMOTE_ADDR="10.2.0.1").post(
        "/api/v1/enroll", {"code": code, "device": DeviceKeys().public()}, format="json"
    )
    assert response.status_code == 201, response.content


def test_only_staff_on_the_case_may_create_codes(case, contact, other_contact, supervisor, defector_device, as_staff):
    assert as_staff(contact).post(f"/api/v1/cases/{case.pk}/enrollment-codes").status_code == 201
    for outsider in (other_contact, supervisor):
        response = as_staff(outsider).post(f"/api/v1/cases/{case.pk}/enrollment-codes")
        assert response.status_code == 404
    assert device_client(defector_device).post(f"/api/v1/cases/{case.pk}/enrollment-codes").status_code == 403


def test_code_comes_with_a_qr_code(case, contact, as_staff):
    body = as_staff(contact).post(f"/api/v1/cases/{case.pk}/enrollment-codes").json()
    assert body["qr_svg"].startswith("data:image/svg+xml")
    assert EnrollmentCode.objects.get(case=case).code_hash == enrollment_code_hash(body["code"])


def test_staff_with_only_temporary_access_cannot_enroll_a_device_as_the_defector(case, oncall, supervisor, as_staff):
    grant_alert_access(case=case, staff=oncall.user, alert_ref="alert:1", reason="holding")
    open_break_glass(case_id=case.pk, supervisor=supervisor.user, reason="Contact person is on leave this week")
    for person in (oncall, supervisor):
        client = as_staff(person)
        assert client.get(f"/api/v1/cases/{case.pk}").status_code == 200  # may read…
        assert client.post(f"/api/v1/cases/{case.pk}/enrollment-codes").status_code == 404  # …not enroll
