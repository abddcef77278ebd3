"""The worker marks a crowd of missed check-ins and raises their alerts a batch at a time,
with the same outcome as one by one: alerts, timelines, audit chain, live frames."""

from __future__ import annotations

import datetime as dt
from unittest import mock

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.administration.services import open_case
from backend.audit.models import AuditCheckpoint, AuditEntry
from backend.audit.verification import verify_chain
from backend.checkins.models import Checkin, CheckinSchedule
from backend.checkins.sweeps import mark_missed, open_due_checkins
from backend.crisis.models import Alert, AlertEvent
from backend.crisis.services import raise_alert, resolve_alert
from backend.push.models import PushOutbox
from tests.checkins.test_missed_exactly_once import overdue_checkins


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


def due_schedules(programme, contact, count: int, *, prefix: str) -> list[CheckinSchedule]:
    now = timezone.now().replace(microsecond=0)  # RRULEs count in whole seconds
    made = []
    for i in range(count):
        case = open_case(programme=programme, alias=f"{prefix}{i}", primary_contact=contact.user, actor=contact.user)
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
