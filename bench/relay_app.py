"""The floor: a bare Channels relay with the shape of Livlina's message flow and none of
its work (no authentication, no database, no encryption, no push outbox).

``/ws/relay/<pair>/``: every socket of pair ``i`` joins group ``pair.<i>``. A
``message.send`` text frame is published to the group with ``group_send`` (so, as in
Livlina, both the sender and the other side get a ``message.new``), then the sender gets
an ack. Run with ``daphne bench.relay_app:application``.
"""

from __future__ import annotations

import json
import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.relay_settings")

import django

django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402


class RelayConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.pair = int(self.scope["url_route"]["kwargs"]["pair"])
        self.group = f"pair.{self.pair}"
        self.seq = 0
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        frame = json.loads(text_data or "{}")
        if frame.get("type") != "message.send":
            return
        self.seq += 1
        message = {"seq": self.seq, "client_id": frame["client_id"], "body": frame["body"]}
        await self.channel_layer.group_send(
            self.group, {"type": "message.new", "conversation": frame["conversation"], "message": message}
        )
        ack = {"type": "message.ack", "conversation": frame["conversation"], "client_id": frame["client_id"]}
        await self.send(text_data=json.dumps({**ack, "seq": self.seq}, separators=(",", ":")))

    async def message_new(self, event: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(event, separators=(",", ":")))


application = ProtocolTypeRouter({"websocket": URLRouter([path("ws/relay/<int:pair>/", RelayConsumer.as_asgi())])})
