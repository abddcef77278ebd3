"""Each check-in is marked missed exactly once, with several workers at once and when a
worker dies mid-sweep."""

from __future__ import annotations

import datetime as dt
import functools
from unittest import mock

import pytest
from django.utils import timezone

from backend.administration.services import open_case
from backend.checkins.models import Checkin, CheckinSchedule
from backend.checkins.sweeps import mark_missed
from backend.crisis.models import Alert
from tests.conftest import requires_postgres
from tests.threads import run_together


def overdue_checkins(programme, contact, count: int, *, prefix: str = "D") -> list[Checkin]:
    now = timezone.now()
    made = []
    for i in range(count):
        case = open_case(programme=programme, alias=f"{prefix}{i}", primary_contact=contact.user, actor=contact.user)
        schedule = CheckinSchedule.objects.create(
            case=case,
            rrule="",
            dtstart=now,
            timezone="Europe/Stockholm",
            window_minutes=5,
            grace_minutes=0,
            created_by=contact.user,
        )
        made.append(
            Checkin.objects.create(
                schedule=schedule,
                case=case,
                due_at=now - dt.timedelta(minutes=10),
                closes_at=now - dt.timedelta(minutes=5),
                grace_until=now - dt.timedelta(minutes=5),
            )
        )
    return made


def test_a_sweep_that_dies_midway_leaves_nothing_half_done(programme, contact):
    overdue_checkins(programme, contact, 3)

    def killed(*args, **kwargs):
        raise SystemExit("worker killed")

    # Killed after the check-ins were marked and the alerts inserted, before the audit entries.
    with mock.patch("backend.crisis.services.record_events", side_effect=killed), pytest.raises(SystemExit):
        mark_missed()
    assert Checkin.objects.filter(status="missed").count() == 0
    assert Alert.objects.count() == 0
    assert mark_missed() == 3
    assert Alert.objects.filter(kind="missed_checkin").count() == 3


def test_a_failed_batch_is_tried_one_by_one_and_a_death_there_leaves_nothing_half_done(programme, contact):
    overdue_checkins(programme, contact, 3)
    from backend.crisis import services as crisis_services

    real = crisis_services.raise_alerts
    calls = {"n": 0}

    def batch_fails_then_killed_on_the_second_single(triggers):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the batch failed")
        if calls["n"] == 3:
            raise SystemExit("worker killed")
        return real(triggers)

    with (
        mock.patch("backend.checkins.sweeps.raise_alerts", side_effect=batch_fails_then_killed_on_the_second_single),
        pytest.raises(SystemExit),
    ):
        mark_missed()
    assert Checkin.objects.filter(status="missed").count() == 0
    assert Alert.objects.count() == 0
    assert mark_missed() == 3
    assert Alert.objects.filter(kind="missed_checkin").count() == 3


def test_one_bad_checkin_does_not_hold_up_the_rest_of_its_batch(programme, contact):
    checkins = overdue_checkins(programme, contact, 3)
    from backend.crisis import services as crisis_services

    real = crisis_services.raise_alerts
    bad = checkins[1].pk

    def fails_for_the_bad_one(triggers):
        if any(t.detail["checkin"] == bad for t in triggers):
            raise RuntimeError("unreadable")
        return real(triggers)

    with mock.patch("backend.checkins.sweeps.raise_alerts", side_effect=fails_for_the_bad_one):
        assert mark_missed() == 2
    assert set(Checkin.objects.filter(status="open").values_list("pk", flat=True)) == {bad}
    assert mark_missed() == 1


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_sweeps_mark_each_checkin_missed_once(programme, contact):
    overdue_checkins(programme, contact, 40)

    def sweep() -> int:
        total = 0
        while (n := mark_missed(limit=7)) > 0:
            total += n
        return total

    counts = run_together(*([sweep] * 4))
    assert sum(counts) == 40
    assert Checkin.objects.filter(status="missed").count() == 40
    alerts = Alert.objects.filter(kind="missed_checkin")
    assert alerts.count() == 40 and set(alerts.values_list("trigger_count", flat=True)) == {1}


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_sweeps_over_cases_with_two_checkins_each_raise_one_alert_per_case(programme, contact):
    # Two schedules per case, due together: concurrent sweeps race to open the same alert,
    # and the loser must add to it (retrigger) instead of failing or opening a second one.
    first = overdue_checkins(programme, contact, 12)
    now = timezone.now()
    for checkin in first:
        schedule = CheckinSchedule.objects.create(
            case=checkin.case,
            rrule="",
            dtstart=now,
            timezone="Europe/Stockholm",
            window_minutes=5,
            grace_minutes=0,
            created_by=contact.user,
        )
        Checkin.objects.create(
            schedule=schedule,
            case=checkin.case,
            due_at=checkin.due_at,
            closes_at=checkin.closes_at,
            grace_until=checkin.grace_until,
        )

    def sweep(limit: int) -> int:
        total = 0
        while (n := mark_missed(limit=limit)) > 0:
            total += n
        return total

    counts = run_together(*(functools.partial(sweep, limit) for limit in (3, 5, 7)))
    assert sum(counts) == 24
    assert Checkin.objects.filter(status="missed").count() == 24
    alerts = Alert.objects.filter(kind="missed_checkin")
    assert alerts.count() == 12 and set(alerts.values_list("trigger_count", flat=True)) == {2}
    from backend.audit.verification import verify_chain

    assert verify_chain().ok
