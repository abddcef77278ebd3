"""The production shape run for real on this machine: the shipped nginx configuration with
a self-signed certificate in front of two Daphne processes, and two workers, on
PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import time
import uuid

import httpx
import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from backend.crisis.models import Alert, AlertEvent
from backend.crisis.services import AlertTrigger, raise_alerts
from backend.crisis.severity import Severity
from backend.messaging.models import Conversation, Message
from backend.push.models import PushAttempt, PushOutbox
from client.socket import LivlinaSocket
from tests.conftest import ON_POSTGRES
from tests.factories import CaseFactory, DefectorDeviceSessionFactory, StaffDeviceSessionFactory
from tests.operations.proxied_stack import Stack, proxied_stack

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not (ON_POSTGRES and os.environ.get("REDIS_URL") and shutil.which("nginx")),
        reason="needs PostgreSQL, Redis and nginx",
    ),
]


def database_url_of_the_test_database() -> str:
    settings = connection.settings_dict
    password = f":{settings['PASSWORD']}" if settings["PASSWORD"] else ""
    return f"postgres://{settings['USER']}{password}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"


@pytest.fixture
def stack(tmp_path):
    with proxied_stack(tmp_path, database_url=database_url_of_the_test_database()) as running:
        yield running


async def socket_via_proxy(stack: Stack, token: str) -> LivlinaSocket:
    return await LivlinaSocket.connect(stack.ws_url, token, ssl=stack.ssl_context())


async def next_message(socket: LivlinaSocket, timeout: float = 10) -> dict:
    while True:
        frame = await socket.next_frame(timeout)
        if frame["type"] == "message.new":
            return frame["message"]


def send_direct(port: int, session, conversation: int, body: str) -> dict:
    """A REST send straight to one Daphne process, bypassing the proxy."""
    response = httpx.post(
        f"http://127.0.0.1:{port}/api/v1/conversations/{conversation}/messages",
        json={"client_id": str(uuid.uuid4()), "body": body},
        headers={"Authorization": f"Bearer {session.access_token}", "Host": "localhost"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_a_message_sent_through_one_daphne_reaches_sockets_held_on_the_other(stack, case, contact):
    app = DefectorDeviceSessionFactory(case=case)
    phones = [StaffDeviceSessionFactory(user=contact.user) for _ in range(2)]
    conversation = Conversation.objects.get(case=case).pk

    async def scenario() -> None:
        # least_conn spreads the two sockets over the two Daphne processes; whichever holds
        # which, each socket gets a message sent through the process it is not on.
        sockets = [await socket_via_proxy(stack, phone.access_token) for phone in phones]
        for port in stack.daphne_ports:
            sent = await asyncio.to_thread(send_direct, port, app, conversation, f"via {port}")
            for socket in sockets:
                message = await next_message(socket)
                assert (message["seq"], message["body"]) == (sent["seq"], f"via {port}")
        for socket in sockets:
            await socket.close()

    asyncio.run(scenario())


def test_stopping_one_daphne_loses_no_acknowledged_message_and_clients_reconnect(stack, case, contact):
    app = DefectorDeviceSessionFactory(case=case)
    conversation = Conversation.objects.get(case=case).pk
    acked: list[int] = []

    async def scenario() -> None:
        sockets = [await socket_via_proxy(stack, app.access_token) for _ in range(4)]
        for n in range(10):
            acked.append((await sockets[n % 4].send_message(conversation, f"before {n}"))["seq"])
        stack.stop_daphne(0)
        # The sockets on the stopped process are closed; every client reconnects through
        # the proxy (to the survivor) and syncs; sends go on meanwhile.
        survivors = [await socket_via_proxy(stack, app.access_token) for _ in range(4)]
        for n in range(10):
            acked.append((await survivors[n % 4].send_message(conversation, f"after {n}"))["seq"])
        synced = survivors[0]
        await synced.sync(conversation)
        seen = set()
        deadline = time.monotonic() + 15
        while not set(acked) <= seen and time.monotonic() < deadline:
            seen.add((await next_message(synced))["seq"])
        assert set(acked) <= seen
        for socket in [*sockets, *survivors]:
            await socket.close()

    asyncio.run(scenario())
    stored = set(Message.objects.filter(conversation_id=conversation).values_list("seq", flat=True))
    assert set(acked) <= stored and len(acked) == 20


def test_200_alerts_at_once_are_escalated_by_two_workers_each_step_once(stack, programme, contact, record_property):
    StaffDeviceSessionFactory(user=contact.user)
    cases = [CaseFactory(programme=programme, alias=f"A{i}", primary_contact=contact.user) for i in range(200)]
    raised_at = timezone.now()
    alerts = raise_alerts([AlertTrigger(case=c, kind=Alert.Kind.PANIC, severity=Severity.CRITICAL) for c in cases])
    ids = [alert.pk for alert in alerts]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        notified = AlertEvent.objects.filter(alert_id__in=ids, kind="notified").values("alert").distinct().count()
        sent = PushOutbox.objects.filter(alert_id__in=ids, state=PushOutbox.State.SENT).count()
        if notified == 200 and sent >= 200:
            break
        time.sleep(0.5)
    first_steps = AlertEvent.objects.filter(alert_id__in=ids, kind="notified").values("alert").annotate(n=Count("pk"))
    assert len(first_steps) == 200
    assert {row["n"] for row in first_steps} == {1}, "a step ran twice"
    rows = PushOutbox.objects.filter(alert_id__in=ids)
    assert rows.count() == 200 and rows.filter(state=PushOutbox.State.SENT).count() == 200
    # At-least-once pushes: count rows sent more than once (expected 0 without a crash).
    duplicates = (
        PushAttempt.objects.filter(outbox__alert_id__in=ids, outcome="sent")
        .values("outbox")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .count()
    )
    record_property("duplicate_pushes", duplicates)
    latencies = sorted(
        (event.at - raised_at).total_seconds()
        for event in AlertEvent.objects.filter(alert_id__in=ids, kind="notified").only("at")
    )
    record_property("escalation_p50_s", statistics.median(latencies))
    record_property("escalation_max_s", latencies[-1])
    p50, worst = statistics.median(latencies), latencies[-1]
    print(f"200 alerts, 2 workers: duplicates={duplicates} p50={p50:.2f}s max={worst:.2f}s")
    assert duplicates == 0
