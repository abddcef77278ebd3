"""Check-in times in Europe/Stockholm across DST: nothing disappears, nothing doubles."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from backend.checkins.recurrence import next_occurrence

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def occurrences(rule: str, start_local: dt.datetime, until_local: dt.datetime) -> list[dt.datetime]:
    found, after = [], start_local.astimezone(dt.UTC) - dt.timedelta(seconds=1)
    while True:
        nxt = next_occurrence(rule_text=rule, dtstart=start_local, zone="Europe/Stockholm", after=after)
        if nxt is None or nxt > until_local.astimezone(dt.UTC):
            return found
        found.append(nxt)
        after = nxt


def test_daily_0230_happens_once_each_day_across_the_spring_change():
    got = occurrences(
        "FREQ=DAILY",
        dt.datetime(2026, 3, 27, 2, 30, tzinfo=STOCKHOLM),
        dt.datetime(2026, 3, 31, 12, 0, tzinfo=STOCKHOLM),
    )
    days = [o.astimezone(STOCKHOLM).date() for o in got]
    assert days == [dt.date(2026, 3, d) for d in (27, 28, 29, 30, 31)]
    # 02:30 does not exist on the 29th: the check-in falls at 03:30 summer time.
    assert got[2].astimezone(STOCKHOLM).time() == dt.time(3, 30)
    assert [o.astimezone(STOCKHOLM).time() for o in got if o != got[2]] == [dt.time(2, 30)] * 4


def test_daily_0230_happens_once_not_twice_across_the_autumn_change():
    got = occurrences(
        "FREQ=DAILY",
        dt.datetime(2026, 10, 23, 2, 30, tzinfo=STOCKHOLM),
        dt.datetime(2026, 10, 27, 12, 0, tzinfo=STOCKHOLM),
    )
    days = [o.astimezone(STOCKHOLM).date() for o in got]
    assert days == [dt.date(2026, 10, d) for d in (23, 24, 25, 26, 27)]
    assert len(set(days)) == len(days)
    assert all(o.astimezone(STOCKHOLM).time() == dt.time(2, 30) for o in got)


def test_2100_stays_2100_local_across_both_changes():
    for start, end in (
        (dt.datetime(2026, 3, 27, 21, 0, tzinfo=STOCKHOLM), dt.datetime(2026, 3, 31, 22, 0, tzinfo=STOCKHOLM)),
        (dt.datetime(2026, 10, 23, 21, 0, tzinfo=STOCKHOLM), dt.datetime(2026, 10, 27, 22, 0, tzinfo=STOCKHOLM)),
    ):
        got = occurrences("FREQ=DAILY;BYHOUR=21;BYMINUTE=0", start, end)
        assert len(got) == 5
        assert {o.astimezone(STOCKHOLM).time() for o in got} == {dt.time(21, 0)}
        utc_hours = {o.hour for o in got}
        assert utc_hours == {19, 20}  # the UTC hour moves, the local one does not


def test_a_one_off_occurs_once():
    at = dt.datetime(2026, 11, 22, 22, 0, tzinfo=STOCKHOLM)
    assert next_occurrence(rule_text="", dtstart=at, zone="Europe/Stockholm", after=at - dt.timedelta(hours=1)) == at
    assert next_occurrence(rule_text="", dtstart=at, zone="Europe/Stockholm", after=at) is None


def test_the_worker_opens_one_0230_checkin_per_day_through_both_changes(case, contact):
    import time_machine

    from backend.checkins.models import Checkin, CheckinSchedule
    from backend.checkins.sweeps import open_due_checkins

    for first_day, month in ((26, 3), (22, 10)):
        CheckinSchedule.objects.all().delete()
        start = dt.datetime(2026, month, first_day, 2, 30, tzinfo=STOCKHOLM)
        CheckinSchedule.objects.create(
            case=case,
            rrule="FREQ=DAILY",
            dtstart=start,
            timezone="Europe/Stockholm",
            window_minutes=30,
            grace_minutes=10,
            next_due_at=start,
            created_by=contact.user,
        )
        moment = start - dt.timedelta(hours=1)
        with time_machine.travel(moment, tick=False) as clock:
            for _ in range(6 * 24 * 4 - 8):  # six days less two hours, the worker sweeping every 15 minutes
                clock.shift(dt.timedelta(minutes=15))
                open_due_checkins()
        local_days = [c.due_at.astimezone(STOCKHOLM).date() for c in Checkin.objects.order_by("due_at")]
        assert local_days == [start.date() + dt.timedelta(days=i) for i in range(6)]
        Checkin.objects.all().delete()
