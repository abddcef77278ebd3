"""A private ``redis-server`` (the channel layer and the cache of two Daphne processes
and a worker) killed while a defector's app sends to a contact person's phone, then
started again on the same port, with no server process restarted.

While it is down, every send is acknowledged and stored; the phone is reached by push
(the worker sends through the real firebase-admin code path to the FCM stand-in) and
gets the messages by ``sync`` on a socket it opens during the outage. Once it is back,
``message.new`` frames reach the phone's socket live again, from the other process."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import websockets

from backend.messaging.models import Conversation, Message
from backend.push.models import PushKind, PushOutbox
from client.device import DeviceSession
from client.socket import LivlinaSocket
from tests.conftest import needs
from tests.factories import DefectorDeviceSessionFactory, StaffDeviceSessionFactory
from tests.fault.server_processes import Daphne, wait_for
from tests.operations.throwaway_services import RedisCopy
from tests.push.fcm_standin import FcmStandIn

pytestmark = pytest.mark.slow


@pytest.fixture
def private_redis():
    needs("redis-server", shutil.which("redis-server") is not None, "apt-get install -y redis-server")
    copy = RedisCopy()
    copy.start()
    try:
        yield copy
    finally:
        copy.stop()


@pytest.fixture
def standin():
    server = FcmStandIn().start()
    try:
        yield server
    finally:
        server.stop()


def kill(redis: RedisCopy) -> None:
    assert redis.process is not None
    os.kill(redis.process.pid, signal.SIGKILL)
    redis.process.wait(timeout=10)
    redis.process = None


class Receiver:
    """The phone's socket, frame by frame as the server sent them: a ``message.new``
    that arrives without a ``sync`` asked for was delivered live."""

    def __init__(self, connection: websockets.ClientConnection) -> None:
        self.connection = connection
        self.frames: list[dict[str, Any]] = []
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, server: Daphne, session: DeviceSession) -> Receiver:
        headers = {"Authorization": f"Bearer {session.access_token}"}
        return cls(await websockets.connect(server.ws_url, additional_headers=headers))

    async def _read(self) -> None:
        async for raw in self.connection:
            self.frames.append(json.loads(raw))

    async def wait_for(self, match: Callable[[dict[str, Any]], bool], *, timeout: float = 10) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            for frame in self.frames:
                if match(frame):
                    return frame
            await asyncio.sleep(0.05)
        raise AssertionError(f"no matching frame in {timeout} s; got {self.frames}")

    def seqs(self) -> list[int]:
        return [frame["message"]["seq"] for frame in self.frames if frame["type"] == "message.new"]

    async def sync(self, conversation: int, after_seq: int) -> list[int]:
        """The seqs ``sync`` returns (the frames before it are set aside first)."""
        self.frames.clear()
        await self.connection.send(json.dumps({"type": "sync", "conversation": conversation, "after_seq": after_seq}))
        await self.wait_for(lambda f: f["type"] == "sync.done")
        return self.seqs()

    async def close(self) -> None:
        self.reader.cancel()
        await self.connection.close()


def pushed_message_rows(session: DeviceSession) -> int:
    return PushOutbox.objects.filter(
        device_id=session.device_id, kind=PushKind.MESSAGE, state=PushOutbox.State.SENT
    ).count()


def test_sends_survive_a_redis_outage_and_live_delivery_resumes_when_it_is_back(
    server_processes, private_redis, standin, case, contact
):
    app = DefectorDeviceSessionFactory(case=case)
    phone = StaffDeviceSessionFactory(user=contact.user, push_token="phone-fcm-token")
    conversation = Conversation.objects.get(case=case).pk
    redis_env = {"REDIS_URL": private_redis.url}
    sending, receiving = server_processes.daphne(**redis_env), server_processes.daphne(**redis_env)
    server_processes.worker(
        **redis_env, **standin.client_environment(), LIVLINA_PUSH_BACKEND="fcm", LIVLINA_FCM_PROJECT_ID="livlina-test"
    )

    def pushes_to_the_phone() -> int:
        return sum(request["json"]["message"].get("fid") == "phone-fcm-token" for request in standin.requests)

    async def scenario() -> None:
        sender = await LivlinaSocket.connect(sending.ws_url, app.access_token)
        steady = await Receiver.connect(receiving, phone)  # open all along
        live = await sender.send_message(conversation, "before the outage")
        await steady.wait_for(lambda f: f["type"] == "message.new" and f["message"]["seq"] == live["seq"])

        kill(private_redis)
        during = [(await sender.send_message(conversation, f"during the outage {n}"))["seq"] for n in range(2)]
        async with httpx.AsyncClient(base_url=sending.url, headers=app.auth_header) as rest:
            response = await rest.post(
                f"/api/v1/conversations/{conversation}/messages",
                json={"client_id": str(uuid.uuid4()), "body": "during the outage, over REST"},
            )
        assert response.status_code == 201
        during.append(response.json()["seq"])
        sent_so_far = len(during) + 1
        await asyncio.to_thread(wait_for, lambda: pushes_to_the_phone() >= sent_so_far, "a push for every message")
        # The push wakes the app, which opens a socket and syncs from where it was.
        woken = await Receiver.connect(receiving, phone)
        assert await woken.sync(conversation, live["seq"]) == during
        assert not set(during) & set(steady.seqs()), "delivered live while the layer was down"

        private_redis.start()
        # The layer's connections come back on their own and the woken socket joins its
        # groups; until then a frame may still be lost (a client syncs when a seq skips
        # ahead). Send until both sockets get one live.
        for socket in (steady, woken):
            socket.frames.clear()
        deadline = asyncio.get_running_loop().time() + 20
        while True:
            probe = (await sender.send_message(conversation, "after the outage"))["seq"]
            await asyncio.sleep(1)
            if all(probe in socket.seqs() for socket in (steady, woken)):
                break
            assert asyncio.get_running_loop().time() < deadline, "live delivery did not resume"
        settled = (await sender.send_message(conversation, "live again"))["seq"]
        for socket in (steady, woken):
            await socket.wait_for(lambda f: f.get("message", {}).get("seq") == settled, timeout=5)
            await socket.close()
        await sender.close()

    asyncio.run(scenario())

    stored = list(Message.objects.filter(conversation_id=conversation).order_by("seq").values_list("seq", flat=True))
    assert stored == list(range(1, len(stored) + 1))
    wait_for(lambda: pushed_message_rows(phone) == len(stored), "the last pushes")
    for daphne in (sending, receiving):
        assert daphne.process.poll() is None, "a server process was restarted"
