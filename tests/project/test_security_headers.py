"""Response headers: a Content-Security-Policy on every API answer, and no caching of
anything that carries a token or a one-time code."""

from __future__ import annotations

import time

import pytest
from rest_framework.test import APIClient

from client.device import DeviceKeys
from tests.conftest import device_client
from tests.factories import STAFF_PASSWORD

API_POLICY = {"default-src 'none'", "frame-ancestors 'none'"}


def policy(response) -> set[str]:
    return {directive.strip() for directive in response["Content-Security-Policy"].split(";")}


def _no_store(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


@pytest.mark.parametrize("path", ["/api/v1/me", "/api/v1/nothing-here", "/api/v1/schema/"])
def test_api_answers_carry_the_content_security_policy(defector_device, path):
    response = device_client(defector_device).get(path)
    assert policy(response) == API_POLICY


def test_an_anonymous_refusal_carries_the_policy_too(db):
    response = APIClient().get("/api/v1/cases")
    assert response.status_code == 401
    assert policy(response) == API_POLICY


def test_token_answers_are_never_stored(api, case, contact, as_staff, oncall):
    code_response = as_staff(contact).post(f"/api/v1/cases/{case.pk}/enrollment-codes")
    assert code_response.status_code == 201 and _no_store(code_response)

    enrolled = api.post(
        "/api/v1/enroll", {"code": code_response.json()["code"], "device": DeviceKeys().public()}, format="json"
    )
    assert enrolled.status_code == 201 and _no_store(enrolled)

    keys = DeviceKeys()
    phone = api.post(
        "/api/v1/auth/staff-device",
        {"username": "oncall", "password": STAFF_PASSWORD, "otp": oncall.otp(), "device": keys.public()},
        format="json",
    )
    assert phone.status_code == 201 and _no_store(phone)

    body = phone.json()
    ts = int(time.time())
    refreshed = api.post(
        "/api/v1/auth/refresh",
        {
            "device_id": body["device_id"],
            "refresh_token": body["refresh_token"],
            "timestamp": str(ts),
            "signature": keys.sign_refresh(body["refresh_token"], ts),
        },
        format="json",
    )
    assert refreshed.status_code == 200 and _no_store(refreshed)


def test_the_inbox_enrollment_code_page_is_never_stored(case, contact, as_staff):
    response = as_staff(contact).post(f"/inbox/cases/{case.pk}/enrollment-code")
    assert response.status_code == 200
    assert _no_store(response)


def test_ordinary_reads_may_be_cached_by_the_client(defector_device):
    # no-store is for secrets; it is not sprinkled over everything.
    assert not _no_store(device_client(defector_device).get("/api/v1/me"))
