"""The WebSocket endpoint against the real consumer and channel layer (Redis in CI)."""

from __future__ import annotations

import json
import uuid

import pytest
from channels.db import database_sync_to_async
from rest_framework.test import APIClient

from backend.messaging.models import Conversation, Message
from tests.conftest import device_client, staff_client
from tests.factories import DefectorDeviceSessionFactory
from tests.messaging.socket_clients import device_socket, receive, receive_type, session_socket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def conversation(case) -> Conversation:
    return Conversation.objects.get(case=case)


def send_frame(conversation_id: int, body: str, client_id: str | None = None) -> dict:
    return {
        "type": "message.send",
        "conversation": conversation_id,
        "client_id": client_id or str(uuid.uuid4()),
        "body": body,
    }


@pytest.fixture
def staff_cookie(contact) -> str:
    return staff_client(contact).cookies["sessionid"].value


async def test_device_without_origin_is_accepted_and_a_message_reaches_staff(
    conversation, defector_device, staff_cookie
):
    app = device_socket(defector_device.access_token)
    assert (await app.connect())[0]
    inbox = session_socket(staff_cookie, origin="http://testserver")
    assert (await inbox.connect())[0]
    frame = send_frame(conversation.pk, "Det är någon utanför")
    await app.send_json_to(frame)
    ack = await receive_type(app, "message.ack")
    assert ack["client_id"] == frame["client_id"] and ack["seq"] == 1
    stored = await database_sync_to_async(Message.objects.get)(pk=ack["id"])
    assert stored.seq == 1
    new = await receive_type(inbox, "message.new")
    assert new["conversation"] == conversation.pk
    assert new["message"]["body"] == "Det är någon utanför" and new["message"]["seq"] == 1
    await app.disconnect()
    await inbox.disconnect()


async def test_a_senders_ack_comes_before_its_own_copy_of_the_message(conversation, defector_device):
    app = device_socket(defector_device.access_token)
    assert (await app.connect())[0]
    await app.send_json_to(send_frame(conversation.pk, "hej"))
    first, second = await receive(app), await receive(app)
    assert [first["type"], second["type"]] == ["message.ack", "message.new"]
    assert first["seq"] == second["message"]["seq"] == 1
    await app.disconnect()


async def test_handshake_without_credentials_or_with_bad_token_is_refused(db):
    for socket in (device_socket("wrong-token"), session_socket("nope", origin="http://testserver")):
        connected, _ = await socket.connect()
        assert not connected


async def test_inbox_socket_from_a_foreign_origin_is_refused(staff_cookie):
    connected, _ = await session_socket(staff_cookie, origin="https://evil.example").connect()
    assert not connected
    connected, _ = await session_socket(staff_cookie, origin="").connect()
    assert not connected


async def test_session_without_second_factor_is_refused(contact, case):
    client = APIClient()
    await database_sync_to_async(client.force_login)(contact.user)
    connected, _ = await session_socket(client.cookies["sessionid"].value, origin="http://testserver").connect()
    assert not connected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", "invalid-json"),
        ("[1, 2]", "invalid-frame"),
        (json.dumps({"type": "dance"}), "unknown-type"),
        (json.dumps({"type": "message.send", "conversation": 1, "client_id": "x", "body": "hi"}), "invalid-frame"),
        (
            json.dumps({"type": "message.send", "conversation": "1", "client_id": str(uuid.uuid4()), "body": "hi"}),
            "invalid-frame",
        ),
        (json.dumps({"type": "sync", "conversation": 1, "after_seq": 0, "extra": 1}), "invalid-frame"),
        (json.dumps({"type": "ping", "pad": "x" * 20000}), "frame-too-large"),
    ],
)
async def test_bad_frames_get_an_error_frame_and_the_socket_stays_open(defector_device, raw, code):
    app = device_socket(defector_device.access_token)
    await app.connect()
    await app.send_to(text_data=raw)
    error = await receive(app)
    assert error["type"] == "error" and error["code"] == code, error
    await app.send_json_to({"type": "ping"})
    assert (await receive(app))["type"] == "pong"
    await app.disconnect()


