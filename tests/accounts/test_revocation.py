"""Revoking a lost phone: one action, effective at once on every endpoint."""

from __future__ import annotations

import time

from backend.accounts.models import Device
from tests.conftest import device_client
from tests.factories import DefectorDeviceSessionFactory


def test_contact_person_revokes_a_defector_phone_everywhere_at_once(api, case, contact, defector_device, as_staff):
    client = device_client(defector_device)
    assert client.get("/api/v1/me").status_code == 200
    response = as_staff(contact).post(
        f"/api/v1/devices/{defector_device.device_id}/revoke", {"reason": "phone stolen"}, format="json"
    )
    assert response.status_code == 204
    device = Device.objects.get(pk=defector_device.device_id)
    assert device.revoked_at is not None and device.push_token == ""
    for path in ("/api/v1/me", "/api/v1/cases", f"/api/v1/cases/{case.pk}"):
        assert client.get(path).status_code == 401, path
    ts = int(time.time())
    refreshed = api.post(
        "/api/v1/auth/refresh",
        {
            "device_id": defector_device.device_id,
            "refresh_token": defector_device.refresh_token,
            "timestamp": str(ts),
            "signature": defector_device.keys.sign_refresh(defector_device.refresh_token, ts),
        },
        format="json",
    )
    assert refreshed.status_code == 401


def test_revocation_keeps_other_devices_of_the_case_working(case, contact, defector_device, as_staff):
    second = DefectorDeviceSessionFactory(case=case)
    as_staff(contact).post(f"/api/v1/devices/{defector_device.device_id}/revoke", {}, format="json")
    assert device_client(second).get("/api/v1/me").status_code == 200


def test_defector_can_revoke_their_own_device(defector_device):
    client = device_client(defector_device)
    assert client.post(f"/api/v1/devices/{defector_device.device_id}/revoke", {}, format="json").status_code == 204
    assert client.get("/api/v1/me").status_code == 401


def test_supervisor_of_the_programme_may_revoke(defector_device, supervisor, as_staff):
    response = as_staff(supervisor).post(f"/api/v1/devices/{defector_device.device_id}/revoke", {}, format="json")
    assert response.status_code == 204


def test_staff_not_on_the_case_and_other_defectors_cannot_revoke(
    defector_device, other_contact, foreign_supervisor, other_case, as_staff
):
    for outsider in (other_contact, foreign_supervisor):
        response = as_staff(outsider).post(f"/api/v1/devices/{defector_device.device_id}/revoke", {}, format="json")
        assert response.status_code == 404
    other_defector = DefectorDeviceSessionFactory(case=other_case)
    response = device_client(other_defector).post(
        f"/api/v1/devices/{defector_device.device_id}/revoke", {}, format="json"
    )
    assert response.status_code == 404
    assert device_client(defector_device).get("/api/v1/me").status_code == 200


def test_revoking_twice_is_harmless(defector_device, contact, as_staff):
    client = as_staff(contact)
    assert client.post(f"/api/v1/devices/{defector_device.device_id}/revoke", {}, format="json").status_code == 204
    assert client.post(f"/api/v1/devices/{defector_device.device_id}/revoke", {}, format="json").status_code == 204


def test_a_revocation_is_audited_under_the_defectors_case(case, contact, defector_device, as_staff):
    from backend.audit.models import AuditEntry

    as_staff(contact).post(
        f"/api/v1/devices/{defector_device.device_id}/revoke", {"reason": "phone stolen"}, format="json"
    )
    entry = AuditEntry.objects.get(action="device.revoked")
    assert (entry.case_id, entry.actor_id, entry.target, entry.reason) == (
        case.pk,
        contact.user.pk,
        f"device:{defector_device.device_id}",
        "phone stolen",
    )
