"""PostgreSQL ends the connections of a real Daphne process (``pg_terminate_backend``,
only those to this test's own database) while a REST send and a socket send are in
flight: each fails cleanly (a 503 ``unavailable`` problem with ``Retry-After``; an
``error`` frame ``unavailable`` on a socket that stays open), one log line each and no
traceback; the service recovers by itself, and each send made again with its
``client_id`` is stored once.

The sends are made to be in flight when the backends end: the test holds the
conversation's row lock (as another batch storing into it would), each send waits for it
inside PostgreSQL, and the test terminates the backends once both are seen waiting."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.db import connection, transaction

from backend.messaging.models import Conversation, Message
from tests.e2e.app_socket import AppSocket
from tests.factories import DefectorDeviceSessionFactory
from tests.fault.server_processes import wait_for

pytestmark = pytest.mark.slow


def terminate_other_backends() -> int:
    """Ends every connection to this test database except this test's own; never one to
    another database."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        (ended,) = cursor.fetchone()
    return int(ended)


def backends_waiting_for_a_lock() -> int:
    with connection.cursor() as cursor:
        # Inside a transaction the activity view is a snapshot taken at its first read.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        (waiting,) = cursor.fetchone()
    return int(waiting)


def test_sends_in_flight_when_the_backends_die_fail_cleanly_and_are_stored_once_when_sent_again(server_processes, case):
    app = DefectorDeviceSessionFactory(case=case)
    conversation = Conversation.objects.get(case=case).pk
    daphne = server_processes.daphne()
    rest = httpx.Client(base_url=daphne.url, headers=app.auth_header, timeout=30)
    socket = AppSocket(daphne.ws_url, app.access_token)
    rest_id, socket_id = str(uuid.uuid4()), str(uuid.uuid4())

    def post(client_id: str, body: str) -> httpx.Response:
        return rest.post(f"/api/v1/conversations/{conversation}/messages", json={"client_id": client_id, "body": body})

    try:
        assert post(str(uuid.uuid4()), "before").status_code == 201
        with ThreadPoolExecutor(max_workers=1) as pool:
            with transaction.atomic():
                Conversation.objects.select_for_update().get(pk=conversation)
                in_flight = pool.submit(post, rest_id, "over REST")
                socket.send_frame(
                    {"type": "message.send", "conversation": conversation, "client_id": socket_id, "body": "by socket"}
                )
                wait_for(lambda: backends_waiting_for_a_lock() == 2, "both sends to wait for the conversation")
                ended = terminate_other_backends()
            refused = in_flight.result(timeout=30)
        assert ended >= 2

        assert refused.status_code == 503
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert refused.headers["Retry-After"] == "1"
        assert refused.json()["type"] == "urn:livlina:problem:unavailable"
        error = socket.wait_for(lambda f: f["type"] == "error" and f.get("client_id") == socket_id)
        assert error["code"] == "unavailable"
        socket.send_frame({"type": "ping"})
        socket.wait_for(lambda f: f["type"] == "pong")  # the socket stayed open

        # Recovered by itself: the same sends again, then once more (stored once).
        stored = post(rest_id, "over REST")
        assert stored.status_code == 201
        acked = socket.send_message(conversation, "by socket", client_id=socket_id)
        assert post(rest_id, "over REST").status_code == 200
        assert socket.send_message(conversation, "by socket", client_id=socket_id)["seq"] == acked["seq"]
        listed = rest.get(f"/api/v1/conversations/{conversation}/messages")
        assert listed.status_code == 200
        assert [m["body"] for m in listed.json()["results"]] == ["before", "over REST", "by socket"]
    finally:
        socket.close()
        rest.close()

    messages = Message.objects.filter(conversation_id=conversation).order_by("seq")
    assert [m.seq for m in messages] == [1, 2, 3]
    assert [str(m.client_id) for m in messages][1:] == [rest_id, socket_id]
    server_processes.stop_all()
    log = daphne.output()
    assert "Traceback" not in log
    assert log.count("the database did not answer") + log.count("database unavailable, answered 503") == 2
