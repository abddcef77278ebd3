"""Each check-in is marked missed exactly once, with several workers at once and when a
worker dies mid-sweep."""

from __future__ import annotations

import datetime as dt
import threading
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone

from backend.cases.services import open_case
from backend.checkins.models import Checkin, CheckinSchedule
from backend.checkins.services import mark_missed
from backend.crisis.models import Alert
from tests.conftest import requires_postgres


def overdue_checkins(programme, contact, count: int) -> list[Checkin]:
    now = timezone.now()
    made = []
    for i in range(count):
        case = open_case(programme=programme, alias=f"D{i}", primary_contact=contact.user, actor=contact.user)
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
    from backend.crisis import services as crisis_services

    real = crisis_services.raise_alert
    calls = {"n": 0}

    def dies_on_the_second(**kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise SystemExit("worker killed")
        return real(**kwargs)

    with mock.patch("backend.checkins.services.raise_alert", side_effect=dies_on_the_second), pytest.raises(SystemExit):
        mark_missed()
    assert Checkin.objects.filter(status="missed").count() == 0
    assert Alert.objects.count() == 0
    assert mark_missed() == 3
    assert Alert.objects.filter(kind="missed_checkin").count() == 3


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_sweeps_mark_each_checkin_missed_once(programme, contact):
    overdue_checkins(programme, contact, 40)
    barrier = threading.Barrier(4)
    counts, errors = [], []

    def sweep() -> None:
        try:
            barrier.wait()
            total = 0
            while (n := mark_missed(limit=7)) > 0:
                total += n
            counts.append(total)
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(counts) == 40
    assert Checkin.objects.filter(status="missed").count() == 40
    alerts = Alert.objects.filter(kind="missed_checkin")
    assert alerts.count() == 40 and set(alerts.values_list("trigger_count", flat=True)) == {1}
