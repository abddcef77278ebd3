"""An API error is a Problem (RFC 9457, ``application/problem+json``) wherever it comes
from, never an HTML page or a 500."""

from __future__ import annotations

import logging
import uuid

import pytest
from django.db import InterfaceError, OperationalError
from rest_framework.test import APIClient

from backend.messaging import services
from backend.messaging.models import Conversation
from tests.conftest import device_client


def test_unknown_api_path_is_a_problem_not_html(db):
    response = APIClient().get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/api/v1/cases/1000000000000000000000000000000", None),
        ("get", "/api/v1/programmes/1000000000000000000000000000000/phrases", None),
        ("get", "/api/v1/alerts/1000000000000000000000000000000", None),
        (
            "post",
            "/api/v1/programmes/{programme}/oncall/rotations",
            {
                "name": "x",
                "members": [10**30],
                "start_date": "2026-11-20",
                "handoff_time": "08:00",
                "shift_days": 7,
                "timezone": "Europe/Stockholm",
            },
        ),
    ],
)
def test_out_of_range_numbers_are_a_4xx_not_a_500(programme, supervisor, as_staff, method, path, body):
    client = as_staff(supervisor)
    response = getattr(client, method)(path.format(programme=programme.pk), body, format="json")
    assert 400 <= response.status_code < 500, response.content
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("error", [OperationalError, InterfaceError])
def test_a_database_that_does_not_answer_is_a_503_to_retry_not_a_500(case, defector_device, monkeypatch, caplog, error):
    def connection_died(*args, **kwargs):
        raise error("terminating connection due to administrator command")

    monkeypatch.setattr(services, "send_message", connection_died)
    conversation = Conversation.objects.get(case=case)
    response = device_client(defector_device).post(
        f"/api/v1/conversations/{conversation.pk}/messages",
        {"client_id": str(uuid.uuid4()), "body": "hej"},
        format="json",
    )
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == "1"
    body = response.json()
    assert body["type"] == "urn:livlina:problem:unavailable" and body["retry_after"] == 1
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.name for r in warnings] == ["backend.problems"]
    assert not any(r.exc_info for r in caplog.records)
