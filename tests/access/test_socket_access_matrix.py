"""The access matrix's socket half: every frame that names a conversation, by every role
of the HTTP matrix, over the real consumer (one socket per cell).

- a credential that no longer works (revoked device, expired, rotated-away, none) never
  gets a socket: the handshake is refused;
- a role that may read the case gets the frame's answer (``message.ack``, ``sync.done``;
  a ``read`` answers nothing of its own) and no error;
- any other role gets an ``error`` frame identical to the one for a conversation that
  does not exist (the frame's ``client_id`` aside), and the socket stays open.

A frame type the socket takes without a row here fails ``test_every_frame_has_a_row``."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator

from backend.asgi import application
from backend.messaging.socket_frames import FRAME_FIELDS
from tests.access import test_access_matrix as http_matrix
from tests.access.test_access_matrix import CASE_READERS, DEAD, MISSING, ROLES
from tests.messaging.socket_clients import SocketCommunicator, device_socket, receive

pytestmark = pytest.mark.django_db(transaction=True)

world = http_matrix.world  # the same people, case and credentials as the HTTP matrix

Frame = Callable[[int], dict[str, Any]]

FRAMES: dict[str, tuple[Frame, str | None]] = {
    # frame type: (the frame for a conversation id, the answer an allowed role gets)
    "message.send": (
        lambda conversation: {
            "type": "message.send",
            "conversation": conversation,
            "client_id": str(uuid.uuid4()),
            "body": "hej",
        },
        "message.ack",
    ),
    "sync": (lambda conversation: {"type": "sync", "conversation": conversation, "after_seq": 0}, "sync.done"),
    "read": (lambda conversation: {"type": "read", "conversation": conversation, "up_to_seq": 0}, None),
}
# Frames that name nothing to guard.
UNGUARDED = {"ping"}


def _socket(sessions: dict[str, Any], role: str) -> WebsocketCommunicator:
    if role == "anonymous":
        return SocketCommunicator(application, "/ws/v1/", headers=[])
    return device_socket(sessions[role].access_token)


async def _answers(socket: WebsocketCommunicator, frame: dict[str, Any]) -> list[dict[str, Any]]:
    """What the socket says to ``frame``, up to the ``pong`` of a ping sent after it: the
    socket answers a client's frames in order, so everything before the pong is the
    frame's answer (receipts and live copies included)."""
    await socket.send_json_to(frame)
    await socket.send_json_to({"type": "ping"})
    answers = []
    while (answer := await receive(socket, timeout=5))["type"] != "pong":
        answers.append(answer)
    return answers


def _without_client_id(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{key: value for key, value in frame.items() if key != "client_id"} for frame in frames]


def _verdict(role: str, answer_type: str | None, answers: list, not_there: list) -> str | None:
    errors = [answer for answer in answers if answer["type"] == "error"]
    if role in CASE_READERS:
        if errors:
            return f"refused: {errors}"
        if answer_type and answer_type not in [answer["type"] for answer in answers]:
            return f"no {answer_type} in {answers}"
        return None
    if _without_client_id(answers) != _without_client_id(not_there):
        return f"{answers} is not the answer for a missing conversation, {not_there}"
    return None


async def _cell(sessions, ids, role: str, frame_type: str) -> str | None:
    """None if the cell is as the table says, else what is wrong."""
    make_frame, answer_type = FRAMES[frame_type]
    socket = _socket(sessions, role)
    connected, _code = await socket.connect()
    if role in DEAD or not connected:
        if connected:
            await socket.disconnect()
        return None if (role in DEAD) != connected else f"{role}: connected is {connected}"
    try:
        answers = await _answers(socket, make_frame(ids["conversation"]))
        not_there = await _answers(socket, make_frame(MISSING))
        return _verdict(role, answer_type, answers, not_there)
    finally:
        await socket.disconnect()


async def test_the_socket_access_matrix(world):
    sessions, ids = world
    wrong = {}
    for frame_type in FRAMES:
        for role in ROLES:
            problem = await _cell(sessions, ids, role, frame_type)
            if problem:
                wrong[f"{frame_type} by {role}"] = problem
    assert wrong == {}
    assert len(FRAMES) * len(ROLES) == 45  # the cells checked


def test_every_frame_has_a_row():
    assert set(FRAME_FIELDS) - UNGUARDED == set(FRAMES)
