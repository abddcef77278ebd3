"""In-process WebSocket clients for the real consumer (channels' communicator)."""

from __future__ import annotations

import json
from typing import Any

from asgiref.testing import ApplicationCommunicator
from channels.testing import WebsocketCommunicator

from backend.asgi import application


class SocketCommunicator(WebsocketCommunicator):
    """Channels' WebSocket communicator, except that the consumer's database calls close
    their connections as they do under Daphne.

    Channels' communicator turns Django's ``close_old_connections`` into a no-op while a
    test waits on it (for a TestCase's shared transaction). These tests are transactional,
    and with the no-op each thread pool thread the consumer reached the database from
    kept its connection after the thread ended, holding the test database open past its
    teardown. So the waits go straight to asgiref's communicator.

    And when the consumer closes the socket, the consumer hears that the connection is
    gone and ends, as under Daphne, instead of being cancelled with the test's event loop
    halfway through leaving its channel-layer groups."""

    async def send_input(self, message: dict[str, Any]) -> None:
        await ApplicationCommunicator.send_input(self, message)

    async def receive_output(self, timeout: float = 1) -> dict[str, Any]:
        output = await ApplicationCommunicator.receive_output(self, timeout)
        if output["type"] == "websocket.close":
            await self.send_input({"type": "websocket.disconnect", "code": output.get("code", 1000)})
            await self.wait(timeout)
        return output


def device_socket(access_token: str, *, origin: str | None = None) -> SocketCommunicator:
    headers = [(b"authorization", f"Bearer {access_token}".encode())]
    if origin:
        headers.append((b"origin", origin.encode()))
    return SocketCommunicator(application, "/ws/v1/", headers=headers)


def session_socket(session_cookie: str, *, origin: str, host: str = "testserver") -> SocketCommunicator:
    headers = [
        (b"cookie", f"sessionid={session_cookie}".encode()),
        (b"origin", origin.encode()),
        (b"host", host.encode()),
    ]
    return SocketCommunicator(application, "/ws/v1/", headers=headers)


async def receive(socket: WebsocketCommunicator, timeout: float = 3) -> dict[str, Any]:
    return json.loads(await socket.receive_from(timeout=timeout))


async def receive_type(socket: WebsocketCommunicator, frame_type: str, timeout: float = 3) -> dict[str, Any]:
    """The next frame of ``frame_type``, skipping others (e.g. receipts)."""
    while True:
        frame = await receive(socket, timeout)
        if frame["type"] == frame_type:
            return frame
