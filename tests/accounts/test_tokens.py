"""Access and refresh tokens: short-lived, rotated with a device signature, theft-detecting."""

from __future__ import annotations

import time

import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from backend.accounts.models import Device, DeviceToken
from client.device import DeviceKeys
from tests.conftest import device_client


def refresh(
    api: APIClient, session, *, timestamp: int | None = None, keys: DeviceKeys | None = None, token: str | None = None
):
    ts = int(time.time()) if timestamp is None else timestamp
    token = token or session.refresh_token
    signer = keys or session.keys
    return api.post(
        "/api/v1/auth/refresh",
        {
            "device_id": session.device_id,
            "refresh_token": token,
            "timestamp": str(ts),
            "signature": signer.sign_refresh(token, ts),
        },
        format="json",
    )


def test_tokens_are_stored_only_as_hashes(defector_device):
    stored = set(DeviceToken.objects.values_list("token_hash", flat=True))
    assert defector_device.access_token not in stored
    assert defector_device.refresh_token not in stored
    assert len(stored) == 2


def test_access_token_expires_after_about_15_minutes(defector_device):
    client = device_client(defector_device)
    with time_machine.travel(timezone.now() + timezone.timedelta(minutes=14)):
        assert client.get("/api/v1/me").status_code == 200
    with time_machine.travel(timezone.now() + timezone.timedelta(minutes=16)):
        response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"] == "Bearer"


def test_signed_refresh_rotates_both_tokens(api, defector_device):
    old_access, old_refresh = defector_device.access_token, defector_device.refresh_token
    response = refresh(api, defector_device)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["access_token"] != old_access and body["refresh_token"] != old_refresh
    assert body["expires_in"] == 900
    defector_device.access_token = body["access_token"]
    assert device_client(defector_device).get("/api/v1/me").status_code == 200
    # The previous access token stops working with the rotation.
    stale = APIClient()
    stale.credentials(HTTP_AUTHORIZATION=f"Bearer {old_access}")
    assert stale.get("/api/v1/me").status_code == 401


def test_refresh_signed_by_another_key_is_refused(api, defector_device):
    response = refresh(api, defector_device, keys=DeviceKeys())
    assert response.status_code == 401
    assert response.json()["type"] == "urn:livlina:problem:signature-invalid"
    # The genuine device can still refresh: a forged attempt does not spend the token.
    assert refresh(api, defector_device).status_code == 200


def test_refresh_outside_the_clock_skew_is_refused(api, defector_device):
    response = refresh(api, defector_device, timestamp=int(time.time()) - 600)
    assert response.status_code == 401
    body = response.json()
    assert body["type"] == "urn:livlina:problem:clock-skew"
    assert body["errors"][0]["field"] == "timestamp"


def test_reused_refresh_token_revokes_the_device(api, defector_device):
    stolen = defector_device.refresh_token
    first = refresh(api, defector_device)
    assert first.status_code == 200
    new_access = first.json()["access_token"]
    replay = refresh(api, defector_device, token=stolen)
    assert replay.status_code == 401
    assert replay.json()["type"] == "urn:livlina:problem:refresh-reused"
    device = Device.objects.get(pk=defector_device.device_id)
    assert device.is_revoked
    assert not DeviceToken.objects.filter(device=device).exists()
    from backend.audit.models import AuditEntry

    entry = AuditEntry.objects.get(action="device.refresh_reuse")
    assert (entry.case_id, entry.actor_id, entry.target) == (defector_device.case_id, None, f"device:{device.pk}")
    holder = APIClient()
    holder.credentials(HTTP_AUTHORIZATION=f"Bearer {new_access}")
    assert holder.get("/api/v1/me").status_code == 401


def test_refresh_with_a_malformed_signature_names_the_field(api, defector_device):
    response = api.post(
        "/api/v1/auth/refresh",
        {
            "device_id": defector_device.device_id,
            "refresh_token": defector_device.refresh_token,
            "timestamp": str(int(time.time())),
            "signature": "%%%",
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "signature"


def test_garbage_bearer_token_is_401(api, case):
    api.credentials(HTTP_AUTHORIZATION="Bearer nope")
    assert api.get("/api/v1/cases").status_code == 401
    api.credentials(HTTP_AUTHORIZATION="Basic abc")
    assert api.get("/api/v1/cases").status_code == 401


def test_no_credentials_is_401_problem(api):
    response = api.get("/api/v1/cases")
    assert response.status_code == 401
    assert response.json()["type"] == "urn:livlina:problem:not-authenticated"
