"""With the channel layer unreachable, sending still works: the message is stored, a
push is queued, sync delivers it; the outage is logged once, not per message."""

from __future__ import annotations

import logging
import uuid

import pytest

from backend.messaging.models import Conversation, Message
from backend.push.models import PushOutbox
from backend.realtime import layer_health
from tests.conftest import device_client, staff_client
from tests.factories import DeviceFactory

pytestmark = pytest.mark.django_db(transaction=True)

UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": ["redis://127.0.0.1:9/0"]},
    }
}


@pytest.fixture
def layer_down(settings):
    settings.CHANNEL_LAYERS = UNREACHABLE_REDIS
    layer_health.failing = False
    yield
    layer_health.failing = False


def test_messages_are_stored_and_synced_while_the_layer_is_down(layer_down, case, contact, defector_device, caplog):
    staff_device = DeviceFactory(user=contact.user, push_token="staff-token")
    conversation = Conversation.objects.get(case=case)
    app = device_client(defector_device)
    caplog.set_level(logging.ERROR, logger="backend.realtime")
    for i in range(3):
        response = app.post(
            f"/api/v1/conversations/{conversation.pk}/messages",
            {"client_id": str(uuid.uuid4()), "body": f"m{i}"},
            format="json",
        )
        assert response.status_code == 201
    assert Message.objects.filter(conversation=conversation).count() == 3
    assert PushOutbox.objects.filter(device=staff_device).count() == 3
    page = staff_client(contact).get(f"/api/v1/conversations/{conversation.pk}/messages").json()
    assert [m["body"] for m in page["results"]] == ["m0", "m1", "m2"]
    outage_logs = [r for r in caplog.records if r.name == "backend.realtime" and r.levelno >= logging.ERROR]
    assert len(outage_logs) == 1
    assert "channel layer unavailable" in outage_logs[0].getMessage()
