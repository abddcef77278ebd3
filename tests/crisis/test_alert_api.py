"""Alerts over the API, from every role's side; unanswered messages; live alert frames."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import time_machine
from channels.db import database_sync_to_async
from django.utils import timezone

from backend.crisis.engine import run_escalations
from backend.crisis.models import Alert
from backend.crisis.services import alert_frame, raise_alert
from backend.messaging.models import Conversation, UnansweredCheck
from backend.messaging.services import send_message
from backend.push.models import PushOutbox
from backend.worker.loop import escalate
from tests.conftest import device_client, staff_client
from tests.messaging.socket_clients import device_socket, receive_type, session_socket


def test_staff_on_the_case_see_open_alerts_others_do_not(
    case, contact, other_contact, oncall, as_staff, defector_device
):
    alert = raise_alert(case=case, kind="keyword", severity="high", categories=["threat"])
    listed = as_staff(contact).get("/api/v1/alerts?state=open").json()
    assert [(a["id"], a["kind"], a["severity"], a["state"]) for a in listed] == [(alert.pk, "keyword", "high", "open")]
    assert as_staff(other_contact).get("/api/v1/alerts").json() == []
    assert as_staff(oncall).get(f"/api/v1/alerts/{alert.pk}").status_code == 404
    assert device_client(defector_device).get("/api/v1/alerts").status_code == 403


def test_bad_state_filter_is_a_problem(contact, as_staff):
    response = as_staff(contact).get("/api/v1/alerts?state=burning")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "state"


def test_on_call_who_was_notified_may_see_ack_and_then_read_the_case(case, oncall, rotation, as_staff, phone_of):
    phone_of(oncall)
    alert = raise_alert(case=case, kind="panic", severity="critical")
    run_escalations()
    client = as_staff(oncall)
    assert client.get(f"/api/v1/cases/{case.pk}").status_code == 404  # notified is not yet holding
    detail = client.get(f"/api/v1/alerts/{alert.pk}").json()
    timeline = [item["event"] for item in detail["timeline"]]
    assert timeline[0] == "raised" and {"notified", "push.queued"} <= set(timeline)
    acked = client.post(f"/api/v1/alerts/{alert.pk}/ack", {"note": "ringer nu"}, format="json")
    assert acked.status_code == 200 and acked.json()["state"] == "acknowledged"
    assert client.get(f"/api/v1/cases/{case.pk}").status_code == 200
    conversation = Conversation.objects.get(case=case)
    assert client.get(f"/api/v1/conversations/{conversation.pk}/messages").status_code == 200
    no_note = client.post(f"/api/v1/alerts/{alert.pk}/resolve", {}, format="json")
    assert no_note.status_code == 400 and no_note.json()["errors"][0]["field"] == "note"
    done = client.post(f"/api/v1/alerts/{alert.pk}/resolve", {"note": "Hämtad av polis, trygg."}, format="json")
    assert done.status_code == 200 and done.json()["state"] == "resolved"
    assert client.get(f"/api/v1/cases/{case.pk}").status_code == 404
    again = client.post(f"/api/v1/alerts/{alert.pk}/resolve", {"note": "igen"}, format="json")
    assert again.status_code == 409


def test_the_alert_timeline_shows_each_push_and_its_outcome(case, contact, as_staff, phone_of):
    from backend.push.services import drain_outbox

    phone_of(contact)
    alert = raise_alert(case=case, kind="keyword", severity="high")
    run_escalations()
    drain_outbox()
    timeline = as_staff(contact).get(f"/api/v1/alerts/{alert.pk}").json()["timeline"]
    assert "push.sent" in [item["event"] for item in timeline]


def defector_says(conversation: Conversation, body: str) -> None:
    # Through the service: the device's 15-minute token would not survive the time travel.
    send_message(
        sender=conversation.case.defector.user,
        sender_device=None,
        conversation=conversation,
        client_id=uuid.uuid4(),
        body=body,
    )


def test_an_unread_defector_message_raises_an_unanswered_alert(case, contact):
    conversation = Conversation.objects.get(case=case)
    monday_10 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)  # 11:00 in Stockholm, working hours
    with time_machine.travel(monday_10):
        defector_says(conversation, "hej")
        escalate(limit=50)
        assert not Alert.objects.exists()
    with time_machine.travel(monday_10 + dt.timedelta(minutes=10, seconds=1)):
        escalate(limit=50)
    alert = Alert.objects.get()
    assert (alert.kind, alert.severity_name) == ("unanswered", "high")
    assert not UnansweredCheck.objects.exists()


def test_a_read_message_raises_nothing(case, contact, as_staff):
    conversation = Conversation.objects.get(case=case)
    monday_10 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)
    with time_machine.travel(monday_10):
        defector_says(conversation, "hej")
        as_staff(contact).post(f"/api/v1/conversations/{conversation.pk}/read", {"up_to_seq": 1}, format="json")
    with time_machine.travel(monday_10 + dt.timedelta(minutes=11)):
        escalate(limit=50)
    assert not Alert.objects.exists()


def test_outside_working_hours_an_unread_message_alerts_at_once(case, contact):
    conversation = Conversation.objects.get(case=case)
    saturday_3am = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)
    with time_machine.travel(saturday_3am):
        defector_says(conversation, "hej")
        escalate(limit=50)
    assert Alert.objects.get().kind == "unanswered"


def test_alert_pushes_carry_no_case_content(case, contact, phone_of):
    from backend.push.senders import FcmSender

    phone_of(contact)
    alert = raise_alert(case=case, kind="keyword", severity="high", categories=["self_harm"])
    run_escalations()
    row = PushOutbox.objects.get(alert=alert)
    message = FcmSender(app=None).build_message(row, "tok")
    assert message.data == {"kind": "alert", "ref": str(row.pk)}
    assert message.apns.headers == {"apns-priority": "10", "apns-push-type": "alert"}
    text = f"{message.android.notification.title} {message.android.notification.body}"
    for secret in (case.defector.alias, "self_harm", "keyword", str(case.pk)):
        assert secret not in text


@pytest.mark.django_db(transaction=True)
async def test_alert_new_reaches_staff_sockets_not_the_defector(case, contact, defector_device):
    cookie = (await database_sync_to_async(staff_client)(contact)).cookies["sessionid"].value
    inbox = session_socket(cookie, origin="http://testserver")
    assert (await inbox.connect())[0]
    app = device_socket(defector_device.access_token)
    assert (await app.connect())[0]
    alert = await database_sync_to_async(raise_alert)(case=case, kind="duress", severity="critical")
    frame = await receive_type(inbox, "alert.new")
    assert frame["alert"] == {
        "id": alert.pk,
        "case_id": case.pk,
        "kind": "duress",
        "severity": "critical",
        "state": "open",
        "created_at": alert.created_at.isoformat().replace("+00:00", "Z"),
    }
    assert await app.receive_nothing(timeout=0.5)
    await inbox.disconnect()
    await app.disconnect()


def test_an_alert_frame_tells_what_the_api_tells_for_the_same_fields(case, contact, as_staff):
    alert = raise_alert(case=case, kind="keyword", severity="high", categories=["self_harm"])
    as_staff(contact).post(f"/api/v1/alerts/{alert.pk}/ack", {}, format="json")
    alert.refresh_from_db()
    listed = as_staff(contact).get("/api/v1/alerts").json()[0]
    frame = alert_frame(alert, "alert.updated")
    assert frame["type"] == "alert.updated"
    assert frame["alert"] == {name: listed[name] for name in frame["alert"]}
    assert set(frame["alert"]) == {"id", "case_id", "kind", "severity", "state", "created_at"}
    assert frame["alert"]["state"] == "acknowledged"


def test_timeline_shows_nothing_before_escalation(case, contact, as_staff):
    alert = raise_alert(case=case, kind="keyword", severity="normal")
    detail = as_staff(contact).get(f"/api/v1/alerts/{alert.pk}").json()
    assert [item["event"] for item in detail["timeline"]] == ["raised"]
    assert timezone.now() >= Alert.objects.get().created_at


def device_sends(device, case, body: str) -> None:
    """The defector's app sends ``body`` over REST, as it does in use."""
    conversation = Conversation.objects.get(case=case)
    sent = device_client(device).post(
        f"/api/v1/conversations/{conversation.pk}/messages",
        {"client_id": str(uuid.uuid4()), "body": body},
        format="json",
    )
    assert sent.status_code == 201


