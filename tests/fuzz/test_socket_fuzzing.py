"""Hypothesis against the WebSocket: JSON and not, huge, deep, wrong types, unicode edge
cases. Whatever a client sends, the socket answers with documented frames (an ``error``
for a bad one), never closes, and serves the next frame.

Bounded by ``LIVLINA_SOCKET_FUZZ_EXAMPLES`` (default 40 sockets, up to 4 frames each, fixed
seeds)."""

from __future__ import annotations

import json
import os

import pytest
from asgiref.sync import async_to_sync
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.messaging.models import Conversation
from tests.messaging.socket_clients import device_socket

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES = int(os.environ.get("LIVLINA_SOCKET_FUZZ_EXAMPLES", "40"))
ANSWERS = {"error", "pong", "message.ack", "message.new", "sync.done", "receipt.read"}
ERROR_CODES = {
    "invalid-json",
    "invalid-frame",
    "unknown-type",
    "binary-not-supported",
    "frame-too-large",
    "rate-limited",
    "not-found",
    "validation",
    "body-too-long",
    "case-closed",
    "case-erased",
}
SENTINEL_SEQ = 10**9

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
numbers = st.integers() | st.sampled_from([0, -1, 2**63 - 1, 2**63, 10**30]) | json_values
frame_objects = st.fixed_dictionaries(
    {"type": st.sampled_from(["message.send", "sync", "read", "ping", "dance", ""]) | json_values},
    optional={
        "conversation": numbers,
        "client_id": st.uuids().map(str) | json_values,
        "body": st.text(max_size=50) | json_values,
        "after_seq": numbers,
        "up_to_seq": numbers,
        "extra": json_values,
    },
).map(lambda frame: ("text", json.dumps(frame)))
lone_surrogates = st.sampled_from(["\\ud800", "\\udfff", "x\\udc80y"]).map(
    lambda body: (
        "text",
        '{"type": "message.send", "conversation": 1, "client_id": "%s", "body": "%s"}'  # noqa: UP031
        % ("6f1c1f7e-2f4e-4a57-9a53-2b8f6e0f6a11", body),
    )
)
deep = st.integers(30, 3000).map(lambda n: ("text", "[" * n + "]" * n))
huge = st.integers(16 * 1024 - 20, 40_000).map(lambda n: ("text", json.dumps({"type": "ping", "pad": "x" * n})))
not_json = st.text(max_size=200).map(lambda text: ("text", text))
binary = st.binary(max_size=64).map(lambda data: ("bytes", data))
frames = st.one_of(frame_objects, frame_objects, lone_surrogates, deep, huge, not_json, binary)


@pytest.fixture
def conversation(case) -> Conversation:
    return Conversation.objects.get(case=case)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(sent=st.lists(frames, min_size=1, max_size=4))
def test_any_frame_gets_documented_answers_and_the_socket_stays_open(defector_device, conversation, sent):
    async_to_sync(_exchange)(defector_device.access_token, conversation.pk, sent)


async def _exchange(access_token: str, conversation_id: int, sent: list[tuple[str, str | bytes]]) -> None:
    socket = device_socket(access_token)
    assert (await socket.connect())[0]
    sentinel = {"type": "sync", "conversation": conversation_id, "after_seq": SENTINEL_SEQ}
    for kind, payload in sent:
        # Straight to the application: the communicator's send_to refuses empty frames.
        await socket.send_input({"type": "websocket.receive", "bytes" if kind == "bytes" else "text": payload})
        # A frame that needs the socket's answer closes the exchange for this one.
        await socket.send_json_to(sentinel)
        while True:
            output = await socket.receive_output(timeout=5)
            assert output["type"] == "websocket.send", (payload[:60], output)
            frame = json.loads(output["text"])
            assert frame["type"] in ANSWERS, (payload[:60], frame)
            if frame["type"] == "error":
                assert frame["code"] in ERROR_CODES, (payload[:60], frame)
            if frame["type"] == "sync.done" and frame.get("last_seq") == SENTINEL_SEQ:
                break
    await socket.disconnect()
