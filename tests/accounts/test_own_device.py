"""A phone updates its own push token and name (``PUT /api/v1/me/device``): the defector's
app and a staff phone alike; the new token is used from the next push on."""

from __future__ import annotations

import pytest
from django.utils import timezone

from backend.accounts.models import Device
from backend.accounts.throttles import DeviceUpdateThrottle
from backend.audit.models import AuditEntry
from backend.push.models import PushKind, PushOutbox
from backend.push.senders import Delivery
from backend.push.services import drain_outbox, enqueue_push
from tests.conftest import device_client
from tests.factories import StaffDeviceSessionFactory

pytestmark = pytest.mark.django_db


class RecordingSender:
    """Answers every push as sent and notes the token each went to."""

    def __init__(self) -> None:
        self.tokens: list[str] = []

    def send(self, row, token):
        from backend.push.models import Outcome

        self.tokens.append(token)
        return Delivery(Outcome.SENT, provider_id="test")


@pytest.fixture
def staff_phone(contact):
    return StaffDeviceSessionFactory(user=contact.user, push_token="old-token")


def put_device(session, body):
    return device_client(session).put("/api/v1/me/device", body, format="json")


def test_the_defectors_app_replaces_its_token_and_the_answer_is_the_device(defector_device, case):
    response = put_device(defector_device, {"push_token": "fresh-fid-1"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == defector_device.device_id and body["push_enabled"] is True
    assert "push_token" not in body
    assert Device.objects.get(pk=defector_device.device_id).push_token == "fresh-fid-1"
    entry = AuditEntry.objects.get(action="device.updated")
    assert entry.case_id == case.pk and entry.target == f"device:{defector_device.device_id}"
    assert entry.details == {"changed": ["push_token"], "push": True}
    assert "fresh-fid-1" not in repr(AuditEntry.objects.filter(pk=entry.pk).values().get())


def test_a_staff_phone_replaces_its_token_and_name(staff_phone):
    response = put_device(staff_phone, {"push_token": "new-token", "name": "Jourtelefon"})
    assert response.status_code == 200, response.content
    device = Device.objects.get(pk=staff_phone.device_id)
    assert (device.push_token, device.name) == ("new-token", "Jourtelefon")
    entry = AuditEntry.objects.get(action="device.updated")
    assert entry.case_id is None and entry.details == {"changed": ["push_token", "name"], "push": True}
    assert "Jourtelefon" not in repr(AuditEntry.objects.filter(pk=entry.pk).values().get())


def test_an_empty_token_means_no_push(staff_phone, contact):
    response = put_device(staff_phone, {"push_token": ""})
    assert response.status_code == 200 and response.json()["push_enabled"] is False
    assert enqueue_push(user_ids=[contact.user.pk], kind=PushKind.ALERT) == []


def test_a_pending_push_goes_to_the_new_token(staff_phone, contact):
    (row,) = enqueue_push(user_ids=[contact.user.pk], kind=PushKind.ALERT)
    assert put_device(staff_phone, {"push_token": "new-token"}).status_code == 200
    sender = RecordingSender()
    drain_outbox(sender=sender)
    assert sender.tokens == ["new-token"]
    row.refresh_from_db()
    assert row.state == PushOutbox.State.SENT


def test_a_phone_whose_token_died_is_pushed_again_after_an_update(staff_phone, contact):
    Device.objects.filter(pk=staff_phone.device_id).update(push_token="")  # the push service said UNREGISTERED
    assert enqueue_push(user_ids=[contact.user.pk], kind=PushKind.ALERT) == []
    put_device(staff_phone, {"push_token": "new-token"})
    assert len(enqueue_push(user_ids=[contact.user.pk], kind=PushKind.ALERT)) == 1


def test_a_revoked_device_is_refused(staff_phone, contact):
    client = device_client(staff_phone)
    Device.objects.filter(pk=staff_phone.device_id).update(revoked_at=timezone.now())
    response = client.put("/api/v1/me/device", {"push_token": "new-token"}, format="json")
    assert response.status_code == 401
    assert Device.objects.get(pk=staff_phone.device_id).push_token == "old-token"


def test_a_device_revoked_during_the_update_is_refused(staff_phone):
    from backend.accounts.services import update_device

    device = Device.objects.get(pk=staff_phone.device_id)
    Device.objects.filter(pk=device.pk).update(revoked_at=timezone.now())
    from backend.problems import Problem

    with pytest.raises(Problem) as refused:
        update_device(device=device, push_token="new-token", name=None, case_id=None)
    assert refused.value.status_code == 401
    assert not AuditEntry.objects.filter(action="device.updated").exists()


def test_an_inbox_session_has_no_device_to_update(contact, as_staff):
    response = as_staff(contact).put("/api/v1/me/device", {"push_token": "x"}, format="json")
    assert response.status_code == 403
    assert response.json()["type"] == "urn:livlina:problem:forbidden"


def test_without_credentials_it_is_401(api):
    assert api.put("/api/v1/me/device", {"push_token": "x"}, format="json").status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"push_token": 12}, "push_token"),
        ({"push_token": "has space"}, "push_token"),
        ({"push_token": "x" * 4097}, "push_token"),
        ({"name": ""}, "name"),
        ({"name": "n" * 101}, "name"),
        ({"name": None}, "name"),
        ({"platform": "ios"}, "platform"),
        ({}, ""),
    ],
)
def test_bad_input_is_a_problem_naming_the_field(defector_device, body, field):
    response = put_device(defector_device, body)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert field in [error["field"] for error in response.json()["errors"]]
    assert not AuditEntry.objects.filter(action="device.updated").exists()


def test_updates_are_rate_limited_per_device(staff_phone, defector_device, monkeypatch):
    monkeypatch.setattr(DeviceUpdateThrottle, "THROTTLE_RATES", {"device_update": "3/hour"})
    for n in range(3):
        assert put_device(staff_phone, {"push_token": f"t{n}"}).status_code == 200
    refused = put_device(staff_phone, {"push_token": "t4"})
    assert refused.status_code == 429 and refused.json()["type"] == "urn:livlina:problem:rate-limited"
    assert Device.objects.get(pk=staff_phone.device_id).push_token == "t2"
    assert put_device(defector_device, {"push_token": "other"}).status_code == 200  # another phone's own budget


def test_the_update_is_not_refused_while_the_cache_is_down(staff_phone, settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"}
    }
    assert put_device(staff_phone, {"push_token": "new-token"}).status_code == 200