async def test_frames_that_once_crashed_the_consumer_get_an_error_frame(defector_device, caplog):
    # One socket for all of them: each must leave it open and usable.
    frames = [
        ('{"type": []}', "unknown-type"),
        ('{"type": {}}', "unknown-type"),
        ('{"type": 1.5}', "unknown-type"),
        ("[" * 990 + "]" * 990, "invalid-frame"),
        ('{"type": "ping", "x": ' + "[" * 990 + "]" * 990 + "}", "invalid-frame"),
        ("[" * 8000 + "]" * 8000, "invalid-frame"),
        (json.dumps({"type": "sync", "conversation": 1, "after_seq": 2**63}), "invalid-frame"),
    ]
    app = device_socket(defector_device.access_token)
    await app.connect()
    for raw, code in frames:
        await app.send_to(text_data=raw)
        error = await receive(app)
        assert error["type"] == "error" and error["code"] == code, (raw[:40], error)
        await app.send_json_to({"type": "ping"})
        assert (await receive(app))["type"] == "pong"
    await app.disconnect()
    assert not any(r.exc_info for r in caplog.records)


async def test_a_conversation_id_no_database_can_hold_is_not_found(defector_device, caplog):
    # REST answers 404 for the same id; "server-error" would tell the client to retry.
    app = device_socket(defector_device.access_token)
    await app.connect()
    for conversation_id in (2**63, 10**30, -1):
        for frame in (
            send_frame(conversation_id, "hej"),
            {"type": "sync", "conversation": conversation_id, "after_seq": 0},
            {"type": "read", "conversation": conversation_id, "up_to_seq": 0},
        ):
            await app.send_json_to(frame)
            error = await receive(app)
            assert (error["type"], error["code"]) == ("error", "not-found"), (frame, error)
    await app.send_json_to({"type": "ping"})
    assert (await receive(app))["type"] == "pong"
    await app.disconnect()
    assert not any(r.exc_info for r in caplog.records)


async def test_a_body_with_a_lone_surrogate_is_a_validation_error(conversation, defector_device, caplog):
    app = device_socket(defector_device.access_token)
    await app.connect()
    for body in ("\\ud800", "hej \\udfff då", "\\udc80\\ud800"):
        client_id = str(uuid.uuid4())
        raw = (
            '{"type": "message.send", "conversation": %d, "client_id": "%s", "body": "%s"}'  # noqa: UP031 - raw escapes
            % (conversation.pk, client_id, body)
        )
        await app.send_to(text_data=raw)
        error = await receive(app)
        assert (error["type"], error["code"], error["client_id"]) == ("error", "validation", client_id), error
    await app.send_json_to(send_frame(conversation.pk, "still here"))
    assert (await receive_type(app, "message.ack"))["seq"] == 1
    await app.disconnect()
    assert not any(r.exc_info for r in caplog.records)
    assert await database_sync_to_async(Message.objects.count)() == 1


