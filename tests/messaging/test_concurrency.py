"""Concurrent senders on PostgreSQL: no gap and no duplicate in the sequence, ever."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection

from backend.accounts.models import User
from backend.messaging.models import Conversation, Message
from backend.messaging.services import send_message
from tests.conftest import requires_postgres

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_senders_get_contiguous_unique_sequence_numbers(case, contact):
    conversation = Conversation.objects.select_related("case").get(case=case)
    defector = case.defector.user
    senders = [defector, contact.user]
    per_thread, threads_count = 25, 8
    barrier = threading.Barrier(threads_count)
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            sender = User.objects.get(pk=senders[index % 2].pk)
            conv = Conversation.objects.select_related("case").get(pk=conversation.pk)
            barrier.wait()
            for i in range(per_thread):
                send_message(
                    sender=sender, sender_device=None, conversation=conv, client_id=uuid.uuid4(), body=f"{index}-{i}"
                )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(threads_count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    seqs = sorted(Message.objects.filter(conversation=conversation).values_list("seq", flat=True))
    assert seqs == list(range(1, per_thread * threads_count + 1))
    assert Conversation.objects.get(pk=conversation.pk).last_seq == per_thread * threads_count


def test_concurrent_retries_of_one_client_id_store_one_message(case):
    conversation = Conversation.objects.select_related("case").get(case=case)
    defector = case.defector.user
    client_id = uuid.uuid4()
    barrier = threading.Barrier(6)
    results, errors = [], []

    def retry() -> None:
        try:
            conv = Conversation.objects.select_related("case").get(pk=conversation.pk)
            barrier.wait()
            results.append(
                send_message(sender=defector, sender_device=None, conversation=conv, client_id=client_id, body="once")
            )
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=retry) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Message.objects.filter(conversation=conversation).count() == 1
    assert len({r.message.pk for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert Conversation.objects.get(pk=conversation.pk).last_seq == 1
