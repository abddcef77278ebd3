"""The worker paused for ten minutes (a stalled host, a VM migrated, a process stopped by
mistake): when it runs again, everything that fell due meanwhile is processed once, in
the order it fell due.

The pause is simulated, not waited out: the real ``run_worker`` process is stopped with
SIGSTOP, the test then creates, through the services and with the clock set back
(``time_machine``), exactly what ten minutes of normal use would have left due (panic
alerts, check-ins coming due and running past their window, defector messages waiting
for a push and for an answer), and SIGCONT wakes the worker. The worker reads only the
database and the real clock, so to it the ten minutes did pass; a suite cannot spend ten
minutes of wall-clock time on one test."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from backend.accounts.models import Device
from backend.administration.settings_services import set_alert_limits, set_working_hours
from backend.cases.models import Case
from backend.checkins.models import Checkin, CheckinSchedule
from backend.checkins.services import create_schedule
from backend.crisis.models import Alert, AlertEvent
from backend.crisis.services import panic
from backend.messaging.models import Conversation
from backend.messaging.services import send_message
from backend.operations.models import WorkerHeartbeat
from backend.push.models import PushAttempt, PushKind, PushOutbox
from tests.factories import CaseFactory, DeviceFactory, Staff
from tests.fault.server_processes import wait_for

pytestmark = pytest.mark.slow

PAUSE = dt.timedelta(minutes=10)
CASES = 5
# The cases' moments within the pause, in two-minute slots: not in the order the cases
# were opened, so an order that merely follows the cases' ids fails.
SLOTS = [2, 0, 4, 1, 3]


@dataclass(frozen=True)
class Pause:
    """Ten minutes that end about now, when the worker wakes."""

    resumed_at: dt.datetime

    @property
    def paused_at(self) -> dt.datetime:
        return self.resumed_at - PAUSE

    def moment(self, slot: int, seconds: int) -> dt.datetime:
        return self.paused_at + dt.timedelta(minutes=2 * slot, seconds=seconds)


def assert_in_order(items: Sequence[tuple[dt.datetime, object]], what: str) -> None:
    """``items`` as (when it fell due, how it was processed: a time, or an id the worker
    assigns as it goes) must be processed in due order; ties are one batch."""
    processed = [done for _, done in sorted(items, key=lambda item: item[0])]
    assert processed == sorted(processed), f"{what} not processed in the order they fell due"


def backends_in_a_transaction() -> int:
    """Connections to this test database, other than the test's own, inside a transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
        )
        (count,) = cursor.fetchone()
    return int(count)


def stop_between_transactions(worker: subprocess.Popen[bytes]) -> None:
    """SIGSTOP the worker at a moment it has no transaction open. Stopped inside one it
    would keep its row locks for the whole pause (the audit log's head, which every
    audited write waits for): a different fault from the one tested here."""
    deadline = time.monotonic() + 30
    while True:
        os.kill(worker.pid, signal.SIGSTOP)
        time.sleep(0.1)  # a statement it sent before it stopped finishes
        if backends_in_a_transaction() == 0:
            return
        os.kill(worker.pid, signal.SIGCONT)
        assert time.monotonic() < deadline, "the worker never left its transactions"
        time.sleep(0.05)


def one_off_checkin(case: Case, contact: Staff, at: dt.datetime, window_minutes: int) -> CheckinSchedule:
    return create_schedule(
        case=case,
        actor=contact.user,
        rrule="",
        at=at,
        dtstart=None,
        zone="Europe/Stockholm",
        window_minutes=window_minutes,
        grace_minutes=0,
        reminder_minutes=0,
    )


def leave_ten_minutes_of_work(cases: list[Case], contact: Staff, pause: Pause) -> CheckinSchedule:
    """What ten minutes of use leave due, each made at its moment. In each case's slot: a
    panic alert; a check-in due a quarter of a minute in, with a window of a minute (missed
    well before the worker wakes); a message from the defector half a minute in, to be
    pushed to the contact person's phone, unanswered a minute later. Returns one more
    check-in's schedule, due half a minute before the worker wakes (its window still open)."""
    with time_machine.travel(pause.paused_at, tick=False):
        for case, slot in zip(cases, SLOTS, strict=True):
            one_off_checkin(case, contact, pause.moment(slot, 15), window_minutes=1)
        still_open = one_off_checkin(cases[0], contact, pause.resumed_at - dt.timedelta(seconds=30), window_minutes=30)
    events = sorted(
        [(pause.moment(slot, 0), "panic", case) for case, slot in zip(cases, SLOTS, strict=True)]
        + [(pause.moment(slot, 30), "message", case) for case, slot in zip(cases, SLOTS, strict=True)]
    )
    for at, what, case in events:
        with time_machine.travel(at, tick=False):
            if what == "panic":
                panic(user=case.defector.user)
            else:
                send_message(
                    sender=case.defector.user,
                    sender_device=Device.objects.get(user=case.defector.user),
                    conversation=Conversation.objects.get(case=case),
                    client_id=uuid.uuid4(),
                    body="hej",
                )
    return still_open


