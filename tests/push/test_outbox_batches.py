"""The outbox drain sends a claimed batch and records the outcomes together."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.accounts.models import Device
from backend.crisis.selectors import alert_timeline
from backend.crisis.services import raise_alert
from backend.push import services as push_services
from backend.push.models import Outcome, PushAttempt, PushKind, PushLogEntry, PushOutbox
from backend.push.senders import Delivery, LogSender
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
    kinds = [item["event"] for item in alert_timeline(alert) if item["event"].startswith("push.")]
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


def test_every_outcome_of_a_chunk_is_recorded_on_its_row_and_in_the_attempt_log(contact):
    phones = {outcome: phone(contact.user, outcome.value) for outcome in Outcome}
    enqueue_push(user_ids=[contact.user.pk], kind=PushKind.MESSAGE)
    outcome_of = {device.pk: outcome for outcome, device in phones.items()}

    class EachItsOwn(LogSender):
        def send(self, row, token):
            outcome = outcome_of[row.device_id]
            return Delivery(outcome, detail="" if outcome is Outcome.SENT else f"said {outcome.value}", provider_id="x")

    before = timezone.now()
    assert drain_outbox(sender=EachItsOwn()) == len(Outcome)
    rows = {row.device_id: row for row in PushOutbox.objects.all()}
    state = {outcome: rows[device.pk].state for outcome, device in phones.items()}
    assert state == {
        Outcome.SENT: "sent",
        Outcome.RETRY: "pending",
        Outcome.SLOW_DOWN: "pending",
        Outcome.TOKEN_DEAD: "dropped",
        Outcome.FAILED: "failed",
    }
    assert all(row.lease_until is None for row in rows.values())
    assert rows[phones[Outcome.RETRY].pk].next_attempt_at > before
    assert rows[phones[Outcome.FAILED].pk].last_error == "said failed"
    tokens = dict(Device.objects.values_list("pk", "push_token"))
    assert [outcome for outcome, device in phones.items() if not tokens[device.pk]] == [Outcome.TOKEN_DEAD]
    logged = {(a.device_id, a.number, a.outcome, a.detail) for a in PushAttempt.objects.all()}
    said = {outcome: "" if outcome is Outcome.SENT else f"said {outcome}" for outcome in Outcome}
    assert logged == {(device.pk, 1, outcome, said[outcome]) for outcome, device in phones.items()}


def test_enqueue_pushes_writes_a_row_per_live_phone_of_each_event_in_two_statements(contact, oncall):
    from backend.push.services import PushEvent, enqueue_pushes

    own, other = phone(contact.user, "own"), phone(contact.user, "other")
    on_call = phone(oncall.user, "oncall")
    gone = phone(oncall.user, "gone")
    Device.objects.filter(pk=gone.pk).update(revoked_at=timezone.now())
    silent = phone(oncall.user, "silent")
    Device.objects.filter(pk=silent.pk).update(push_token="")
    events = [
        PushEvent(user_ids=[contact.user.pk, oncall.user.pk], kind=PushKind.MESSAGE, exclude_device_id=own.pk),
        PushEvent(user_ids=[oncall.user.pk, oncall.user.pk], kind=PushKind.ALERT, high_priority=True),
    ]
    with CaptureQueriesContext(connection) as queries:
        rows = enqueue_pushes(events)
    assert len([q for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]) == 2
    written = sorted((str(row.kind), row.device_id) for row in rows)
    assert written == sorted([("message", other.pk), ("message", on_call.pk), ("alert", on_call.pk)])
