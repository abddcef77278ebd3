"""With the cache (Redis) unreachable, or its connection broken mid-handshake: messages and
check-in answers still go through; enrollment and staff login, which need the attempt
counters, are refused with a 429."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import redis
from django.utils import timezone
from rest_framework.test import APIClient

from backend.checkins.models import Checkin, CheckinSchedule
from backend.messaging.models import Conversation, Message
from client.device import DeviceKeys
from tests.conftest import device_client

UNREACHABLE = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"}
}


@pytest.fixture
def cache_down(settings, defector_device):
    settings.CACHES = UNREACHABLE
    return defector_device


class BrokenPipeline:
    """A stand-in for redis-py's pipeline on a connection that broke mid-handshake: the
    error it raised once in CI (tests/fault/test_daphne_killed.py) cannot be brought
    about on purpose, so it is raised here as redis-py raised it."""

    def incr(self, key: str) -> None:
        pass

    def expire(self, key: str, ttl: int) -> None:
        pass

    def execute(self) -> list[int]:
        raise ValueError("I/O operation on closed file.")


@pytest.mark.parametrize("connection_breaks_mid_handshake", [False, True])
def test_a_message_is_stored_while_the_cache_is_down(cache_down, monkeypatch, case, connection_breaks_mid_handshake):
    if connection_breaks_mid_handshake:
        monkeypatch.setattr(redis.Redis, "pipeline", lambda client, transaction: BrokenPipeline())
    conversation = Conversation.objects.get(case=case)
    response = device_client(cache_down).post(
        f"/api/v1/conversations/{conversation.pk}/messages",
        {"client_id": str(uuid.uuid4()), "body": "hej"},
        format="json",
    )
    assert response.status_code == 201
    assert Message.objects.count() == 1


def test_a_checkin_is_answered_while_the_cache_is_down(cache_down, case, contact):
    now = timezone.now()
    schedule = CheckinSchedule.objects.create(
        case=case,
        rrule="",
        dtstart=now,
        timezone="Europe/Stockholm",
        window_minutes=30,
        grace_minutes=5,
        created_by=contact.user,
    )
    checkin = Checkin.objects.create(
        schedule=schedule,
        case=case,
        due_at=now,
        closes_at=now + dt.timedelta(minutes=30),
        grace_until=now + dt.timedelta(minutes=35),
    )
    response = device_client(cache_down).post(f"/api/v1/checkins/{checkin.pk}/respond", {"status": "ok"}, format="json")
    assert response.status_code == 200


def test_enrollment_is_refused_not_unthrottled_while_the_cache_is_down(cache_down):
    response = APIClient().post(
        "/api/v1/enroll", {"code": "AAAA-BBBB-CCCC", "device": DeviceKeys().public()}, format="json"
    )
    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
