"""The batched send path (``send_messages``, the socket's group commit): each request in a
batch is judged on its own, and what is stored is exactly what the one-at-a-time path
would store."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import uuid

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend import realtime
from backend.accounts.models import Device, User
from backend.accounts.services import hash_token, issue_token_pair
from backend.cases.models import Case
from backend.messaging import services
from backend.messaging.batching import BatchQueue
from backend.messaging.consumers import CredentialGoneError, SocketSend, _store_batch
from backend.messaging.models import Conversation, Message, ReadState
from backend.messaging.services import SendRequest, SendResult, send_messages
from backend.messaging.socket_auth import SocketIdentity
from backend.problems import Problem
from backend.push.models import PushOutbox
from backend.vault.services import shred_case_key
from tests.conftest import requires_postgres
from tests.factories import DeviceFactory
from tests.threads import run_together


def request(sender: User, conversation: Conversation, body: object = "hej", client_id: uuid.UUID | None = None):
    return SendRequest(sender, None, conversation.pk, client_id or uuid.uuid4(), body)


@pytest.mark.django_db
def test_a_batch_stores_the_valid_sends_and_refuses_each_bad_one_on_its_own(
    case, other_case, contact, other_contact, django_capture_on_commit_callbacks
):
    conversation = Conversation.objects.get(case=case)
    other = Conversation.objects.get(case=other_case)
    defector = case.defector.user
    retried = services.send_message(
        sender=defector, sender_device=None, conversation=conversation, client_id=uuid.uuid4(), body="first"
    )
    Case.objects.filter(pk=other_case.pk).update(status=Case.Status.CLOSED)
    repeated = uuid.uuid4()
    batch = [
        request(defector, conversation, "one", repeated),
        request(defector, other, "not my case"),
        request(contact.user, other, "not on that case"),
        request(defector, conversation, "   "),
        request(defector, conversation, 42),
        request(defector, conversation, "the same again", repeated),
        request(defector, conversation, "retry", retried.message.client_id),
        request(other_contact.user, other, "closed"),
        request(contact.user, conversation, "from staff"),
    ]
    with realtime.collect_published() as published, django_capture_on_commit_callbacks(execute=True):
        results = send_messages(batch)
    assert isinstance(results[0], SendResult) and results[0].created and results[0].message.seq == 2
    assert [r.status_code for r in (results[1], results[2])] == [404, 404]
    assert [(r.status_code, r.field) for r in (results[3], results[4])] == [(400, "body"), (400, "body")]
    assert isinstance(results[5], SendResult) and not results[5].created
    assert results[5].message.pk == results[0].message.pk and results[5].body == "one"
    assert isinstance(results[6], SendResult) and not results[6].created
    assert results[6].message.pk == retried.message.pk and results[6].body == "first"
    assert isinstance(results[7], Problem) and results[7].slug == "case-closed"
    assert isinstance(results[8], SendResult) and results[8].created and results[8].message.seq == 3

    assert list(Message.objects.filter(conversation=conversation).order_by("seq").values_list("seq", flat=True)) == [
        1,
        2,
        3,
    ]
    assert not Message.objects.filter(conversation=other).exists()
    assert Conversation.objects.get(pk=conversation.pk).last_seq == 3
    assert Conversation.objects.get(pk=other.pk).last_seq == 0
    marks = dict(ReadState.objects.filter(conversation=conversation).values_list("user_id", "last_read_seq"))
    assert marks == {defector.pk: 2, contact.user.pk: 3}
    # Once committed, one live frame per participant per stored message, and nothing for the refused.
    defector_group, staff_group = f"user.{defector.pk}", f"user.{contact.user.pk}"
    assert sorted((group, frame["message"]["seq"]) for group, frame in published) == sorted(
        [(defector_group, 2), (defector_group, 3), (staff_group, 2), (staff_group, 3)]
    )


@pytest.mark.django_db(transaction=True)
def test_a_failure_at_commit_is_never_acked_and_fails_only_its_own_message(case, caplog):
    conversation = Conversation.objects.get(case=case)
    defector = case.defector.user
    gone = DeviceFactory.build(user=defector)  # never saved: the foreign key fails at commit
    with pytest.raises(IntegrityError):
        send_messages([SendRequest(defector, gone, conversation.pk, uuid.uuid4(), "lost")])
    assert not Message.objects.exists()

    with realtime.collect_published() as published:
        results = send_messages(
            [
                SendRequest(defector, gone, conversation.pk, uuid.uuid4(), "lost words"),
                request(defector, conversation, "kept"),
            ]
        )
    assert isinstance(results[0], Problem) and results[0].slug == "server-error"
    assert "lost words" not in caplog.text  # the failure is logged by its client_id, never its text
    assert results[1].created and results[1].message.seq == 1
    assert list(Message.objects.values_list("seq", flat=True)) == [1]
    assert {frame["message"]["seq"] for _, frame in published} == {1}
    assert Conversation.objects.get(pk=conversation.pk).last_seq == 1


@pytest.mark.django_db
def test_a_send_into_an_erased_case_is_refused_on_its_own(case, other_case, other_contact):
    shred_case_key(case=other_case, actor=None)
    results = send_messages(
        [
            request(other_contact.user, Conversation.objects.get(case=other_case)),
            request(case.defector.user, Conversation.objects.get(case=case)),
        ]
    )
    assert isinstance(results[0], Problem) and (results[0].status_code, results[0].slug) == (409, "case-erased")
    assert results[1].created
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_a_batch_writes_push_rows_for_the_other_participants_devices_only(case, contact):
    conversation = Conversation.objects.get(case=case)
    staff_phone = DeviceFactory(user=contact.user, push_token="staff-token")
    own = DeviceFactory(user=case.defector.user, push_token="defector-token")
    defector = case.defector.user
    send_messages([SendRequest(defector, own, conversation.pk, uuid.uuid4(), f"m{i}") for i in range(3)])
    assert list(PushOutbox.objects.values_list("device_id", flat=True)) == [staff_phone.pk] * 3
    send_messages([request(contact.user, conversation, "answer")])
    assert PushOutbox.objects.filter(device=own).count() == 1


@pytest.mark.django_db
def test_a_batch_that_races_a_retry_elsewhere_is_stored_one_by_one(
    case, monkeypatch, django_capture_on_commit_callbacks
):
    conversation = Conversation.objects.get(case=case)
    defector = case.defector.user
    raced = uuid.uuid4()
    real_answer_retries = services._answer_retries
    calls = []

    def blind_first_look(sends):
        # The first look finds nothing, as if the retry in another process committed
        # just after it: the batch's insert then hits the unique constraint.
        calls.append(len(sends))
        if len(calls) > 1:
            real_answer_retries(sends)

    monkeypatch.setattr(services, "_answer_retries", blind_first_look)
    services.send_message(sender=defector, sender_device=None, conversation=conversation, client_id=raced, body="x")
    calls.clear()
    with realtime.collect_published() as published, django_capture_on_commit_callbacks(execute=True):
        results = send_messages([request(defector, conversation, "x", raced), request(defector, conversation, "new")])
    assert not results[0].created and results[0].message.seq == 1
    assert results[1].created and results[1].message.seq == 2
    assert len(calls) > 1
    assert Message.objects.filter(conversation=conversation).count() == 2
    assert [frame["message"]["seq"] for _, frame in published] == [2, 2]


@pytest.mark.django_db
def test_the_sends_of_a_raced_batch_are_judged_again_on_their_own(case, other_case, other_contact, monkeypatch):
    real_store, real_judge = services._store, services._judge
    judged = []

    def races(sends):
        if len(sends) > 1:
            raise IntegrityError("raced a retry committed elsewhere")
        return real_store(sends)

    def judge(sends, budget):
        judged.append(len(sends))
        if len(judged) > 1:  # after the batch lost its race, before each send goes alone
            Case.objects.filter(pk=other_case.pk).update(status=Case.Status.CLOSED, closed_at=timezone.now())
        return real_judge(sends, budget)

    monkeypatch.setattr(services, "_store", races)
    monkeypatch.setattr(services, "_judge", judge)
    results = send_messages(
        [
            request(case.defector.user, Conversation.objects.get(case=case), "kept"),
            request(other_contact.user, Conversation.objects.get(case=other_case), "too late"),
        ]
    )
    assert results[0].created and results[0].message.seq == 1
    assert isinstance(results[1], Problem) and (results[1].status_code, results[1].slug) == (409, "case-closed")
    assert not Message.objects.filter(conversation__case=other_case).exists()


def test_sends_that_arrive_while_a_batch_is_stored_go_into_the_next_batch():
    batches: list[list[int]] = []

    async def scenario() -> list[int]:
        release = asyncio.Event()

        async def run(items: list[int]) -> list[int | Exception]:
            batches.append(items)
            await release.wait()
            return [item * 10 if item != 3 else ValueError("bad") for item in items]

        queue: BatchQueue[int, int] = BatchQueue(run, max_batch=2)
        first = asyncio.create_task(queue.submit(1))
        await asyncio.sleep(0)
        others = [asyncio.create_task(queue.submit(n)) for n in (2, 3, 4)]
        await asyncio.sleep(0)
        release.set()
        results = [await first, await others[0], await others[2]]
        with pytest.raises(ValueError, match="bad"):
            await others[1]
        return results

    assert asyncio.run(scenario()) == [10, 20, 40]
    assert batches == [[1], [2, 3], [4]]


def socket_identity(device: Device, valid_until: dt.datetime) -> SocketIdentity:
    """A device socket's identity as the handshake builds it: with a live access token."""
    token = issue_token_pair(device, now=timezone.now()).access_token
    return SocketIdentity(device.user, device, valid_until, token_hash=hash_token(token))


