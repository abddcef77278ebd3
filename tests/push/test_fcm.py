"""The real firebase-admin code path against a local FCM stand-in (not a mock of firebase-admin).

firebase-admin sends to ``https://fcm.googleapis.com`` as in production; the standard
proxy variables route the request to the stand-in (tests/push/fcm_standin.py)."""

from __future__ import annotations

import itertools
import warnings

import firebase_admin
import pytest
import time_machine
from django.utils import timezone
from urllib3.util import Retry

from backend.accounts.models import Device
from backend.push.models import Outcome, PushAttempt, PushKind, PushOutbox
from backend.push.senders import FcmSender, build_firebase_app
from backend.push.services import drain_outbox, enqueue_push
from tests.push.fcm_standin import FcmStandIn, Scripted, fcm_error

_app_names = itertools.count()


@pytest.fixture
def library_backoffs(monkeypatch) -> list[float]:
    """firebase-admin retries a 500 or 503 itself, waiting out urllib3's exponential backoff
    (1 + 2 + 4 s for a 503 five times), and offers no option for that policy. The tests
    take the waits from urllib3's documented ``Retry.sleep`` and note them instead."""
    waits: list[float] = []
    monkeypatch.setattr(Retry, "sleep", lambda self, response=None: waits.append(self.get_backoff_time()))
    return waits


@pytest.fixture
def standin(monkeypatch, library_backoffs):
    server = FcmStandIn().start()
    for name, value in server.client_environment().items():
        monkeypatch.setenv(name, value)
    yield server
    server.stop()


def fcm_sender(*, timeout: float) -> FcmSender:
    app = build_firebase_app(
        name=f"test-{next(_app_names)}", credentials_path="", project_id="livlina-test", timeout=timeout
    )
    return FcmSender(app)


@pytest.fixture
def sender(standin):
    sender = fcm_sender(timeout=5.0)
    yield sender
    firebase_admin.delete_app(sender.app)


@pytest.fixture
def staff_phone(contact):
    return Device.objects.create(
        user=contact.user, name="phone", platform="android", signing_key="a" * 44, box_key="b" * 44, push_token="tok-1"
    )


def queue_one(device) -> PushOutbox:
    (row,) = enqueue_push(user_ids=[device.user_id], kind=PushKind.MESSAGE)
    return row


def test_a_push_is_data_only_high_priority_and_carries_no_content(sender, standin, staff_phone, db):
    row = queue_one(staff_phone)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        assert drain_outbox(sender=sender) == 1
    assert standin.tunnels == ["fcm.googleapis.com:443"]  # FCM's own endpoint, as in production
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


def test_a_503_is_retried(sender, standin, library_backoffs, staff_phone, db):
    row = queue_one(staff_phone)
    standin.script.extend([fcm_error(503, "UNAVAILABLE")] * 5)  # firebase-admin's own retries run out
    drain_outbox(sender=sender)
    assert not standin.script and library_backoffs  # firebase-admin did retry (without the test waiting)
    row.refresh_from_db()
    assert row.state == PushOutbox.State.PENDING and row.attempts == 1
    assert "UnavailableError" in row.last_error
    assert row.next_attempt_at > timezone.now()
    assert drain_outbox(sender=sender) == 0  # not before its backoff
    with time_machine.travel(row.next_attempt_at + timezone.timedelta(seconds=1)):
        assert drain_outbox(sender=sender) == 1
    row.refresh_from_db()
    assert row.state == PushOutbox.State.SENT and row.attempts == 2


def test_a_timeout_is_retried_later(standin, staff_phone, db):
    impatient = fcm_sender(timeout=0.2)
    row = queue_one(staff_phone)
    standin.script.extend([Scripted(hang=True), Scripted(hang=True)])  # firebase-admin tries twice
    drain_outbox(sender=impatient)
    firebase_admin.delete_app(impatient.app)
    row.refresh_from_db()
    assert row.state == PushOutbox.State.PENDING and "timed out" in row.last_error
    assert row.next_attempt_at > timezone.now()


