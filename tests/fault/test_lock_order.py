"""Lock order between the worker's sweeps and other writers on PostgreSQL: a sweep locks
only its own rows (``of=self``), never the cases they join to, so a writer that holds the
audit log and then raises an alert for the same case does not deadlock with it."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import transaction

from backend.audit.services import record_event
from backend.checkins.models import Checkin
from backend.checkins.sweeps import mark_missed
from backend.crisis.models import Alert
from backend.crisis.services import raise_alert
from tests.checkins.test_missed_checkins import overdue_checkins
from tests.conftest import requires_postgres
from tests.threads import run_together

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]


def test_a_missed_checkin_sweep_does_not_deadlock_with_a_writer_holding_the_audit_log(programme, contact):
    (checkin,) = overdue_checkins(programme, contact, 1)
    case = checkin.case
    audit_held = threading.Event()

    def other_writer() -> None:
        # Like a batched send or the unanswered sweep: an audit entry, then an alert.
        with transaction.atomic():
            record_event(action="test.first")
            audit_held.set()
            time.sleep(0.5)  # let the sweep take its locks and wait for the audit log
            raise_alert(case=case, kind="keyword", severity="high")

    def sweeper() -> int:
        audit_held.wait()
        return mark_missed()

    assert run_together(other_writer, sweeper) == [None, 1]
    assert Checkin.objects.get(pk=checkin.pk).status == Checkin.Status.MISSED
    assert set(Alert.objects.filter(case=case).values_list("kind", flat=True)) == {"keyword", "missed_checkin"}
