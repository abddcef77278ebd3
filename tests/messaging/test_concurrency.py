"""Concurrent senders on PostgreSQL: no gap and no duplicate in the sequence, ever."""

from __future__ import annotations

import functools
import uuid

import pytest

from backend.accounts.models import User
from backend.messaging.models import Conversation, Message
from backend.messaging.services import SendResult, send_message
from tests.conftest import requires_postgres
from tests.threads import run_together

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_senders_get_contiguous_unique_sequence_numbers(case, contact):
    conversation = Conversation.objects.select_related("case").get(case=case)
    senders = [case.defector.user, contact.user]
    per_thread, threads_count = 25, 8

    def sender(index: int) -> None:
        user = User.objects.get(pk=senders[index % 2].pk)
        conv = Conversation.objects.select_related("case").get(pk=conversation.pk)
        for i in range(per_thread):
            body = f"{index}-{i}"
            send_message(sender=user, sender_device=None, conversation=conv, client_id=uuid.uuid4(), body=body)

    run_together(*(functools.partial(sender, n) for n in range(threads_count)))
    seqs = sorted(Message.objects.filter(conversation=conversation).values_list("seq", flat=True))
    assert seqs == list(range(1, per_thread * threads_count + 1))
    assert Conversation.objects.get(pk=conversation.pk).last_seq == per_thread * threads_count


def test_concurrent_retries_of_one_client_id_store_one_message(case):
    conversation = Conversation.objects.select_related("case").get(case=case)
    defector = case.defector.user
    client_id = uuid.uuid4()

    def retry() -> SendResult:
        conv = Conversation.objects.select_related("case").get(pk=conversation.pk)
        return send_message(sender=defector, sender_device=None, conversation=conv, client_id=client_id, body="once")

    results = run_together(*([retry] * 6))
    assert Message.objects.filter(conversation=conversation).count() == 1
    assert len({r.message.pk for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert Conversation.objects.get(pk=conversation.pk).last_seq == 1