@pytest.mark.django_db(transaction=True)
def test_a_send_that_breaks_its_batch_fails_alone(case, monkeypatch, settings):
    settings.LIVLINA_MESSAGE_RATE = "6/minute"
    conversation = Conversation.objects.get(case=case)
    device = DeviceFactory(user=case.defector.user)
    identity = socket_identity(device, timezone.now() + dt.timedelta(minutes=10))
    real_scan = services._scan_for_crisis

    def scan(messages):
        if any(text == "breaks" for _, _, text in messages):
            raise RuntimeError("scanner fault")
        real_scan(messages)

    monkeypatch.setattr(services, "_scan_for_crisis", scan)

    def frame(body: str) -> dict:
        return {"type": "message.send", "conversation": conversation.pk, "client_id": str(uuid.uuid4()), "body": body}

    sends = [
        SocketSend(identity, frame("fine")),
        SocketSend(identity, frame("breaks")),
        SocketSend(identity, frame("ok")),
    ]
    outcomes = asyncio.run(_store_batch(sends))
    assert [o["seq"] for o in (outcomes[0], outcomes[2])] == [1, 2]
    assert isinstance(outcomes[1], RuntimeError)
    assert Message.objects.filter(conversation=conversation).count() == 2


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_over_the_same_conversations_never_deadlock_or_gap(case, other_case, contact, other_contact):
    conversations = [Conversation.objects.get(case=case), Conversation.objects.get(case=other_case)]
    senders = [User.objects.get(pk=contact.user.pk), User.objects.get(pk=other_contact.user.pk)]
    threads_count, rounds = 4, 10

    def sender(index: int) -> None:
        for _ in range(rounds):
            # Each batch touches both conversations, in an order that differs by thread.
            order = [0, 1] if index % 2 else [1, 0]
            batch = [request(senders[n], conversations[n], f"t{index}") for n in order for _ in range(3)]
            assert all(isinstance(r, SendResult) for r in send_messages(batch))

    run_together(*(functools.partial(sender, n) for n in range(threads_count)))
    for conversation in conversations:
        seqs = sorted(Message.objects.filter(conversation=conversation).values_list("seq", flat=True))
        assert seqs == list(range(1, threads_count * rounds * 3 + 1))


