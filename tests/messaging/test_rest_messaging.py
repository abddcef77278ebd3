"""Messaging over REST: durable, ordered, idempotent, encrypted, access-checked."""

from __future__ import annotations

import json
import uuid

import pytest
from rest_framework.test import APIClient

from backend.audit.models import AuditEntry
from backend.cases.services import end_alert_access, grant_alert_access
from backend.crisis.models import Alert
from backend.messaging.models import Conversation, Message
from backend.push.models import PushOutbox
from backend.vault.services import ContentTampered, open_sealed, shred_case_key
from tests.conftest import device_client
from tests.factories import DefectorDeviceSessionFactory, DeviceFactory


def send(client: APIClient, conversation_id: int, body: str, client_id: str | None = None):
    return client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        {"client_id": client_id or str(uuid.uuid4()), "body": body},
        format="json",
    )


@pytest.fixture
def conversation(case) -> Conversation:
    return Conversation.objects.get(case=case)


def test_defector_sends_and_staff_reads_in_order(conversation, defector_device, contact, as_staff):
    app = device_client(defector_device)
    first = send(app, conversation.pk, "  Hej, jag behöver prata  ")
    assert first.status_code == 201
    body = first.json()
    assert body["seq"] == 1 and body["body"] == "Hej, jag behöver prata"
    assert send(app, conversation.pk, "andra").json()["seq"] == 2
    staff = as_staff(contact)
    page = staff.get(f"/api/v1/conversations/{conversation.pk}/messages?after_seq=0").json()
    assert [m["body"] for m in page["results"]] == ["Hej, jag behöver prata", "andra"]
    assert [m["seq"] for m in page["results"]] == [1, 2]
    assert page["has_more"] is False
    reply = send(staff, conversation.pk, "Jag är här.")
    assert reply.json()["seq"] == 3 and reply.json()["sender"] == contact.user.pk


def test_same_client_id_returns_the_stored_message_and_creates_nothing(conversation, defector_device):
    app = device_client(defector_device)
    client_id = str(uuid.uuid4())
    first = send(app, conversation.pk, "once", client_id)
    again = send(app, conversation.pk, "once", client_id)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Message.objects.count() == 1
    assert Conversation.objects.get(pk=conversation.pk).last_seq == 1


def test_bodies_are_stored_encrypted_and_bound_to_their_row(conversation, defector_device, case):
    app = device_client(defector_device)
    send(app, conversation.pk, "hemlig adress Storgatan 1")
    send(app, conversation.pk, "annat")
    first, second = Message.objects.order_by("seq")
    assert b"Storgatan" not in bytes(first.body_sealed)
    with pytest.raises(ContentTampered):
        open_sealed(case_id=case.pk, record=second.vault_record, ciphertext=bytes(first.body_sealed))


def test_history_pages_with_a_cursor(conversation, defector_device):
    app = device_client(defector_device)
    for i in range(5):
        send(app, conversation.pk, f"m{i}")
    page = app.get(f"/api/v1/conversations/{conversation.pk}/messages?after_seq=1&limit=2").json()
    assert [m["seq"] for m in page["results"]] == [2, 3] and page["has_more"] is True
    page = app.get(f"/api/v1/conversations/{conversation.pk}/messages?after_seq=3&limit=2").json()
    assert [m["seq"] for m in page["results"]] == [4, 5] and page["has_more"] is False


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"client_id": "not-a-uuid", "body": "x"}, "client_id"),
        ({"client_id": str(uuid.uuid4()), "body": "   "}, "body"),
        ({"client_id": str(uuid.uuid4()), "body": "x" * 4001}, "body"),
        ({"client_id": str(uuid.uuid4()), "body": 12}, "body"),
        ({"client_id": str(uuid.uuid4()), "body": "x", "urgent": True}, "urgent"),
        ({"body": "x"}, "client_id"),
    ],
)
def test_bad_messages_get_a_problem_naming_the_field(conversation, defector_device, payload, field):
    response = device_client(defector_device).post(
        f"/api/v1/conversations/{conversation.pk}/messages", payload, format="json"
    )
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert field in {e["field"] for e in response.json()["errors"]}
    assert Message.objects.count() == 0


def test_bad_query_parameters_are_problems(conversation, defector_device):
    app = device_client(defector_device)
    for query, field in (
        ("after_seq=x", "after_seq"),
        ("after_seq=-1", "after_seq"),
        ("limit=0", "limit"),
        ("limit=1000", "limit"),
        # An empty value is a value, not an absent parameter (DRF's HTML-form reading).
        ("limit=", "limit"),
        ("after_seq=", "after_seq"),
    ):
        response = app.get(f"/api/v1/conversations/{conversation.pk}/messages?{query}")
        assert response.status_code == 400
        assert response.json()["errors"][0]["field"] == field


def test_a_defector_cannot_read_or_write_another_case(case, other_case, other_contact, defector_device):
    other = Conversation.objects.get(case=other_case)
    app = device_client(defector_device)
    assert app.get(f"/api/v1/conversations/{other.pk}/messages").status_code == 404
    assert send(app, other.pk, "hi").status_code == 404
    assert [c["case_id"] for c in app.get("/api/v1/conversations").json()] == [case.pk]