def test_crisis_language_in_a_defector_message_raises_a_keyword_alert(case, contact, defector_device, as_staff):
    device_sends(defector_device, case, "Jag orkar inte mer, har tagit hela burken med tabletter")
    alert = Alert.objects.get(kind="keyword")
    assert alert.severity_name == "critical" and "self_harm" in alert.categories
    # The alert and its timeline say what kind of danger, never the words.
    detail = as_staff(contact).get(f"/api/v1/alerts/{alert.pk}").json()
    assert "tabletter" not in str(detail) and "orkar" not in str(detail)


def test_a_keyword_alert_explains_which_category_and_rule_fired(case, contact, defector_device, as_staff):
    device_sends(defector_device, case, "dom hotade lillebror utanför skolan idag")
    device_sends(defector_device, case, "tog 20 stesolid för en halvtimme sen")
    alert = Alert.objects.get(kind="keyword")
    expected = [
        {"category": "overdose", "rule": "medicine_quantity"},
        {"category": "threat", "rule": "threat_against_family"},
    ]
    detail = as_staff(contact).get(f"/api/v1/alerts/{alert.pk}").json()
    assert detail["reasons"] == expected
    assert as_staff(contact).get("/api/v1/alerts").json()[0]["reasons"] == expected
    # Each trigger on the timeline says what it added.
    raised, retriggered = (item for item in detail["timeline"] if item["event"] in {"raised", "retriggered"})
    assert raised["detail"]["reasons"] == [{"category": "threat", "rule": "threat_against_family"}]
    assert retriggered["detail"]["reasons"] == [{"category": "overdose", "rule": "medicine_quantity"}]
    # Never the words, neither in the API nor in what a socket or a push is told.
    for word in ("hotade", "lillebror", "stesolid", "halvtimme"):
        assert word not in str(detail["reasons"]) and word not in str(detail["timeline"])
    assert "reasons" not in alert_frame(alert)["alert"]


