"""A check-in nobody answers is marked missed exactly once and raises its alert, however
the worker meets it: a crowd in one batch (with the same outcome as one by one: alerts,
timelines, audit chain, live frames), a batch that fails or a worker that dies midway,
several workers at once."""

from __future__ import annotations

import datetime as dt
import functools
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.audit.models import AuditCheckpoint, AuditEntry
from backend.audit.verification import verify_chain
from backend.checkins.models import Checkin, CheckinSchedule
from backend.checkins.sweeps import mark_missed
from backend.crisis.models import Alert, AlertEvent
from backend.crisis.services import raise_alert, resolve_alert
from tests.conftest import requires_postgres
from tests.factories import CaseFactory
from tests.threads import run_together


def overdue_checkins(programme, contact, count: int, *, prefix: str = "D") -> list[Checkin]:
    now = timezone.now()
    made = []
    for i in range(count):
        case = CaseFactory(programme=programme, alias=f"{prefix}{i}", primary_contact=contact.user)
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


def test_a_batch_raises_one_alert_each_with_its_timeline_and_a_verifiable_audit_trail(programme, contact, settings):
    settings.LIVLINA_AUDIT_CHECKPOINT_EVERY = 3  # checkpoints fall inside the batch
    checkins = overdue_checkins(programme, contact, 5)
    assert mark_missed() == 5
    alerts = {a.case_id: a for a in Alert.objects.filter(kind="missed_checkin")}
    assert len(alerts) == 5
    for checkin in checkins:
        alert = alerts[checkin.case_id]
        assert (alert.severity_name, alert.state, alert.trigger_count) == ("high", "open", 1)
        assert alert.escalation["steps"][0] == {"action": "notify_contacts"}
        raised = AlertEvent.objects.get(alert=alert)
        assert raised.kind == "raised"
        assert raised.detail == {
            "severity": "high",
            "categories": [],
            "checkin": checkin.pk,
            "due_at": checkin.due_at.isoformat(),
        }
        entry = AuditEntry.objects.get(action="alert.raised", target=f"alert:{alert.pk}")
        assert (entry.case_id, entry.details) == (checkin.case_id, {"kind": "missed_checkin"})
    assert set(Checkin.objects.values_list("status", flat=True)) == {"missed"}
    result = verify_chain()
    assert result.ok, result.problem
    assert AuditCheckpoint.objects.count() == AuditEntry.objects.count() // 3 >= 1


def test_a_batch_adds_to_an_unresolved_alert_and_opens_a_new_one_after_a_resolved(programme, contact):
    checkins = overdue_checkins(programme, contact, 3)
    still_open = raise_alert(case=checkins[0].case, kind="missed_checkin", severity="high")
    acknowledged = raise_alert(case=checkins[1].case, kind="missed_checkin", severity="normal")
    Alert.objects.filter(pk=acknowledged.pk).update(state="acknowledged")
    resolved = raise_alert(case=checkins[2].case, kind="missed_checkin", severity="high")
    resolve_alert(alert=resolved, user=contact.user, note="spoke on the phone")

    assert mark_missed() == 3

    still_open.refresh_from_db()
    assert still_open.trigger_count == 2
    assert still_open.events.filter(kind="retriggered", detail__checkin=checkins[0].pk).exists()
    acknowledged.refresh_from_db()
    # A retrigger raises the severity but leaves a human's acknowledgement in place.
    assert (acknowledged.trigger_count, acknowledged.severity_name, acknowledged.state) == (2, "high", "acknowledged")
    assert acknowledged.events.filter(kind="severity_raised").exists()
    fresh = Alert.objects.exclude(pk=resolved.pk).get(case=checkins[2].case)
    assert (fresh.state, fresh.trigger_count) == ("open", 1)
    assert Alert.objects.count() == 4
    assert verify_chain().ok


def test_two_missed_checkins_of_one_case_in_a_batch_make_one_alert_triggered_twice(programme, contact):
    first = overdue_checkins(programme, contact, 1)[0]
    Checkin.objects.create(
        schedule=first.schedule,
        case=first.case,
        due_at=first.due_at.replace(second=(first.due_at.second + 1) % 60),
        closes_at=first.closes_at,
        grace_until=first.grace_until,
    )
    assert mark_missed() == 2
    alert = Alert.objects.get()
    assert alert.trigger_count == 2
    assert [e.kind for e in alert.events.all()] == ["raised", "retriggered"]


def statements_to_mark_missed(programme, contact, count: int) -> int:
    overdue_checkins(programme, contact, count, prefix=f"batch{count}-")
    with CaptureQueriesContext(connection) as queries:
        assert mark_missed() == count
    return sum(1 for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT")))


def test_a_batch_costs_the_same_few_statements_however_many_checkins_it_holds(programme, contact):
    assert statements_to_mark_missed(programme, contact, 3) == statements_to_mark_missed(programme, contact, 30) < 15


def test_staff_get_one_alert_new_frame_per_alert_after_commit(programme, contact, django_capture_on_commit_callbacks):
    overdue_checkins(programme, contact, 4)
    sent = []
    with mock.patch("backend.realtime._send_all", side_effect=lambda layer, frames: sent.extend(frames)):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            mark_missed()
        assert sent == []  # nothing before the commit
        for callback in callbacks:
            callback()
    alert_ids = set(Alert.objects.values_list("pk", flat=True))
    assert sorted(frame["alert"]["id"] for _, frame in sent) == sorted(alert_ids)
    assert {group for group, _ in sent} == {f"user.{contact.user.pk}"}
    assert {frame["type"] for _, frame in sent} == {"alert.new"}


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
