"""``kill -9`` of a Daphne process while clients send to it: sockets drop and requests
break mid-send, without a closing handshake or a last commit. Each client reconnects to
the other Daphne process and sends its unacknowledged message again with the same
``client_id``, as the app does. Every message ends up stored exactly once, with the seq
its ack named, and ``sync`` returns them all in order."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx
import pytest
import websockets

from backend.messaging.models import Conversation, Message
from client.device import DeviceSession
from client.socket import LivlinaSocket, SendRefusedError, SocketClosedError
from tests.factories import DefectorDeviceSessionFactory, StaffDeviceSessionFactory
from tests.fault.server_processes import Daphne

pytestmark = pytest.mark.slow

MESSAGES_PER_CLIENT = 12
KILL_AFTER_ACKS = 16  # of 48 (4 clients, 12 each): a third of the way in
# What a server process that is gone looks like to a socket client.
BROKEN_SOCKET = (OSError, SocketClosedError, websockets.ConnectionClosed, websockets.InvalidHandshake)


@dataclass
class Sender:
    """One client sending its messages in order, each until the server acknowledges it;
    whatever breaks a send, the same ``client_id`` goes again, to the first server that
    answers."""

    name: str
    session: DeviceSession
    over_socket: bool
    servers: list[Daphne]
    conversation: int
    sent: list[tuple[str, str]] = field(default_factory=list)  # (client_id, body) in order
    acked: dict[str, int] = field(default_factory=dict)  # client_id → seq
    interrupted: int = 0  # sends that broke and went again
    socket: LivlinaSocket | None = None

    async def run(self, acks: asyncio.Queue[None]) -> None:
        async with httpx.AsyncClient(headers=self.session.auth_header, timeout=10) as http:
            for n in range(MESSAGES_PER_CLIENT):
                client_id, body = str(uuid.uuid4()), f"{self.name} {n}"
                self.sent.append((client_id, body))
                seq = None
                while seq is None:
                    seq = await self._try(http, client_id, body)
                self.acked[client_id] = seq
                await acks.put(None)
        if self.socket is not None:
            await self.socket.close()

    async def _try(self, http: httpx.AsyncClient, client_id: str, body: str) -> int | None:
        for server in self.servers:
            if server.process.poll() is not None:
                continue
            try:
                if self.over_socket:
                    return await self._over_socket(server, client_id, body)
                return await self._over_rest(http, server, client_id, body)
            except (*BROKEN_SOCKET, httpx.TransportError):
                self.socket = None
                self.interrupted += 1
            except SendRefusedError as refused:
                if not refused.retry:
                    raise
                self.interrupted += 1
        await asyncio.sleep(0.1)
        return None

    async def _over_socket(self, server: Daphne, client_id: str, body: str) -> int:
        if self.socket is None:
            self.socket = await LivlinaSocket.connect(server.ws_url, self.session.access_token, open_timeout=5)
        ack = await asyncio.wait_for(self.socket.send_message(self.conversation, body, client_id=client_id), 15)
        return int(ack["seq"])

    async def _over_rest(self, http: httpx.AsyncClient, server: Daphne, client_id: str, body: str) -> int | None:
        response = await http.post(
            f"{server.url}/api/v1/conversations/{self.conversation}/messages",
            json={"client_id": client_id, "body": body},
        )
        if response.status_code == 503:  # the server says: send it again
            self.interrupted += 1
            return None
        assert response.status_code in (200, 201), response.text
        return int(response.json()["seq"])


async def synced(server: Daphne, session: DeviceSession, conversation: int) -> list[dict]:
    """Every message of the conversation, as ``sync`` from the start returns them."""
    socket = await LivlinaSocket.connect(server.ws_url, session.access_token)
    try:
        await socket.send_frame({"type": "sync", "conversation": conversation, "after_seq": 0})
        messages = []
        while (frame := await socket.next_frame(10))["type"] != "sync.done":
            if frame["type"] == "message.new":
                messages.append(frame["message"])
        assert frame["last_seq"] == len(messages)
        return messages
    finally:
        await socket.close()


def test_clients_of_a_killed_daphne_send_again_and_every_message_is_stored_once_in_order(
    server_processes, case, contact
):
    app, phone = DefectorDeviceSessionFactory(case=case), StaffDeviceSessionFactory(user=contact.user)
    conversation = Conversation.objects.get(case=case).pk
    doomed, survivor = server_processes.daphne(), server_processes.daphne()
    senders = [
        Sender(f"{who} over {way}", session, way == "socket", [doomed, survivor], conversation)
        for who, session in (("app", app), ("phone", phone))
        for way in ("socket", "REST")
    ]

    async def scenario() -> None:
        acks: asyncio.Queue[None] = asyncio.Queue()
        running = asyncio.gather(*(sender.run(acks) for sender in senders))
        for _ in range(KILL_AFTER_ACKS):
            await acks.get()
        doomed.kill()  # every sender is waiting for an ack from it now
        await asyncio.wait_for(running, 120)

    asyncio.run(scenario())

    assert doomed.process.returncode == -9
    assert sum(sender.interrupted for sender in senders) >= 1, "no send was interrupted by the kill"
    stored = list(Message.objects.filter(conversation_id=conversation).values_list("client_id", "seq"))
    sent = [client_id for sender in senders for client_id, _ in sender.sent]
    assert len(sent) == len(senders) * MESSAGES_PER_CLIENT
    assert Counter(str(client_id) for client_id, _ in stored) == Counter(sent), "a message lost or stored twice"
    acked = {client_id: seq for sender in senders for client_id, seq in sender.acked.items()}
    assert {str(client_id): seq for client_id, seq in stored} == acked
    assert sorted(seq for _, seq in stored) == list(range(1, len(sent) + 1))

    messages = asyncio.run(synced(survivor, app, conversation))
    assert [m["seq"] for m in messages] == list(range(1, len(sent) + 1))
    for sender in senders:
        own = [m["body"] for m in messages if m["body"].startswith(f"{sender.name} ")]
        assert own == [body for _, body in sender.sent], f"{sender.name}: not in the order sent"