@pytest.mark.django_db(transaction=True)
def test_a_revoked_device_in_a_batch_is_refused_and_the_others_are_stored(case, other_case):
    devices = [DeviceFactory(user=c.defector.user) for c in (case, other_case)]
    Device.objects.filter(pk=devices[0].pk).update(revoked_at=timezone.now())
    until = timezone.now() + dt.timedelta(minutes=10)
    sends = [
        SocketSend(
            socket_identity(device, until),
            {"type": "message.send", "conversation": conversation.pk, "client_id": str(uuid.uuid4()), "body": "hej"},
        )
        for device, conversation in zip(
            devices, [Conversation.objects.get(case=case), Conversation.objects.get(case=other_case)], strict=True
        )
    ]
    with realtime.collect_published() as published:
        outcomes = asyncio.run(_store_batch(sends))
    assert isinstance(outcomes[0], CredentialGoneError)
    assert outcomes[1]["type"] == "message.ack" and outcomes[1]["seq"] == 1
    assert list(Message.objects.values_list("conversation__case", flat=True)) == [other_case.pk]
    assert {frame["conversation"] for _, frame in published} == {Conversation.objects.get(case=other_case).pk}


@pytest.mark.django_db
def test_a_batch_costs_the_same_statements_whatever_its_size(case, other_case, contact, other_contact):
    conversations = [Conversation.objects.get(case=case), Conversation.objects.get(case=other_case)]
    senders = [case.defector.user, contact.user, other_case.defector.user, other_contact.user]

    def statements_for(per_sender: int) -> int:
        batch = [
            request(sender, conversations[n // 2], f"m{i}")
            for n, sender in enumerate(senders)
            for i in range(per_sender)
        ]
        with CaptureQueriesContext(connection) as queries:
            results = send_messages(batch)
        assert all(isinstance(r, SendResult) and r.created for r in results)
        return len(queries)

    statements_for(1)  # the phrase lists are compiled and cached once
    assert statements_for(1) == statements_for(10)
