"""The outbox drain sends a claimed batch and records the delivered rows together."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.accounts.models import Device
from backend.crisis.models import AlertEvent
from backend.crisis.services import raise_alert
from backend.push import services as push_services
from backend.push.models import PushLogEntry, PushOutbox
from backend.push.senders import LogSender
from backend.push.services import drain_outbox, enqueue_push


def phone(user, name: str, *, token: str = "tok") -> Device:
    return Device.objects.create(
        user=user, name=name, platform="android", signing_key="a" * 44, box_key="b" * 44, push_token=f"{token}-{name}"
    )


def test_a_batch_marks_each_delivered_row_sent_once_with_its_alert_timeline(case, contact, oncall):
    phones = [phone(contact.user, f"p{i}") for i in range(3)]
    gone = phone(oncall.user, "gone")
    Device.objects.filter(pk=gone.pk).update(revoked_at=timezone.now())
    alert = raise_alert(case=case, kind="panic", severity="critical")
    enqueue_push(user_ids=[contact.user.pk], kind="alert", alert_id=alert.pk)
    PushOutbox.objects.create(device=gone, kind="alert", next_attempt_at=timezone.now(), alert=alert)

    assert drain_outbox(sender=LogSender()) == 4
    assert drain_outbox(sender=LogSender()) == 0

    sent = PushOutbox.objects.filter(state="sent")
    assert {row.device_id for row in sent} == {p.pk for p in phones}
    assert all(row.sent_at and row.lease_until is None and row.provider_message_id for row in sent)
    assert PushOutbox.objects.get(device=gone).state == "dropped"
    assert PushLogEntry.objects.count() == 3
    kinds = list(AlertEvent.objects.filter(alert=alert, kind__startswith="push.").values_list("kind", flat=True))
    assert sorted(kinds) == ["push.sent"] * 3 + ["push.token_dead"]


def test_a_sender_that_fails_for_one_row_does_not_lose_the_others(case, contact):
    for i in range(3):
        phone(contact.user, f"p{i}")
    enqueue_push(user_ids=[contact.user.pk], kind="message")
    rows = list(PushOutbox.objects.order_by("pk"))

    class Flaky(LogSender):
        def send(self, row, token):
            if row.pk == rows[1].pk:
                raise RuntimeError("the sender broke")
            return super().send(row, token)

    assert drain_outbox(sender=Flaky()) == 3
    assert PushOutbox.objects.filter(state="sent").count() == 2
    assert PushOutbox.objects.get(pk=rows[1].pk).state == "pending"  # retried when its lease expires


def test_recording_a_batch_costs_the_same_few_statements_however_many_rows_it_holds(contact, oncall):
    def statements(user, count: int) -> int:
        for i in range(count):
            phone(user, f"{user.pk}-{i}")
        enqueue_push(user_ids=[user.pk], kind="checkin")

        class Silent(LogSender):
            def send(self, row, token):  # no log row: count only the outbox's own statements
                from backend.push.senders import Delivery, Outcome

                return Delivery(Outcome.SENT, provider_id="x")

        with CaptureQueriesContext(connection) as queries:
            assert drain_outbox(sender=Silent()) == count
        return sum(1 for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT")))

    assert statements(contact.user, 2) == statements(oncall.user, 12) < 10


def test_a_chunk_is_marked_sent_before_the_next_one_is_sent(contact, monkeypatch):
    monkeypatch.setattr(push_services, "SEND_CHUNK", 2)
    for i in range(5):
        phone(contact.user, f"p{i}")
    enqueue_push(user_ids=[contact.user.pk], kind="message")
    unmarked_when_sent: list[int] = []

    class Watching(LogSender):
        def send(self, row, token):
            # Rows this drain delivered earlier, still not marked sent.
            unmarked_when_sent.append(PushLogEntry.objects.filter(outbox__state="pending").count())
            return super().send(row, token)

    assert drain_outbox(sender=Watching()) == 5
    assert unmarked_when_sent == [0, 1, 0, 1, 0]
    assert PushOutbox.objects.filter(state="sent").count() == 5


def test_rows_not_tried_by_half_the_lease_are_handed_back_unsent(contact, monkeypatch):
    for i in range(4):
        phone(contact.user, f"p{i}")
    enqueue_push(user_ids=[contact.user.pk], kind="message")
    clock = [1000.0]
    monkeypatch.setattr(push_services.time, "monotonic", lambda: clock[0])

    class Slow(LogSender):
        def send(self, row, token):
            clock[0] += push_services.LEASE.total_seconds() / 3  # each send takes a third of the lease
            return super().send(row, token)

    assert drain_outbox(sender=Slow()) == 4
    assert PushOutbox.objects.filter(state="sent").count() == 2
    handed_back = PushOutbox.objects.filter(state="pending")
    assert handed_back.count() == 2
    assert all(row.lease_until is None and row.attempts == 0 for row in handed_back)
    assert drain_outbox(sender=LogSender()) == 2  # due again at once, for any worker
    assert PushOutbox.objects.filter(state="sent").count() == 4
