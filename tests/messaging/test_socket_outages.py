"""The socket when what it stands on fails for a moment: a database that does not answer
is an ``unavailable`` error frame to send again, on a socket that stays open; a channel
layer that is down when a socket opens does not stop it opening, and it joins its groups
when the layer is back. (The same against real processes: ``tests/fault/``.)"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import OperationalError
from django.utils import timezone

from backend.accounts.models import Device
from backend.messaging import consumers, selectors, services, socket_auth
from backend.messaging.models import Conversation, Message
from tests.messaging.socket_clients import device_socket, receive, receive_type

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def conversation(case) -> Conversation:
    return Conversation.objects.get(case=case)


def fails_once(monkeypatch, owner: object, name: str) -> None:
    """``owner.name`` raises as a dropped database connection does, once; then works."""
    original = getattr(owner, name)
    calls = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("terminating connection due to administrator command")
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, flaky)


def send_frame(conversation: int, client_id: str) -> dict[str, Any]:
    return {"type": "message.send", "conversation": conversation, "client_id": client_id, "body": "hej"}


async def test_a_send_the_database_failed_is_unavailable_and_stored_once_when_sent_again(
    conversation, defector_device, monkeypatch, caplog
):
    fails_once(monkeypatch, services, "send_messages")
    app = device_socket(defector_device.access_token)
    assert (await app.connect())[0]
    client_id = str(uuid.uuid4())
    await app.send_json_to(send_frame(conversation.pk, client_id))
    error = await receive(app)
    assert (error["type"], error["code"], error["client_id"]) == ("error", "unavailable", client_id)
    assert not any(r.exc_info for r in caplog.records if r.levelno >= logging.WARNING)
    await app.send_json_to(send_frame(conversation.pk, client_id))
    first = await receive_type(app, "message.ack")
    await app.send_json_to(send_frame(conversation.pk, client_id))
    assert (await receive_type(app, "message.ack"))["id"] == first["id"]
    assert await database_sync_to_async(Message.objects.filter(client_id=client_id).count)() == 1
    await app.disconnect()


async def test_a_sync_the_database_failed_is_unavailable_and_the_socket_stays_open(
    conversation, defector_device, monkeypatch
):
    fails_once(monkeypatch, selectors, "messages_after")
    app = device_socket(defector_device.access_token)
    assert (await app.connect())[0]
    sync = {"type": "sync", "conversation": conversation.pk, "after_seq": 0}
    await app.send_json_to(sync)
    error = await receive(app)
    assert (error["type"], error["code"]) == ("error", "unavailable")
    await app.send_json_to(sync)
    assert await receive(app) == {"type": "sync.done", "conversation": conversation.pk, "last_seq": 0}
    await app.disconnect()


async def test_the_credential_recheck_outlives_a_database_failure(defector_device, settings, monkeypatch):
    settings.LIVLINA_SOCKET_RECHECK_SECONDS = 0.1
    fails_once(monkeypatch, socket_auth, "_live_access_tokens")
    app = device_socket(defector_device.access_token)
    assert (await app.connect())[0]
    await asyncio.sleep(0.3)  # the failed re-check, and one after it
    await database_sync_to_async(Device.objects.filter(pk=defector_device.device_id).update)(revoked_at=timezone.now())
    assert await app.receive_output(timeout=3) == {"type": "websocket.close", "code": 4401}


class LayerThatWasDown:
    """The channel layer, except that no channel can be opened while ``down``."""

    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.down = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.layer, name)

    async def new_channel(self, prefix: str = "specific.") -> str:
        if self.down:
            raise ConnectionError("Error 111 connecting to the channel layer")
        return str(await self.layer.new_channel(prefix))


async def test_a_socket_opened_while_the_layer_is_down_works_and_goes_live_when_it_is_back(
    conversation, defector_device, monkeypatch
):
    layer = LayerThatWasDown()
    monkeypatch.setattr(consumers, "get_channel_layer", lambda: layer)
    monkeypatch.setattr(consumers, "LIVE_REJOIN_FIRST_PAUSE", 0.05)
    monkeypatch.setattr(consumers, "LIVE_REJOIN_MAX_PAUSE", 0.05)
    app = device_socket(defector_device.access_token)
    assert (await app.connect())[0]
    await app.send_json_to(send_frame(conversation.pk, str(uuid.uuid4())))
    assert (await receive(app))["type"] == "message.ack"
    assert await app.receive_nothing(timeout=0.3)  # no live copy while the layer is down

    layer.down = False
    await asyncio.sleep(0.5)  # the socket tries to join its groups every 0.05 s
    await app.send_json_to(send_frame(conversation.pk, str(uuid.uuid4())))
    assert (await receive(app))["type"] == "message.ack"
    assert (await receive(app))["message"]["seq"] == 2  # its own copy, live
    await app.disconnect()


async def test_a_handshake_the_database_failed_closes_with_try_again_later(defector_device, monkeypatch, caplog):
    """The credential check at the handshake could not reach the database: the client is
    told to reconnect (1013), not refused (403) and not met with a traceback."""
    fails_once(monkeypatch, socket_auth.account_services, "access_token_lookup")
    app = device_socket(defector_device.access_token)
    assert (await app.connect())[0]
    closed = await app.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": consumers.CLOSE_TRY_AGAIN_LATER}
    assert not any(r.exc_info for r in caplog.records if r.levelno >= logging.WARNING)
    await app.disconnect()

    again = device_socket(defector_device.access_token)
    assert (await again.connect())[0]  # the next handshake works as usual
    await again.disconnect()
