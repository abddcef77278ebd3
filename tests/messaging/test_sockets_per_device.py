"""At most LIVLINA_SOCKETS_PER_DEVICE sockets per device; a newer one closes the oldest."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings

from backend.messaging import socket_registry
from tests.messaging.socket_clients import device_socket, receive

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_socket_over_the_cap_closes_the_devices_oldest_with_4409(defector_device, settings):
    settings.LIVLINA_SOCKETS_PER_DEVICE = 3
    sockets = [device_socket(defector_device.access_token) for _ in range(4)]
    for socket in sockets[:3]:
        assert (await socket.connect())[0]
    assert await sockets[0].receive_nothing(timeout=0.3)
    assert (await sockets[3].connect())[0]
    assert await sockets[0].receive_output(timeout=3) == {"type": "websocket.close", "code": 4409}
    # The others, the newest included, stay open and usable.
    for socket in sockets[1:]:
        await socket.send_json_to({"type": "ping"})
        assert await receive(socket) == {"type": "pong"}
    # A closed socket leaves the register: one more closes the next oldest only.
    await sockets[3].disconnect()
    fifth = device_socket(defector_device.access_token)
    assert (await fifth.connect())[0]
    assert await sockets[1].receive_nothing(timeout=0.3)
    for socket in (sockets[1], sockets[2], fifth):
        await socket.disconnect()


async def test_the_cap_is_per_device(defector_device, case, settings):
    from channels.db import database_sync_to_async

    from tests.factories import DefectorDeviceSessionFactory

    settings.LIVLINA_SOCKETS_PER_DEVICE = 1
    other = await database_sync_to_async(DefectorDeviceSessionFactory)(case=case)
    mine, theirs = device_socket(defector_device.access_token), device_socket(other.access_token)
    assert (await mine.connect())[0]
    assert (await theirs.connect())[0]
    assert await mine.receive_nothing(timeout=0.3)
    await mine.disconnect()
    await theirs.disconnect()


@pytest.mark.skipif(not django_settings.REDIS_URL, reason="the shared register needs Redis")
async def test_the_register_is_shared_by_every_process_through_redis(settings):
    """Another process's sockets are in the same Redis set: a client made for another
    event loop (as another process would) sees them, and the oldest is named to go."""
    settings.LIVLINA_SOCKETS_PER_DEVICE = 2
    assert await socket_registry.register(77, "elsewhere.a") == []
    assert await socket_registry.register(77, "elsewhere.b") == []
    socket_registry._clients.clear()  # a new connection, as from another process
    assert await socket_registry.register(77, "here.c") == ["elsewhere.a"]
    await socket_registry.unregister(77, "elsewhere.b")
    assert await socket_registry.register(77, "here.d") == []
