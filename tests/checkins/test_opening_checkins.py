"""The worker opens each due check-in once and moves its schedule to the next occurrence,
a batch of schedules at a time."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.checkins.models import Checkin, CheckinSchedule
from backend.checkins.sweeps import open_due_checkins
from backend.push.models import PushOutbox
from tests.factories import CaseFactory


def due_schedules(programme, contact, count: int, *, prefix: str) -> list[CheckinSchedule]:
    now = timezone.now().replace(microsecond=0)  # RRULEs count in whole seconds
    made = []
    for i in range(count):
        case = CaseFactory(programme=programme, alias=f"{prefix}{i}", primary_contact=contact.user)
        made.append(
            CheckinSchedule.objects.create(
                case=case,
                rrule="FREQ=DAILY",
                dtstart=now - dt.timedelta(minutes=1),
                timezone="Europe/Stockholm",
                window_minutes=30,
                grace_minutes=5,
                reminder_minutes=10,
                next_due_at=now - dt.timedelta(minutes=1),
                created_by=contact.user,
            )
        )
    return made


def test_a_batch_of_due_schedules_opens_each_occurrence_once_and_moves_to_the_next(programme, contact):
    schedules = due_schedules(programme, contact, 4, prefix="open")
    # A worker that died after opening this one but before moving its schedule on.
    survivor = schedules[0]
    Checkin.objects.create(
        schedule=survivor,
        case=survivor.case,
        due_at=survivor.next_due_at,
        closes_at=survivor.next_due_at + dt.timedelta(minutes=30),
        grace_until=survivor.next_due_at + dt.timedelta(minutes=35),
    )
    assert open_due_checkins() == 3
    assert open_due_checkins() == 0
    for schedule in schedules:
        due = schedule.next_due_at
        schedule.refresh_from_db()
        assert schedule.next_due_at == due + dt.timedelta(days=1)
        checkin = Checkin.objects.get(schedule=schedule)
        assert (checkin.due_at, checkin.grace_until) == (due, due + dt.timedelta(minutes=35))
        if schedule is not survivor:
            assert checkin.remind_at == due + dt.timedelta(minutes=20)
    assert PushOutbox.objects.filter(kind="checkin").count() == 0  # nobody here has a phone yet


def test_opening_costs_the_same_few_statements_however_many_schedules_are_due(programme, contact):
    def statements(count: int) -> int:
        due_schedules(programme, contact, count, prefix=f"cost{count}-")
        with CaptureQueriesContext(connection) as queries:
            assert open_due_checkins() == count
        return sum(1 for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT")))

    assert statements(2) == statements(20) < 12
