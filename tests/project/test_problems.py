"""An API error is a Problem (RFC 9457, ``application/problem+json``) wherever it comes
from, never an HTML page or a 500."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient


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