def test_a_hint_no_rule_lists_raises_a_high_alert_the_text_model_explains(case, contact, defector_device, as_staff):
    device_sends(defector_device, case, "ni behöver inte boka nån ny tid åt mig")
    alert = Alert.objects.get(kind="keyword")
    assert (alert.severity_name, alert.categories) == ("high", ["self_harm"])
    detail = as_staff(contact).get(f"/api/v1/alerts/{alert.pk}").json()
    assert detail["reasons"] == [{"category": "self_harm", "rule": "text_model"}]
    assert "boka" not in str(detail) and "tid" not in str(detail)


def test_staff_messages_are_not_scanned(case, contact, as_staff):
    conversation = Conversation.objects.get(case=case)
    as_staff(contact).post(
        f"/api/v1/conversations/{conversation.pk}/messages",
        {"client_id": str(uuid.uuid4()), "body": "Har du tagit tabletter? Vill du ta livet av dig?"},
        format="json",
    )
    assert not Alert.objects.exists()


def test_an_everyday_message_raises_nothing(case, defector_device):
    conversation = Conversation.objects.get(case=case)
    device_client(defector_device).post(
        f"/api/v1/conversations/{conversation.pk}/messages",
        {"client_id": str(uuid.uuid4()), "body": "Hej! Jag dör av skratt, vi ses på tisdag i Döbeln"},
        format="json",
    )
    assert not Alert.objects.filter(kind="keyword").exists()
