"""In-process WebSocket clients for the real consumer (channels' communicator)."""

from __future__ import annotations

import json
from typing import Any

from channels.testing import WebsocketCommunicator

from backend.asgi import application


def device_socket(access_token: str, *, origin: str | None = None) -> WebsocketCommunicator:
    headers = [(b"authorization", f"Bearer {access_token}".encode())]
    if origin:
        headers.append((b"origin", origin.encode()))
    return WebsocketCommunicator(application, "/ws/v1/", headers=headers)


def session_socket(session_cookie: str, *, origin: str, host: str = "testserver") -> WebsocketCommunicator:
    headers = [
        (b"cookie", f"sessionid={session_cookie}".encode()),
        (b"origin", origin.encode()),
        (b"host", host.encode()),
    ]
    return WebsocketCommunicator(application, "/ws/v1/", headers=headers)


async def receive(socket: WebsocketCommunicator, timeout: float = 3) -> dict[str, Any]:
    return json.loads(await socket.receive_from(timeout=timeout))


async def receive_type(socket: WebsocketCommunicator, frame_type: str, timeout: float = 3) -> dict[str, Any]:
    """The next frame of ``frame_type``, skipping others (e.g. receipts)."""
    while True:
        frame = await receive(socket, timeout)
        if frame["type"] == frame_type:
            return frame
