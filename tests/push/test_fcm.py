"""The real firebase-admin code path against a local FCM stand-in (not a mock of firebase-admin)."""

from __future__ import annotations

import itertools
import warnings

import firebase_admin
import pytest
import time_machine
from django.utils import timezone
from firebase_admin import messaging

from backend.accounts.models import Device
from backend.push.models import PushOutbox
from backend.push.senders import FcmSender, Outcome, build_firebase_app
from backend.push.services import drain_outbox, enqueue_push
from tests.push.fcm_standin import FcmStandIn, Scripted, fcm_error

_app_names = itertools.count()


@pytest.fixture
def standin():
    server = FcmStandIn().start()
    yield server
    server.stop()


@pytest.fixture
def sender(standin):
    app = build_firebase_app(
        name=f"test-{next(_app_names)}",
        credentials_path="",
        project_id="livlina-test",
        endpoint=standin.endpoint,
        timeout=1.0,
    )
    yield FcmSender(app)
    firebase_admin.delete_app(app)


@pytest.fixture
def staff_phone(contact):
    return Device.objects.create(
        user=contact.user, name="phone", platform="android", signing_key="a" * 44, box_key="b" * 44, push_token="tok-1"
    )


def queue_one(device) -> PushOutbox:
    (row,) = enqueue_push(user_ids=[device.user_id], kind="message")
    return row


def test_the_endpoint_hook_firebase_admin_keeps_is_still_there(sender, standin):
    # Pinned: firebase-admin keeps the FCM URL on the messaging service instance. If an
    # upgrade moves it, this fails loudly instead of pushes silently going to Google.
    assert firebase_admin.__version__ == "7.7.0"
    assert messaging._MessagingService.FCM_URL == "https://fcm.googleapis.com/v1/projects/{0}/messages:send"
    assert messaging._get_messaging_service(sender.app)._fcm_url == standin.endpoint


def test_a_push_is_data_only_high_priority_and_carries_no_content(sender, standin, staff_phone, db):
    row = queue_one(staff_phone)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        assert drain_outbox(sender=sender) == 1
    request = standin.requests[0]
    assert request["path"] == "/v1/projects/livlina-test/messages:send"
    message = request["json"]["message"]
    assert message["fid"] == "tok-1" and "token" not in message
    assert message["data"] == {"kind": "message", "ref": str(row.pk)}
    assert "notification" not in message
    assert message["android"]["priority"] == "high"
    assert message["apns"]["headers"] == {"apns-priority": "5", "apns-push-type": "background"}
    assert message["apns"]["payload"] == {"aps": {"content-available": 1}}
    row.refresh_from_db()
    assert row.state == PushOutbox.State.SENT and row.provider_message_id.startswith("projects/livlina-test/messages/")


def test_a_sent_row_is_never_sent_again(sender, standin, staff_phone, db):
    queue_one(staff_phone)
    drain_outbox(sender=sender)
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=1)):
        assert drain_outbox(sender=sender) == 0
    assert len(standin.requests) == 1


def test_a_503_is_retried(sender, standin, staff_phone, db):
    row = queue_one(staff_phone)
    standin.script.extend([fcm_error(503, "UNAVAILABLE")] * 5)  # firebase-admin's own retries run out
    drain_outbox(sender=sender)
    row.refresh_from_db()
    assert row.state == PushOutbox.State.PENDING and row.attempts == 1
    assert "UnavailableError" in row.last_error
    assert row.next_attempt_at > timezone.now()
    assert drain_outbox(sender=sender) == 0  # not before its backoff
    with time_machine.travel(row.next_attempt_at + timezone.timedelta(seconds=1)):
        assert drain_outbox(sender=sender) == 1
    row.refresh_from_db()
    assert row.state == PushOutbox.State.SENT and row.attempts == 2


def test_a_timeout_is_retried_later(sender, standin, staff_phone, db):
    row = queue_one(staff_phone)
    standin.script.extend([Scripted(delay=1.5), Scripted(delay=1.5)])
    drain_outbox(sender=sender)
    row.refresh_from_db()
    assert row.state == PushOutbox.State.PENDING and row.last_error


def test_unregistered_token_is_dropped(sender, standin, staff_phone, db):
    row = queue_one(staff_phone)
    standin.script.append(fcm_error(404, "NOT_FOUND", "UNREGISTERED"))
    drain_outbox(sender=sender)
    row.refresh_from_db()
    staff_phone.refresh_from_db()
    assert row.state == PushOutbox.State.DROPPED
    assert staff_phone.push_token == ""


def test_unregistered_does_not_clear_a_token_the_app_replaced_meanwhile(sender, standin, staff_phone, db):
    row = queue_one(staff_phone)
    standin.script.append(fcm_error(404, "NOT_FOUND", "UNREGISTERED"))

    class AppRegistersNewTokenDuringSend:
        def send(self, outbox_row, token):
            result = sender.send(outbox_row, token)
            Device.objects.filter(pk=staff_phone.pk).update(push_token="tok-2")
            return result

    drain_outbox(sender=AppRegistersNewTokenDuringSend())
    staff_phone.refresh_from_db()
    row.refresh_from_db()
    assert row.state == PushOutbox.State.DROPPED
    assert staff_phone.push_token == "tok-2"


def test_quota_errors_back_off_longer(sender, standin, staff_phone, db):
    row = queue_one(staff_phone)
    standin.script.append(fcm_error(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"))
    result = sender.send(row, "tok-1")
    assert result.outcome is Outcome.SLOW_DOWN
    drain_before = timezone.now()
    standin.script.append(fcm_error(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"))
    drain_outbox(sender=sender)
    row.refresh_from_db()
    assert row.state == PushOutbox.State.PENDING
    assert (row.next_attempt_at - drain_before).total_seconds() >= 15  # 4x the first 5 s step, less jitter


def test_revoked_device_gets_no_push(sender, standin, staff_phone, db):
    row = queue_one(staff_phone)
    Device.objects.filter(pk=staff_phone.pk).update(revoked_at=timezone.now())
    drain_outbox(sender=sender)
    row.refresh_from_db()
    assert row.state == PushOutbox.State.DROPPED
    assert standin.requests == []


def test_an_expired_lease_is_taken_over_by_another_worker(sender, standin, staff_phone, db):
    from backend.push.services import claim_due

    row = queue_one(staff_phone)
    assert claim_due(now=timezone.now()) == [row.pk]  # a worker claims it, then dies
    assert drain_outbox(sender=sender) == 0
    with time_machine.travel(timezone.now() + timezone.timedelta(seconds=61)):
        assert drain_outbox(sender=sender) == 1
    row.refresh_from_db()
    assert row.state == PushOutbox.State.SENT


def test_every_attempt_to_push_an_alert_and_its_outcome_is_on_the_timeline(sender, standin, staff_phone, case):
    from backend.crisis.selectors import alert_detail
    from backend.crisis.services import raise_alert

    alert = raise_alert(case=case, kind="panic", severity="critical")
    (row,) = enqueue_push(user_ids=[staff_phone.user_id], kind="alert", alert_id=alert.pk)
    standin.script.extend([fcm_error(503, "UNAVAILABLE")] * 5)
    drain_outbox(sender=sender)
    row.refresh_from_db()
    with time_machine.travel(row.next_attempt_at + timezone.timedelta(seconds=1)):
        drain_outbox(sender=sender)
    timeline = alert_detail(alert)["timeline"]
    attempts = [(item["event"], item["detail"]["attempt"]) for item in timeline if item["event"].startswith("push.")]
    assert attempts == [("push.retry", 1), ("push.sent", 2)]
