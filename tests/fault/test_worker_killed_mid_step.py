"""A worker killed with SIGKILL in the middle of an escalation step leaves a claim that
expires; another worker (a real process) finishes the step exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from backend.crisis.models import Alert
from backend.crisis.services import raise_alert
from backend.push.models import PushOutbox
from tests.conftest import requires_postgres
from tests.factories import DeviceFactory

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True), pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def start_worker(*command: str) -> subprocess.Popen[str]:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "LIVLINA_DATA_DIR": str(settings.DATA_DIR),
        "LIVLINA_ESCALATION_LEASE_SECONDS": "2",
    }
    return subprocess.Popen(
        [sys.executable, *(command or ("manage.py", "run_worker"))],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.1)


def test_a_killed_workers_claim_expires_and_another_worker_finishes_the_step(case, contact):
    DeviceFactory(user=contact.user)
    alert = raise_alert(case=case, kind="panic", severity="critical")
    # Holds its claimed step for a minute: long enough to be killed in the middle of it.
    doomed = start_worker("-m", "tests.fault.paused_worker", "60")
    with doomed:  # and its output pipe is closed
        try:
            wait_for(lambda: Alert.objects.get(pk=alert.pk).lease_owner != "")
            claimed_by = Alert.objects.get(pk=alert.pk).lease_owner
            os.kill(doomed.pid, signal.SIGKILL)
            doomed.wait(timeout=10)
        finally:
            if doomed.poll() is None:
                doomed.kill()
    assert not PushOutbox.objects.filter(alert=alert).exists()  # it died before notifying anyone

    rescuer = start_worker()
    with rescuer:
        try:
            wait_for(lambda: Alert.objects.get(pk=alert.pk).events.filter(kind="notified").exists())
            time.sleep(1.0)  # give a (wrong) second notification the chance to appear
        finally:
            rescuer.send_signal(signal.SIGTERM)
            try:
                rescuer.wait(timeout=15)  # a worker that ignores SIGTERM fails the test…
            finally:
                if rescuer.poll() is None:
                    rescuer.kill()  # …and is not left running
    alert.refresh_from_db()
    assert alert.events.filter(kind="notified").count() == 1
    assert PushOutbox.objects.filter(alert=alert).count() == 1
    assert alert.lease_owner == "" and alert.lease_owner != claimed_by
