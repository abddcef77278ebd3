"""Messages between the app and a staff phone over real WebSockets on a real Daphne."""

from __future__ import annotations

import asyncio
import base64

import pytest
from django_otp.oath import totp

from client.device import LivlinaClient
from client.socket import LivlinaSocket
from tests.e2e.live_server import live_server

pytestmark = pytest.mark.slow


def test_a_message_crosses_real_sockets_and_a_gap_is_synced(tmp_path):
    with live_server(tmp_path) as server:
        http = LivlinaClient(server.base_url)
        app = http.enroll(server.demo["case"]["enrollment_code"])
        staff = server.demo["staff"]["contact_person"]
        phone = http.enroll_staff_phone(
            username=staff["username"],
            password=staff["password"],
            otp=f"{totp(base64.b32decode(staff['totp_secret'])):06d}",
        )
        conversation = http.get(app, "/api/v1/conversations").json()[0]["id"]
        ws_url = server.base_url.replace("http", "ws", 1) + "/ws/v1/"

        async def exchange() -> None:
            app_socket = await LivlinaSocket.connect(ws_url, app.access_token)
            staff_socket = await LivlinaSocket.connect(ws_url, phone.access_token)
            ack = await app_socket.send_message(conversation, "Jag behöver prata")
            frame = await staff_socket.next_frame()
            assert frame["type"] == "message.new" and frame["message"]["seq"] == ack["seq"]
            assert frame["message"]["body"] == "Jag behöver prata"
            # Two messages the staff socket never saw live (sent while it pretends to lag):
            staff_socket.last_seq[conversation] = ack["seq"]
            await staff_socket.close()
            await app_socket.send_message(conversation, "hallå?")
            await app_socket.send_message(conversation, "är du där?")
            again = await LivlinaSocket.connect(ws_url, phone.access_token)
            again.last_seq[conversation] = ack["seq"]
            third = await app_socket.send_message(conversation, "tredje")
            # The live frame for seq 4 reveals the gap (2, 3): the client syncs them in order.
            bodies = []
            while len(bodies) < 3:
                f = await again.next_frame()
                if f["type"] == "message.new":
                    bodies.append((f["message"]["seq"], f["message"]["body"]))
            assert bodies == [(2, "hallå?"), (3, "är du där?"), (third["seq"], "tredje")]
            await again.close()
            await app_socket.close()

        asyncio.run(exchange())
        http.close()