def test_a_body_with_a_lone_surrogate_is_a_validation_error_over_rest(conversation, defector_device):
    raw = '{"client_id": "%s", "body": "x\\ud800"}' % uuid.uuid4()  # noqa: UP031 - raw escapes
    response = device_client(defector_device).generic(
        "POST", f"/api/v1/conversations/{conversation.pk}/messages", raw, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["type"] == "urn:livlina:problem:validation"


async def test_body_errors_name_the_client_id_and_store_nothing(conversation, defector_device):
    app = device_socket(defector_device.access_token)
    await app.connect()
    for body, code in (("   ", "validation"), ("x" * 4001, "body-too-long")):
        frame = send_frame(conversation.pk, body)
        await app.send_json_to(frame)
        error = await receive(app)
        assert (error["code"], error["client_id"]) == (code, frame["client_id"])
    assert await database_sync_to_async(Message.objects.count)() == 0
    await app.disconnect()


async def test_other_cases_conversation_is_not_found_over_the_socket(other_case, defector_device):
    other = await database_sync_to_async(Conversation.objects.get)(case=other_case)
    app = device_socket(defector_device.access_token)
    await app.connect()
    await app.send_json_to(send_frame(other.pk, "hej"))
    assert (await receive(app))["code"] == "not-found"
    await app.send_json_to({"type": "sync", "conversation": other.pk, "after_seq": 0})
    assert (await receive(app))["code"] == "not-found"
    await app.disconnect()


async def test_retry_with_the_same_client_id_acks_the_same_message(conversation, defector_device):
    app = device_socket(defector_device.access_token)
    await app.connect()
    frame = send_frame(conversation.pk, "once")
    await app.send_json_to(frame)
    first = await receive_type(app, "message.ack")
    await app.disconnect()
    again = device_socket(defector_device.access_token)  # reconnected after a dropped connection
    await again.connect()
    await again.send_json_to(frame)
    second = await receive_type(again, "message.ack")
    assert (first["id"], first["seq"]) == (second["id"], second["seq"])
    assert await database_sync_to_async(Message.objects.count)() == 1
    await again.disconnect()


async def test_sync_replays_missed_messages_in_order(conversation, defector_device, contact):
    staff = await database_sync_to_async(staff_client)(contact)
    for i in range(5):
        await database_sync_to_async(staff.post)(
            f"/api/v1/conversations/{conversation.pk}/messages",
            {"client_id": str(uuid.uuid4()), "body": f"m{i}"},
            format="json",
        )
    app = device_socket(defector_device.access_token)
    await app.connect()
    await app.send_json_to({"type": "sync", "conversation": conversation.pk, "after_seq": 2})
    replayed = [await receive(app) for _ in range(4)]
    assert [f["message"]["seq"] for f in replayed[:3]] == [3, 4, 5]
    assert replayed[3] == {"type": "sync.done", "conversation": conversation.pk, "last_seq": 5}
    await app.disconnect()


async def test_read_receipts_reach_the_other_side_live(conversation, defector_device, staff_cookie):
    app = device_socket(defector_device.access_token)
    await app.connect()
    await app.send_json_to(send_frame(conversation.pk, "hej"))
    await receive_type(app, "message.ack")
    inbox = session_socket(staff_cookie, origin="http://testserver")
    await inbox.connect()
    await inbox.send_json_to({"type": "read", "conversation": conversation.pk, "up_to_seq": 1})
    receipt = await receive_type(app, "receipt.read")
    assert receipt["up_to_seq"] == 1 and receipt["conversation"] == conversation.pk
    await app.disconnect()
    await inbox.disconnect()


async def test_revoking_a_device_closes_its_socket_at_once(conversation, defector_device, contact):
    app = device_socket(defector_device.access_token)
    await app.connect()
    staff = await database_sync_to_async(staff_client)(contact)
    response = await database_sync_to_async(staff.post)(
        f"/api/v1/devices/{defector_device.device_id}/revoke", {}, format="json"
    )
    assert response.status_code == 204
    output = await app.receive_output(timeout=3)
    assert output == {"type": "websocket.close", "code": 4403}
    connected, _ = await device_socket(defector_device.access_token).connect()
    assert not connected


async def test_socket_rate_limit_is_an_error_frame_not_a_close(defector_device, settings):
    settings.LIVLINA_SOCKET_RATE = 0.001
    settings.LIVLINA_SOCKET_BURST = 3
    app = device_socket(defector_device.access_token)
    await app.connect()
    for _ in range(4):
        await app.send_json_to({"type": "ping"})
    frames = [await receive(app) for _ in range(4)]
    assert [f["type"] for f in frames] == ["pong", "pong", "pong", "error"]
    assert frames[3]["code"] == "rate-limited"
    await app.disconnect()


async def test_per_device_send_limit_holds_across_sockets(conversation, defector_device, settings):
    settings.LIVLINA_MESSAGE_RATE = "2/minute"
    first, second = device_socket(defector_device.access_token), device_socket(defector_device.access_token)
    await first.connect()
    await second.connect()
    await first.send_json_to(send_frame(conversation.pk, "hej"))
    assert (await receive_type(first, "message.ack"))["seq"] == 1
    await second.send_json_to(send_frame(conversation.pk, "hej"))
    assert (await receive_type(second, "message.ack"))["seq"] == 2
    await second.send_json_to(send_frame(conversation.pk, "hej"))
    assert (await receive_type(second, "error"))["code"] == "rate-limited"
    await first.disconnect()
    await second.disconnect()


async def test_device_http_token_still_works_after_socket_use(defector_device):
    assert (await database_sync_to_async(device_client(defector_device).get)("/api/v1/me")).status_code == 200


async def test_a_socket_closes_when_its_access_token_expires(case, contact, settings):
    from datetime import timedelta

    settings.LIVLINA_ACCESS_TOKEN_TTL = timedelta(seconds=1)
    session = await database_sync_to_async(DefectorDeviceSessionFactory)(case=case)
    app = device_socket(session.access_token)
    assert (await app.connect())[0]
    output = await app.receive_output(timeout=4)
    assert output == {"type": "websocket.close", "code": 4401}


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "sync", "conversation": 0, "after_seq": 0},
        {"type": "read", "conversation": 0, "up_to_seq": 0},
        {"type": "message.send", "conversation": 0, "client_id": "", "body": "after the rotation"},
    ],
    ids=lambda frame: frame["type"],
)
async def test_a_socket_closes_on_its_next_frame_once_its_access_token_is_rotated(conversation, defector_device, frame):
    from tests.accounts.test_tokens import refresh

    app = device_socket(defector_device.access_token)
    assert (await app.connect())[0]
    response = await database_sync_to_async(refresh)(APIClient(), defector_device)
    assert response.status_code == 200
    # REST refuses the old token at once; the socket opened with it is no better.
    frame = frame | {"conversation": conversation.pk}
    if frame["type"] == "message.send":
        frame["client_id"] = str(uuid.uuid4())
    await app.send_json_to(frame)
    output = await app.receive_output(timeout=3)
    assert output == {"type": "websocket.close", "code": 4401}
    assert await database_sync_to_async(Message.objects.count)() == 0
    # The new token opens a socket that works.
    fresh = device_socket(response.json()["access_token"])
    assert (await fresh.connect())[0]
    await fresh.send_json_to(send_frame(conversation.pk, "hej"))
    assert (await receive_type(fresh, "message.ack"))["seq"] == 1
    await fresh.disconnect()


