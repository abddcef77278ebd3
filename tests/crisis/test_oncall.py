"""Who is on call, across Europe/Stockholm's DST changes, with overrides and gap warnings."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from backend.crisis.models import OnCallOverride, OnCallRotation
from backend.crisis.oncall import gaps, handoff_at, on_call_at
from tests.factories import DeviceFactory

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=STOCKHOLM)


@pytest.fixture
def daily(programme) -> OnCallRotation:
    # Three people, daily handoff at 08:00 Stockholm time, from Friday 2026-03-27.
    return OnCallRotation(
        pk=1,
        programme=programme,
        name="jour",
        members=[11, 22, 33],
        start_date=dt.date(2026, 3, 27),
        handoff_time=dt.time(8, 0),
        shift_days=1,
        timezone="Europe/Stockholm",
    )


def test_handoffs_stay_at_08_local_across_the_spring_change(daily):
    # 2026-03-29 02:00 -> 03:00: the shift from Saturday 08:00 to Sunday 08:00 is 23 hours.
    assert handoff_at(daily, 1) == local(2026, 3, 28, 8, 0)
    assert handoff_at(daily, 2) == local(2026, 3, 29, 8, 0)
    assert (handoff_at(daily, 2) - handoff_at(daily, 1)) == dt.timedelta(hours=23)
    assert on_call_at([daily], [], local(2026, 3, 29, 7, 59)) == [22]
    assert on_call_at([daily], [], local(2026, 3, 29, 8, 0)) == [33]
    assert on_call_at([daily], [], local(2026, 3, 29, 2, 30).astimezone(dt.UTC)) == [22]


def test_handoffs_stay_at_08_local_across_the_autumn_change(programme):
    weekly = OnCallRotation(
        pk=2,
        programme=programme,
        name="w",
        members=[1, 2],
        start_date=dt.date(2026, 10, 19),
        handoff_time=dt.time(8, 0),
        shift_days=7,
        timezone="Europe/Stockholm",
    )
    # 2026-10-25 03:00 -> 02:00: the week across it is 7 days and one hour.
    assert handoff_at(weekly, 1) == local(2026, 10, 26, 8, 0)
    assert handoff_at(weekly, 1) - handoff_at(weekly, 0) == dt.timedelta(days=7, hours=1)
    # Both 02:30s of the repeated hour belong to the same person.
    first = dt.datetime(2026, 10, 25, 2, 30, tzinfo=STOCKHOLM, fold=0)
    second = dt.datetime(2026, 10, 25, 2, 30, tzinfo=STOCKHOLM, fold=1)
    assert second.astimezone(dt.UTC) - first.astimezone(dt.UTC) == dt.timedelta(hours=1)
    assert on_call_at([weekly], [], first) == on_call_at([weekly], [], second) == [1]


def test_no_moment_has_two_people_or_nobody_across_both_changes(daily):
    for start in (local(2026, 3, 28, 0, 0), local(2026, 10, 24, 0, 0)):
        moment = start.astimezone(dt.UTC)
        for _ in range(4 * 24 * 4):
            assert len(on_call_at([daily], [], moment)) == 1
            moment += dt.timedelta(minutes=15)


def test_an_override_replaces_the_rotation_for_its_stretch(daily):
    override = OnCallOverride(
        rotation_id=1, user_id=99, starts_at=local(2026, 3, 28, 12, 0), ends_at=local(2026, 3, 28, 18, 0)
    )
    assert on_call_at([daily], [override], local(2026, 3, 28, 11, 59)) == [22]
    assert on_call_at([daily], [override], local(2026, 3, 28, 12, 0)) == [99]
    assert on_call_at([daily], [override], local(2026, 3, 28, 18, 0)) == [22]


def test_gaps_are_found_before_a_rotation_starts(daily):
    found = gaps([daily], [], local(2026, 3, 26, 0, 0), local(2026, 3, 30, 0, 0))
    assert found == [(local(2026, 3, 26, 0, 0), local(2026, 3, 27, 8, 0))]
    assert gaps([daily], [], local(2026, 3, 28, 0, 0), local(2026, 4, 5, 0, 0)) == []


def test_oncall_api_shows_who_is_on_call_and_warns_about_gaps(programme, supervisor, oncall, contact, as_staff):
    DeviceFactory(user=oncall.user)  # a phone push reaches (tests/crisis/test_unreachable_phones.py: without one)
    client = as_staff(supervisor)
    with time_machine.travel(local(2026, 11, 20, 12, 0)):
        empty = client.get(f"/api/v1/programmes/{programme.pk}/oncall").json()
        assert empty["on_call_now"] == [] and len(empty["warnings"]) == 1
        created = client.post(
            f"/api/v1/programmes/{programme.pk}/oncall/rotations",
            {
                "name": "jour",
                "members": [oncall.user.pk],
                "start_date": "2026-11-20",
                "handoff_time": "08:00",
                "shift_days": 7,
                "timezone": "Europe/Stockholm",
            },
            format="json",
        )
        assert created.status_code == 201
        overview = client.get(f"/api/v1/programmes/{programme.pk}/oncall").json()
        assert overview["on_call_now"] == [oncall.user.pk]
        assert overview["gaps"] == [] and overview["warnings"] == []
    # Contact persons may look but not change.
    assert as_staff(contact).get(f"/api/v1/programmes/{programme.pk}/oncall").status_code == 200
    response = as_staff(contact).post(
        f"/api/v1/programmes/{programme.pk}/oncall/rotations",
        {
            "name": "x",
            "members": [contact.user.pk],
            "start_date": "2026-11-20",
            "handoff_time": "08:00",
            "shift_days": 7,
            "timezone": "Europe/Stockholm",
        },
        format="json",
    )
    assert response.status_code == 403


def test_rotation_input_errors_name_the_field(programme, supervisor, foreign_supervisor, as_staff):
    client = as_staff(supervisor)
    base = {
        "name": "jour",
        "members": [supervisor.user.pk],
        "start_date": "2026-11-20",
        "handoff_time": "08:00",
        "shift_days": 7,
        "timezone": "Europe/Stockholm",
    }
    for change, field in (
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"members": [foreign_supervisor.user.pk]}, "members"),
        ({"shift_days": 0}, "shift_days"),
    ):
        response = client.post(f"/api/v1/programmes/{programme.pk}/oncall/rotations", base | change, format="json")
        assert response.status_code == 400
        assert response.json()["errors"][0]["field"] == field
    assert as_staff(foreign_supervisor).get(f"/api/v1/programmes/{programme.pk}/oncall").status_code == 404


def test_supervisor_role_is_needed_for_policy_changes(programme, supervisor, contact, as_staff):
    policy = {"steps": [{"action": "notify_contacts"}, {"action": "wait", "minutes": 3}], "repeat": 2}
    assert (
        as_staff(contact).put(f"/api/v1/programmes/{programme.pk}/escalation-policy", policy, format="json").status_code
        == 403
    )
    response = as_staff(supervisor).put(f"/api/v1/programmes/{programme.pk}/escalation-policy", policy, format="json")
    assert response.status_code == 200 and response.json() == policy
    bad = {"steps": [{"action": "wait"}], "repeat": 2}
    response = as_staff(supervisor).put(f"/api/v1/programmes/{programme.pk}/escalation-policy", bad, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "steps[0].minutes"
