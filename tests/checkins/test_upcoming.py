"""The defector's app asks when its next check-ins are due
(``GET /api/v1/me/checkins/upcoming``): from active schedules, soonest first, in UTC."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from backend.checkins.sweeps import open_due_checkins
from tests.conftest import device_client
from tests.factories import DefectorDeviceSessionFactory

# Saturday 24 October 2026, 18:00 UTC (20:00 in Stockholm): DST ends the next night.
NOW = dt.datetime(2026, 10, 24, 18, 0, tzinfo=dt.UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def app(frozen, case, settings):
    settings.LIVLINA_ACCESS_TOKEN_TTL = dt.timedelta(days=2)
    return device_client(DefectorDeviceSessionFactory(case=case))


def add_schedule(client, case, **overrides):
    body = {
        "rrule": "FREQ=DAILY;BYHOUR=21;BYMINUTE=0",
        "timezone": "Europe/Stockholm",
        "window_minutes": 60,
        "grace_minutes": 15,
        "reminder_minutes": 10,
    } | overrides
    response = client.post(f"/api/v1/cases/{case.pk}/checkin-schedules", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def upcoming(app, **params):
    response = app.get("/api/v1/me/checkins/upcoming", params)
    assert response.status_code == 200, response.content
    return response.json()


def test_the_next_check_ins_of_a_daily_schedule_in_utc_across_dst(app, case, contact, as_staff):
    schedule_id = add_schedule(as_staff(contact), case)
    items = upcoming(app, limit=3)
    # 21:00 Stockholm: summer time (UTC+2) tonight, winter time (UTC+1) after Sunday's change.
    assert [item["due_at"] for item in items] == [
        "2026-10-24T19:00:00Z",
        "2026-10-25T20:00:00Z",
        "2026-10-26T20:00:00Z",
    ]
    assert items[0] == {
        "schedule_id": schedule_id,
        "due_at": "2026-10-24T19:00:00Z",
        "closes_at": "2026-10-24T20:00:00Z",
        "remind_at": "2026-10-24T19:50:00Z",
        "window_minutes": 60,
        "reminder_minutes": 10,
    }
    assert "grace_minutes" not in items[0]


def test_schedules_are_merged_soonest_first_and_paused_or_ended_ones_left_out(app, case, contact, as_staff, frozen):
    staff = as_staff(contact)
    evening = add_schedule(staff, case)
    morning = add_schedule(staff, case, rrule="FREQ=DAILY;BYHOUR=8;BYMINUTE=0", reminder_minutes=0)
    one_off = add_schedule(staff, case, rrule="", at="2026-10-25T12:00:00Z")
    paused = add_schedule(staff, case, rrule="FREQ=HOURLY;INTERVAL=1")
    assert staff.post(f"/api/v1/checkin-schedules/{paused}/pause").status_code == 200
    items = upcoming(app, limit=5)
    assert [(item["schedule_id"], item["due_at"]) for item in items] == [
        (evening, "2026-10-24T19:00:00Z"),
        (morning, "2026-10-25T07:00:00Z"),
        (one_off, "2026-10-25T12:00:00Z"),
        (evening, "2026-10-25T20:00:00Z"),
        (morning, "2026-10-26T07:00:00Z"),
    ]
    assert items[1]["remind_at"] is None  # that schedule sends no reminder

    # Once the one-off has opened it is no longer upcoming (it is in /checkins/open).
    frozen.move_to(dt.datetime(2026, 10, 25, 12, 0, tzinfo=dt.UTC))
    open_due_checkins()
    assert one_off not in {item["schedule_id"] for item in upcoming(app, limit=50)}


def test_the_default_limit_and_its_bounds(app, case, contact, as_staff):
    add_schedule(as_staff(contact), case)
    assert len(upcoming(app)) == 10
    for bad in ("0", "51", "soon"):
        response = app.get("/api/v1/me/checkins/upcoming", {"limit": bad})
        assert response.status_code == 400
        assert [error["field"] for error in response.json()["errors"]] == ["limit"]


def test_nothing_scheduled_is_an_empty_list(app):
    assert upcoming(app) == []


def test_only_the_defectors_own_schedules(app, case, other_case, other_contact, as_staff):
    add_schedule(as_staff(other_contact), other_case)
    assert upcoming(app) == []


def test_staff_are_refused(contact, as_staff, case):
    response = as_staff(contact).get("/api/v1/me/checkins/upcoming")
    assert response.status_code == 403


def test_without_credentials_it_is_401(api, db):
    with time_machine.travel(NOW):
        assert api.get("/api/v1/me/checkins/upcoming").status_code == 401