async def test_a_rotated_tokens_socket_closes_on_the_recheck_without_a_frame(defector_device, settings):
    from tests.accounts.test_tokens import refresh

    settings.LIVLINA_SOCKET_RECHECK_SECONDS = 0.2
    app = device_socket(defector_device.access_token)
    assert (await app.connect())[0]
    assert (await database_sync_to_async(refresh)(APIClient(), defector_device)).status_code == 200
    output = await app.receive_output(timeout=3)
    assert output == {"type": "websocket.close", "code": 4401}


async def test_an_inbox_socket_ends_when_its_session_logs_out(contact, settings):
    settings.LIVLINA_SOCKET_RECHECK_SECONDS = 0.2
    client = await database_sync_to_async(staff_client)(contact)
    inbox = session_socket(client.cookies["sessionid"].value, origin="http://testserver")
    assert (await inbox.connect())[0]
    await database_sync_to_async(client.post)("/inbox/logout/")
    output = await inbox.receive_output(timeout=3)
    assert output == {"type": "websocket.close", "code": 4401}


async def test_a_revoked_device_socket_closes_even_if_the_revocation_event_is_lost(defector_device, settings):
    from django.utils import timezone

    from backend.accounts.models import Device

    settings.LIVLINA_SOCKET_RECHECK_SECONDS = 0.2
    app = device_socket(defector_device.access_token)
    assert (await app.connect())[0]
    # Revoked straight in the database: no event goes over the channel layer.
    await database_sync_to_async(Device.objects.filter(pk=defector_device.device_id).update)(revoked_at=timezone.now())
    output = await app.receive_output(timeout=3)
    assert output == {"type": "websocket.close", "code": 4401}


async def test_staff_send_from_the_inbox_socket_reaches_the_defector(conversation, defector_device, staff_cookie):
    app = device_socket(defector_device.access_token)
    await app.connect()
    inbox = session_socket(staff_cookie, origin="http://testserver")
    assert (await inbox.connect())[0]
    frame = send_frame(conversation.pk, "Jag ringer dig om fem minuter")
    await inbox.send_json_to(frame)
    ack = await receive_type(inbox, "message.ack")
    assert ack["client_id"] == frame["client_id"] and ack["seq"] == 1
    new = await receive_type(app, "message.new")
    assert new["message"]["body"] == "Jag ringer dig om fem minuter"
    await app.disconnect()
    await inbox.disconnect()


async def test_a_send_from_a_logged_out_inbox_socket_is_refused_and_closes_it(conversation, contact):
    client = await database_sync_to_async(staff_client)(contact)
    inbox = session_socket(client.cookies["sessionid"].value, origin="http://testserver")
    assert (await inbox.connect())[0]
    await database_sync_to_async(client.post)("/inbox/logout/")
    await inbox.send_json_to(send_frame(conversation.pk, "efter utloggning"))
    assert await inbox.receive_output(timeout=3) == {"type": "websocket.close", "code": 4401}
    assert not await database_sync_to_async(Message.objects.exists)()