def test_staff_not_on_the_case_cannot_read_or_write(conversation, other_contact, supervisor, oncall, as_staff):
    for outsider in (other_contact, supervisor, oncall):
        client = as_staff(outsider)
        assert client.get(f"/api/v1/conversations/{conversation.pk}/messages").status_code == 404
        assert send(client, conversation.pk, "hi").status_code == 404


def test_staff_holding_an_alert_may_read_and_write_while_it_is_open(conversation, case, oncall, as_staff):
    client = as_staff(oncall)
    grant_alert_access(case=case, staff=oncall.user, alert_ref="alert:7", reason="on call")
    assert send(client, conversation.pk, "Jag har jouren, hur mår du?").status_code == 201
    end_alert_access(alert_ref="alert:7")
    assert client.get(f"/api/v1/conversations/{conversation.pk}/messages").status_code == 404


def test_staff_reads_of_messages_are_audited(conversation, defector_device, contact, as_staff):
    send(device_client(defector_device), conversation.pk, "hej")
    as_staff(contact).get(f"/api/v1/conversations/{conversation.pk}/messages")
    entry = AuditEntry.objects.filter(action="messages.read").get()
    assert entry.actor_id == contact.user.pk and entry.case_id == conversation.case_id


def test_read_receipts_and_unread_counts(conversation, defector_device, contact, as_staff):
    app = device_client(defector_device)
    for body in ("a", "b", "c"):
        send(app, conversation.pk, body)
    staff = as_staff(contact)
    assert staff.get("/api/v1/conversations").json() == [
        {"id": conversation.pk, "case_id": conversation.case_id, "unread": 3, "last_seq": 3}
    ]
    assert app.get("/api/v1/conversations").json()[0]["unread"] == 0  # own messages are read
    assert (
        staff.post(f"/api/v1/conversations/{conversation.pk}/read", {"up_to_seq": 2}, format="json").status_code == 204
    )
    assert staff.get("/api/v1/conversations").json()[0]["unread"] == 1
    # Never backwards, never past the end.
    staff.post(f"/api/v1/conversations/{conversation.pk}/read", {"up_to_seq": 1}, format="json")
    assert staff.get("/api/v1/conversations").json()[0]["unread"] == 1
    staff.post(f"/api/v1/conversations/{conversation.pk}/read", {"up_to_seq": 99}, format="json")
    assert staff.get("/api/v1/conversations").json()[0]["unread"] == 0


def test_push_rows_go_to_recipients_devices_not_the_sender(conversation, case, contact):
    sender_phone = DefectorDeviceSessionFactory(case=case, push_token="defector-token")
    DeviceFactory(user=case.defector.user, push_token="defector-token-2")
    staff_phone = DeviceFactory(user=contact.user, push_token="staff-token")
    send(device_client(sender_phone), conversation.pk, "hej")
    targets = set(PushOutbox.objects.values_list("device_id", flat=True))
    # The staff phone only: the sender's own second phone syncs, it is not woken.
    assert targets == {staff_phone.pk}


def test_sending_is_rate_limited_per_device(conversation, defector_device, settings):
    settings.LIVLINA_MESSAGE_RATE = "3/minute"
    app = device_client(defector_device)
    assert [send(app, conversation.pk, f"m{i}").status_code for i in range(4)] == [201, 201, 201, 429]
    response = send(app, conversation.pk, "again")
    assert response.json()["type"] == "urn:livlina:problem:rate-limited"


def test_a_revoked_device_can_neither_send_nor_read(conversation, defector_device, contact, as_staff):
    app = device_client(defector_device)
    as_staff(contact).post(f"/api/v1/devices/{defector_device.device_id}/revoke", {}, format="json")
    assert send(app, conversation.pk, "hej").status_code == 401
    assert app.get(f"/api/v1/conversations/{conversation.pk}/messages").status_code == 401


def test_a_closed_case_takes_no_new_messages(conversation, case, defector_device):
    case.status = "closed"
    case.save()
    response = send(device_client(defector_device), conversation.pk, "hej")
    assert response.status_code == 409
    assert Message.objects.count() == 0


def test_shredded_case_content_reads_as_empty(conversation, case, defector_device, contact):
    app = device_client(defector_device)
    send(app, conversation.pk, "secret")
    shred_case_key(case=case, actor=contact.user)
    case.status = "closed"
    case.save()
    page = app.get(f"/api/v1/conversations/{conversation.pk}/messages").json()
    assert page["results"][0]["body"] == ""


def test_an_oversized_request_body_is_a_413_problem(conversation, defector_device):
    huge = json.dumps({"client_id": str(uuid.uuid4()), "body": "x" * 300_000})
    response = device_client(defector_device).generic(
        "POST", f"/api/v1/conversations/{conversation.pk}/messages", huge, content_type="application/json"
    )
    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"
    assert Message.objects.count() == 0


def test_nul_in_a_message_body_is_refused(case, defector_device):
    conversation = Conversation.objects.get(case=case)
    response = device_client(defector_device).post(
        f"/api/v1/conversations/{conversation.pk}/messages",
        {"client_id": str(uuid.uuid4()), "body": "a\x00b"},
        format="json",
    )
    assert response.status_code == 400
    assert not Alert.objects.exists()
