"""Check-ins from both sides: schedules, answers, duress, panic, reminders, missed."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.checkins.models import Checkin, CheckinAnswer, CheckinSchedule
from backend.checkins.sweeps import mark_missed, open_due_checkins, process_answers
from backend.crisis.models import Alert
from backend.problems import Problem
from backend.push.models import PushOutbox
from backend.worker.loop import default_jobs
from tests.conftest import device_client
from tests.factories import DefectorDeviceSessionFactory

NOW = dt.datetime(2026, 11, 23, 18, 0, tzinfo=dt.UTC)


def run_checkin_sweeps() -> None:
    """What the worker runs for check-ins, from its own job list."""
    for job in default_jobs():
        if job.name.startswith("checkins"):
            job.run()


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def app(frozen, case, settings):
    settings.LIVLINA_ACCESS_TOKEN_TTL = dt.timedelta(days=2)  # these tests move the clock by hours
    return device_client(DefectorDeviceSessionFactory(case=case, push_token="app-token"))


def schedule(client, case, **overrides):
    body = {
        "rrule": "FREQ=DAILY;BYHOUR=21;BYMINUTE=0",
        "timezone": "Europe/Stockholm",
        "window_minutes": 60,
        "grace_minutes": 15,
        "reminder_minutes": 10,
    } | overrides
    return client.post(f"/api/v1/cases/{case.pk}/checkin-schedules", body, format="json")


def open_one(frozen, staff_client, case) -> Checkin:
    response = schedule(staff_client, case, rrule="", at=(NOW + dt.timedelta(minutes=5)).isoformat())
    assert response.status_code == 201, response.content
    frozen.shift(dt.timedelta(minutes=5))
    assert open_due_checkins() == 1
    return Checkin.objects.get()


def test_staff_on_the_case_create_schedules_others_cannot(frozen, case, contact, other_contact, as_staff):
    response = schedule(as_staff(contact), case)
    assert response.status_code == 201
    # 21:00 in Stockholm on 2026-11-23 is 20:00 UTC.
    assert response.json()["next_due_at"] == "2026-11-23T20:00:00Z"
    assert schedule(as_staff(other_contact), case).status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"rrule": "FREQ=SOMETIMES"}, "rrule"),
        ({"rrule": "FREQ=MINUTELY"}, "rrule"),
        ({"timezone": "Europe/Gotham"}, "timezone"),
        ({"window_minutes": 2}, "window_minutes"),
        ({"rrule": "FREQ=HOURLY", "window_minutes": 120}, "window_minutes"),
        ({"rrule": "", "at": "2020-01-01T00:00:00Z"}, "at"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_schedules_get_a_problem_naming_the_field(frozen, case, contact, as_staff, change, field):
    response = schedule(as_staff(contact), case, **change)
    assert response.status_code == 400, response.content
    assert field in {e["field"] for e in response.json()["errors"]}
    assert not CheckinSchedule.objects.exists()


def test_the_defector_sees_and_answers_an_open_checkin(frozen, case, contact, as_staff, app):
    checkin = open_one(frozen, as_staff(contact), case)
    listed = app.get("/api/v1/checkins/open").json()
    assert [c["id"] for c in listed] == [checkin.pk]
    assert PushOutbox.objects.filter(kind="checkin").count() == 1
    response = app.post(f"/api/v1/checkins/{checkin.pk}/respond", {"status": "ok"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "answered"
    assert app.get("/api/v1/checkins/open").json() == []
    assert app.post(f"/api/v1/checkins/{checkin.pk}/respond", {"status": "ok"}, format="json").status_code == 409
    process_answers()
    assert not Alert.objects.exists()


@pytest.mark.parametrize(
    ("answer", "kind", "severity"), [("need_contact", "need_contact", "normal"), ("danger", "danger", "critical")]
)
def test_need_contact_and_danger_raise_alerts(frozen, case, contact, as_staff, app, answer, kind, severity):
    checkin = open_one(frozen, as_staff(contact), case)
    app.post(f"/api/v1/checkins/{checkin.pk}/respond", {"status": answer}, format="json")
    alert = Alert.objects.get()
    assert (alert.kind, alert.severity_name) == (kind, severity)


def test_duress_pin_looks_like_ok_and_raises_critical_alert(frozen, case, contact, as_staff, app):
    assert app.post("/api/v1/me/pin", {"pin": "1234"}, format="json").status_code == 204
    assert app.post("/api/v1/me/duress-pin", {"pin": "9999"}, format="json").status_code == 204
    staff = as_staff(contact)
    first = open_one(frozen, staff, case)
    with CaptureQueriesContext(connection) as normal_queries:
        normal = app.post(f"/api/v1/checkins/{first.pk}/respond", {"status": "ok", "pin": "1234"}, format="json")
    second = Checkin.objects.create(
        schedule=first.schedule,
        case=case,
        due_at=NOW + dt.timedelta(hours=1),
        closes_at=NOW + dt.timedelta(hours=2),
        grace_until=NOW + dt.timedelta(hours=3),
    )
    with CaptureQueriesContext(connection) as duress_queries:
        duress = app.post(f"/api/v1/checkins/{second.pk}/respond", {"status": "ok", "pin": "9999"}, format="json")
    # The same answer, byte for byte but for the ids, and the same headers.
    assert normal.status_code == duress.status_code == 200
    assert {k: v for k, v in normal.json().items() if k != "id"} == {
        k: v for k, v in duress.json().items() if k != "id"
    }

    # The same headers; the lengths may differ only by the ids' digits (9 and 10, say), and
    # every response has its own request id (random, of one length).
    def headers(response):
        found = dict(response.headers)
        found["Content-Length"] = str(int(found["Content-Length"]) - len(str(response.json()["id"])))
        found["X-Request-ID"] = len(found["X-Request-ID"])
        return found

    assert headers(normal) == headers(duress)
    # The same work on the way: the same statements against the database (ids and
    # savepoint names aside).
    shape = lambda queries: [re.sub(r"\d+", "N", re.sub(r"'[^']*'", "?", q["sql"])) for q in queries.captured_queries]  # noqa: E731
    assert shape(normal_queries) == shape(duress_queries)
    sealed = [len(bytes(a.sealed_assessment)) for a in CheckinAnswer.objects.order_by("pk")]
    assert sealed[0] == sealed[1]
    assert not Alert.objects.exists()
    process_answers()
    alert = Alert.objects.get()
    assert (alert.kind, alert.severity_name) == ("duress", "critical")
    # Nothing of it reaches the defector: no alert, no push to the app, no message.
    assert app.get("/api/v1/alerts").status_code == 403
    assert not PushOutbox.objects.filter(device__user=case.defector.user, kind="alert").exists()
    conversation_id = app.get("/api/v1/conversations").json()[0]["id"]
    assert app.get(f"/api/v1/conversations/{conversation_id}/messages").json()["results"] == []


def test_wrong_pins_are_counted_and_locked_out(frozen, case, contact, as_staff, app, settings):
    app.post("/api/v1/me/pin", {"pin": "1234"}, format="json")
    checkin = open_one(frozen, as_staff(contact), case)
    for _ in range(settings.LIVLINA_PIN_MAX_FAILURES):
        wrong = app.post(f"/api/v1/checkins/{checkin.pk}/respond", {"status": "ok", "pin": "0000"}, format="json")
        assert wrong.status_code == 400 and wrong.json()["type"] == "urn:livlina:problem:pin-invalid"
    locked = app.post(f"/api/v1/checkins/{checkin.pk}/respond", {"status": "ok", "pin": "1234"}, format="json")
    assert locked.status_code == 429
    Checkin.objects.get(pk=checkin.pk, status="open")


def test_duress_pin_must_differ_from_the_app_pin(frozen, app):
    app.post("/api/v1/me/pin", {"pin": "1234"}, format="json")
    response = app.post("/api/v1/me/duress-pin", {"pin": "1234"}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "pin"
    assert app.post("/api/v1/me/duress-pin", {"pin": "12a4"}, format="json").status_code == 400


@pytest.mark.real_password_hasher
def test_pins_are_stored_with_a_slow_hash(frozen, case, app):
    from backend.checkins.models import DefectorPins

    app.post("/api/v1/me/duress-pin", {"pin": "9999"}, format="json")
    stored = DefectorPins.objects.get().duress_pin_hash
    assert stored.startswith("pbkdf2_sha256$") and int(stored.split("$")[1]) >= 1_000_000
    assert "9999" not in stored


def test_a_missed_checkin_is_marked_once_and_escalates(frozen, case, contact, as_staff, app):
    checkin = open_one(frozen, as_staff(contact), case)
    frozen.shift(dt.timedelta(minutes=60 + 14))
    assert mark_missed() == 0
    frozen.shift(dt.timedelta(minutes=1))
    assert mark_missed() == 1
    assert mark_missed() == 0
    run_checkin_sweeps()
    checkin.refresh_from_db()
    assert checkin.status == "missed"
    alert = Alert.objects.get()
    assert (alert.kind, alert.severity_name, alert.trigger_count) == ("missed_checkin", "high", 1)
    assert app.post(f"/api/v1/checkins/{checkin.pk}/respond", {"status": "ok"}, format="json").status_code == 409


def test_a_reminder_goes_out_before_closing_and_an_extension_moves_it(frozen, case, contact, as_staff, app):
    checkin = open_one(frozen, as_staff(contact), case)
    frozen.shift(dt.timedelta(minutes=49))
    run_checkin_sweeps()
    assert PushOutbox.objects.filter(kind="reminder").count() == 0
    extended = app.post(f"/api/v1/checkins/{checkin.pk}/extend", {"minutes": 30}, format="json")
    assert extended.status_code == 200
    frozen.shift(dt.timedelta(minutes=2))
    run_checkin_sweeps()
    assert PushOutbox.objects.filter(kind="reminder").count() == 0
    frozen.shift(dt.timedelta(minutes=30))
    run_checkin_sweeps()
    assert PushOutbox.objects.filter(kind="reminder").count() == 1
    assert app.post(f"/api/v1/checkins/{checkin.pk}/extend", {"minutes": 10}, format="json").status_code == 409
    assert app.post(f"/api/v1/checkins/{checkin.pk}/extend", {"minutes": 61}, format="json").status_code == 400


def test_a_paused_schedule_opens_nothing_until_resumed(frozen, case, contact, as_staff, app):
    staff = as_staff(contact)
    created = schedule(staff, case).json()
    assert staff.post(f"/api/v1/checkin-schedules/{created['id']}/pause").status_code == 200
    frozen.shift(dt.timedelta(days=2))
    run_checkin_sweeps()
    assert not Checkin.objects.exists()
    staff = as_staff(contact)  # two days later: a fresh login
    resumed = staff.post(f"/api/v1/checkin-schedules/{created['id']}/resume").json()
    assert resumed["paused"] is False
    assert resumed["next_due_at"] == "2026-11-25T20:00:00Z"  # the next 21:00 in Stockholm after now
    assert timezone.now() < dt.datetime(2026, 11, 25, 20, 0, tzinfo=dt.UTC)


def test_panic_raises_a_critical_alert_at_once(frozen, case, app):
    response = app.post("/api/v1/panic", {}, format="json")
    assert response.status_code == 202
    alert = Alert.objects.get()
    assert (alert.kind, alert.severity_name) == ("panic", "critical")
    assert app.post("/api/v1/panic", {"why": "x"}, format="json").status_code == 400


def test_staff_see_the_history_answered_late_missed(frozen, case, contact, other_contact, as_staff, app):
    staff = as_staff(contact)
    first = open_one(frozen, staff, case)
    frozen.shift(dt.timedelta(minutes=65))  # after closing, within grace
    app.post(f"/api/v1/checkins/{first.pk}/respond", {"status": "ok"}, format="json")
    history = as_staff(contact).get(f"/api/v1/cases/{case.pk}/checkins").json()
    assert [(h["status"], h["late"]) for h in history] == [("answered", True)]
    assert as_staff(other_contact).get(f"/api/v1/cases/{case.pk}/checkins").status_code == 404


def test_a_defector_cannot_answer_another_cases_checkin(
    frozen, case, contact, other_case, other_contact, as_staff, app
):
    mine = open_one(frozen, as_staff(contact), case)
    other_app = device_client(DefectorDeviceSessionFactory(case=other_case))
    respond = other_app.post(f"/api/v1/checkins/{mine.pk}/respond", {"status": "ok"}, format="json")
    extend = other_app.post(f"/api/v1/checkins/{mine.pk}/extend", {"minutes": 10}, format="json")
    # Someone else's check-in and one that does not exist look the same.
    unknown = other_app.post(f"/api/v1/checkins/{mine.pk + 1000}/extend", {"minutes": 10}, format="json")
    assert respond.status_code == extend.status_code == 404
    assert respond.json() == extend.json() == unknown.json()
    assert other_app.get("/api/v1/checkins/open").json() == []
    mine.refresh_from_db()
    assert (mine.status, mine.extended) == (Checkin.Status.OPEN, False)
    assert [c["id"] for c in app.get("/api/v1/checkins/open").json()] == [mine.pk]


def test_only_a_defector_reaches_check_ins_by_id_and_only_their_own(frozen, case, contact, as_staff, app):
    from backend.cases import policy
    from backend.checkins.services import extend, open_checkins_for, respond

    mine = open_one(frozen, as_staff(contact), case)
    defector = case.defector.user
    assert list(policy.own_cases(defector)) == [case]
    # Staff, even on the case, answer nothing in the defector's name.
    assert not policy.own_cases(contact.user).exists()
    assert not open_checkins_for(contact.user).exists()
    for act in (
        lambda: respond(user=contact.user, checkin_id=mine.pk, answer="ok", pin=None),
        lambda: extend(user=contact.user, checkin_id=mine.pk, minutes=5),
    ):
        with pytest.raises(Problem) as refused:
            act()
        assert refused.value.status_code == 404
    defector.is_active = False
    defector.save()
    assert not policy.own_cases(defector).exists()


def test_once_a_pin_is_set_an_answer_needs_it(frozen, case, contact, as_staff, app):
    app.post("/api/v1/me/pin", {"pin": "1234"}, format="json")
    checkin = open_one(frozen, as_staff(contact), case)
    response = app.post(f"/api/v1/checkins/{checkin.pk}/respond", {"status": "ok"}, format="json")
    assert response.status_code == 400 and response.json()["type"] == "urn:livlina:problem:pin-required"
    assert (
        app.post(f"/api/v1/checkins/{checkin.pk}/respond", {"status": "ok", "pin": "1234"}, format="json").status_code
        == 200
    )


@pytest.mark.parametrize("dtstart", ["1900-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:00:00Z"])
def test_a_far_away_start_is_refused_not_a_stall_or_a_500(frozen, case, contact, as_staff, dtstart):
    response = schedule(as_staff(contact), case, rrule="FREQ=MINUTELY;INTERVAL=15", dtstart=dtstart, window_minutes=10)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "dtstart"


def test_a_shredded_cases_answer_does_not_hold_up_another_cases_duress(
    frozen, case, contact, other_case, other_contact, as_staff, app
):
    from backend.vault.services import shred_case_key

    first = open_one(frozen, as_staff(contact), case)
    app.post(f"/api/v1/checkins/{first.pk}/respond", {"status": "ok"}, format="json")
    shred_case_key(case=case, actor=contact.user)
    other_app = device_client(DefectorDeviceSessionFactory(case=other_case))
    other_app.post("/api/v1/me/pin", {"pin": "1111"}, format="json")
    other_app.post("/api/v1/me/duress-pin", {"pin": "2222"}, format="json")
    other_schedule = schedule(
        as_staff(other_contact), other_case, rrule="", at=(timezone.now() + dt.timedelta(minutes=5)).isoformat()
    )
    assert other_schedule.status_code == 201
    frozen.shift(dt.timedelta(minutes=5))
    open_due_checkins()
    theirs = Checkin.objects.get(case=other_case)
    other_app.post(f"/api/v1/checkins/{theirs.pk}/respond", {"status": "ok", "pin": "2222"}, format="json")
    run_checkin_sweeps()
    assert Alert.objects.get(kind="duress").case_id == other_case.pk
    assert not CheckinAnswer.objects.filter(processed_at__isnull=True).exists()