def caught_up() -> bool:
    return (
        Checkin.objects.filter(status=Checkin.Status.MISSED).count() == CASES
        and Alert.objects.count() == 3 * CASES  # panic, missed check-in, unanswered
        and AlertEvent.objects.filter(kind="notified").values("alert").distinct().count() == 3 * CASES
        and not PushOutbox.objects.exclude(state=PushOutbox.State.SENT).exists()
    )


def assert_checkins_opened_and_missed_once_in_order(still_open: CheckinSchedule) -> None:
    checkins = list(Checkin.objects.order_by("pk"))
    assert len(checkins) == CASES + 1
    assert [c.schedule_id for c in checkins if c.status == Checkin.Status.OPEN] == [still_open.pk]
    assert_in_order([(c.due_at, c.pk) for c in checkins], "check-ins")
    alerts = {a.case_id: a for a in Alert.objects.filter(kind=Alert.Kind.MISSED_CHECKIN)}
    missed = [c for c in checkins if c.status == Checkin.Status.MISSED]
    assert set(alerts) == {c.case_id for c in missed} and len(missed) == CASES
    assert_in_order([(c.grace_until, alerts[c.case_id].created_at) for c in missed], "missed check-ins")


def assert_alerts_raised_and_escalated_once_in_order(cases: list[Case], pause: Pause) -> None:
    unanswered = {a.case_id: a for a in Alert.objects.filter(kind=Alert.Kind.UNANSWERED)}
    assert set(unanswered) == {case.pk for case in cases}
    assert_in_order(
        [(pause.moment(slot, 90), unanswered[case.pk].created_at) for case, slot in zip(cases, SLOTS, strict=True)],
        "unanswered messages",
    )
    # Every alert's first step ran once (the next waits five minutes), none raised twice.
    notified = AlertEvent.objects.filter(kind="notified")
    assert sorted(notified.values_list("alert_id", flat=True)) == sorted(Alert.objects.values_list("pk", flat=True))
    assert not AlertEvent.objects.filter(kind="retriggered").exists()
    first_steps = {event.alert_id: event.pk for event in notified}
    panics = Alert.objects.filter(kind=Alert.Kind.PANIC)
    assert_in_order([(a.created_at, first_steps[a.pk]) for a in panics], "panic alerts")


def assert_pushes_sent_once_in_order() -> None:
    rows = PushOutbox.objects.all()
    assert rows.exists() and not rows.exclude(state=PushOutbox.State.SENT).exists()
    assert sorted(PushAttempt.objects.values_list("outbox_id", flat=True)) == sorted(rows.values_list("pk", flat=True))
    messages = PushAttempt.objects.filter(outbox__kind=PushKind.MESSAGE).select_related("outbox")
    assert messages.count() == CASES
    assert_in_order([(a.outbox.created_at, a.pk) for a in messages], "message pushes")


def test_what_fell_due_while_the_worker_was_stopped_is_processed_once_in_order(
    server_processes, programme, contact, supervisor
):
    DeviceFactory(user=contact.user)  # the contact person's phone: alerts and messages are pushed to it
    cases = [CaseFactory(programme=programme, alias=f"Case {n}", primary_contact=contact.user) for n in range(CASES)]
    for case in cases:
        DeviceFactory(user=case.defector.user)
    # An unanswered message alerts a minute after it was sent (the contact person is at
    # work every day, all day, so the programme's limit applies).
    set_alert_limits(programme=programme, actor=supervisor.user, ack_timeout_minutes=30, unanswered_limit_minutes=1)
    always = {"weekdays": [1, 2, 3, 4, 5, 6, 7], "start": dt.time(0, 0), "end": dt.time(23, 59, 59, 999999)}
    set_working_hours(
        programme=programme, actor=supervisor.user, user=contact.user, timezone="UTC", absences=[], **always
    )
    worker = server_processes.worker()
    wait_for(lambda: WorkerHeartbeat.objects.filter(worker__endswith=f":{worker.pid}").exists(), "the worker to run")
    stop_between_transactions(worker)

    pause = Pause(resumed_at=timezone.now())
    still_open = leave_ten_minutes_of_work(cases, contact, pause)
    time.sleep(1.5)  # three of the worker's beats: a worker that was not stopped would act now
    assert not Checkin.objects.exists()
    assert not AlertEvent.objects.filter(kind="notified").exists()
    assert not PushAttempt.objects.exists()

    os.kill(worker.pid, signal.SIGCONT)
    wait_for(caught_up, "the worker to catch up")
    time.sleep(1.5)  # a second processing of anything would show by now

    assert_checkins_opened_and_missed_once_in_order(still_open)
    assert_alerts_raised_and_escalated_once_in_order(cases, pause)
    assert_pushes_sent_once_in_order()
