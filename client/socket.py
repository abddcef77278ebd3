"""The app's WebSocket side: send with acks, receive live frames, and close gaps by sync.

The channel layer may drop a live frame (a socket over capacity, a layer outage), so
the client tracks the last ``seq`` it has per conversation: a ``message.new`` that skips
ahead means something was missed, and the client asks for ``sync`` from its cursor.

A send is done when its ``message.ack`` arrives. Until then the app keeps the message
and its ``client_id``: a socket that drops fails the waiting sends (``SocketClosedError``)
and an ``unavailable`` or ``server-error`` refusal asks for the same frame again
(``SendRefusedError.retry``); the message sent again with the same ``client_id`` is stored
once."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import defaultdict
from typing import Any

import websockets

# Error codes after which the same message.send (same client_id) is sent again.
RETRY_CODES = frozenset({"unavailable", "server-error", "rate-limited"})


class SendRefusedError(RuntimeError):
    """The server answered a ``message.send`` with an ``error`` frame."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code

    @property
    def retry(self) -> bool:
        return self.code in RETRY_CODES


class SocketClosedError(ConnectionError):
    """The socket closed before the server acknowledged the send: it may or may not be
    stored; send it again with the same ``client_id`` on a new socket."""


class LivlinaSocket:
    def __init__(self, connection: websockets.ClientConnection) -> None:
        self.connection = connection
        self.last_seq: dict[int, int] = defaultdict(int)
        self.pending_acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, ws_url: str, access_token: str, **options: Any) -> LivlinaSocket:
        """``ws_url`` like ``ws://host:port/ws/v1/``; the token goes in a header, never the URL."""
        connection = await websockets.connect(
            ws_url, additional_headers={"Authorization": f"Bearer {access_token}"}, **options
        )
        return cls(connection)

    async def close(self) -> None:
        self.reader.cancel()
        await self.connection.close()

    async def send_message(self, conversation: int, body: str, *, client_id: str | None = None) -> dict[str, Any]:
        """Send and wait for the server's ack (which comes only after the commit)."""
        client_id = client_id or str(uuid.uuid4())
        ack = asyncio.get_running_loop().create_future()
        self.pending_acks[client_id] = ack
        try:
            await self.send_frame(
                {"type": "message.send", "conversation": conversation, "client_id": client_id, "body": body}
            )
        except websockets.ConnectionClosed as closed:
            self.pending_acks.pop(client_id, None)
            raise SocketClosedError(str(closed)) from closed
        return await ack

    async def send_frame(self, frame: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(frame))

    async def sync(self, conversation: int) -> None:
        await self.send_frame({"type": "sync", "conversation": conversation, "after_seq": self.last_seq[conversation]})

    async def next_frame(self, timeout: float = 10) -> dict[str, Any]:
        return await asyncio.wait_for(self.inbox.get(), timeout)

    async def _read(self) -> None:
        try:
            await self._read_until_closed()
        except websockets.ConnectionClosed:
            pass  # closed without a close frame (the server process died): as a clean close
        finally:
            for future in self.pending_acks.values():
                if not future.done():
                    future.set_exception(SocketClosedError("the socket closed before the ack"))
            self.pending_acks.clear()

    async def _read_until_closed(self) -> None:
        async for raw in self.connection:
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind == "message.ack" or (kind == "error" and frame.get("client_id") in self.pending_acks):
                future = self.pending_acks.pop(frame["client_id"], None)
                if future is not None and not future.done():
                    if kind == "error":
                        future.set_exception(SendRefusedError(frame["code"], frame["detail"]))
                    else:
                        future.set_result(frame)
                continue
            if kind == "message.new":
                conversation, seq = frame["conversation"], frame["message"]["seq"]
                if seq <= self.last_seq[conversation]:
                    continue  # already have it (a sync overlapping a live frame)
                if seq > self.last_seq[conversation] + 1:
                    await self.sync(conversation)  # a gap: fetch what was missed, in order
                    continue
                self.last_seq[conversation] = seq
            await self.inbox.put(frame)