def test_unregistered_token_is_dropped(sender, standin, staff_phone, db):
    row = queue_one(staff_phone)
    standin.script.append(fcm_error(404, "NOT_FOUND", "UNREGISTERED"))
    drain_outbox(sender=sender)
    row.refresh_from_db()
    staff_phone.refresh_from_db()
    assert row.state == PushOutbox.State.DROPPED
    assert staff_phone.push_token == ""


def test_an_invalid_message_fails_for_good(sender, standin, staff_phone, db):
    row = queue_one(staff_phone)
    standin.script.append(fcm_error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT"))
    drain_outbox(sender=sender)
    row.refresh_from_db()
    staff_phone.refresh_from_db()
    assert row.state == PushOutbox.State.FAILED and "InvalidArgumentError" in row.last_error
    assert staff_phone.push_token == "tok-1"  # the token is not what was wrong
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=1)):
        assert drain_outbox(sender=sender) == 0


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


def test_each_attempt_is_recorded_without_the_token(sender, standin, staff_phone, db):
    row = queue_one(staff_phone)
    standin.script.append(fcm_error(404, "NOT_FOUND", "UNREGISTERED"))
    drain_outbox(sender=sender)
    (attempt,) = PushAttempt.objects.filter(outbox=row)
    assert (attempt.device_id, attempt.number, attempt.outcome) == (staff_phone.pk, 1, Outcome.TOKEN_DEAD)
    assert "UnregisteredError" in attempt.detail
    assert "tok-1" not in repr(PushAttempt.objects.values().get())


def test_every_attempt_to_push_an_alert_and_its_outcome_is_on_the_timeline(sender, standin, staff_phone, case):
    from backend.crisis.selectors import alert_timeline
    from backend.crisis.services import raise_alert

    alert = raise_alert(case=case, kind="panic", severity="critical")
    (row,) = enqueue_push(user_ids=[staff_phone.user_id], kind=PushKind.ALERT, alert_id=alert.pk)
    standin.script.extend([fcm_error(503, "UNAVAILABLE")] * 5)
    drain_outbox(sender=sender)
    row.refresh_from_db()
    with time_machine.travel(row.next_attempt_at + timezone.timedelta(seconds=1)):
        drain_outbox(sender=sender)
    timeline = alert_timeline(alert)
    attempts = [(item["event"], item["detail"]["attempt"]) for item in timeline if item["event"].startswith("push.")]
    assert attempts == [("push.retry", 1), ("push.sent", 2)]


def test_an_alert_push_rings_on_silent_with_a_fixed_text(sender, standin, staff_phone, case):
    """What docs/push.md promises for `alert`: Android's livlina_alerts channel at max
    priority, an APNs critical alert, and the same fixed text for every alert."""
    from backend.crisis.services import raise_alert

    alert = raise_alert(case=case, kind="panic", severity="critical")
    (row,) = enqueue_push(user_ids=[staff_phone.user_id], kind=PushKind.ALERT, alert_id=alert.pk)
    drain_outbox(sender=sender)
    message = standin.requests[0]["json"]["message"]
    assert message["data"] == {"kind": "alert", "ref": str(row.pk)}
    assert "notification" not in message  # only the platform blocks show text
    android = message["android"]
    assert (android["priority"], android["ttl"]) == ("high", "600s")
    assert android["notification"] == {
        "title": "Livlina",
        "body": "Nytt larm. Öppna appen.",
        "channel_id": "livlina_alerts",
        "notification_priority": "PRIORITY_MAX",
    }
    apns = message["apns"]
    assert apns["headers"] == {"apns-priority": "10", "apns-push-type": "alert"}
    assert apns["payload"]["aps"] == {
        "alert": {"title": "Livlina", "body": "Nytt larm. Öppna appen."},
        "sound": {"critical": 1, "name": "default", "volume": 1.0},
        "content-available": 1,
        "interruption-level": "critical",
    }
    assert "Falken" not in repr(message) and str(case.pk) not in message["data"].values()
