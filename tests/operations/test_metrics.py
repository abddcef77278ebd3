"""Each metric moves when what it counts happens, and /metrics is for the monitoring only."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import time_machine
from django.utils import timezone
from prometheus_client import REGISTRY

from backend import metrics
from backend.checkins.sweeps import mark_missed, open_due_checkins
from backend.crisis.engine import run_escalations
from backend.crisis.services import raise_alert
from backend.messaging.models import Conversation
from backend.push.services import drain_outbox, enqueue_push
from backend.realtime import layer_health, publish_now
from backend.worker.loop import PeriodicJob, Worker
from tests.checkins.test_missed_checkins import overdue_checkins
from tests.checkins.test_opening_checkins import due_schedules
from tests.conftest import device_client
from tests.factories import DeviceFactory
from tests.messaging.socket_clients import device_socket


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scrape(client) -> dict[str, float]:
    """The /metrics text as {series: value}, e.g. {'livlina_push_outbox_pending': 1.0}."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    values = {}
    for line in response.content.decode().splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            values[series] = float(value)
    return values


def test_a_stored_message_moves_the_message_counter_and_the_send_latency(
    case, defector_device, django_capture_on_commit_callbacks
):
    stored, sends = sample("livlina_messages_stored_total"), sample("livlina_send_seconds_count")
    conversation = Conversation.objects.get(case=case)
    body = {"client_id": str(uuid.uuid4()), "body": "hej"}
    app = device_client(defector_device)
    with django_capture_on_commit_callbacks(execute=True):  # counted when the message commits
        assert app.post(f"/api/v1/conversations/{conversation.pk}/messages", body, format="json").status_code == 201
        # The retry stores nothing, but it is a send that took time.
        assert app.post(f"/api/v1/conversations/{conversation.pk}/messages", body, format="json").status_code == 200
    assert sample("livlina_messages_stored_total") == stored + 1
    assert sample("livlina_send_seconds_count") == sends + 2


@pytest.mark.django_db(transaction=True)
async def test_an_open_socket_counts_as_live_until_it_closes(defector_device):
    before = sample("livlina_live_sockets")
    socket = device_socket(defector_device.access_token)
    assert (await socket.connect())[0]
    assert sample("livlina_live_sockets") == before + 1
    await socket.disconnect()
    assert sample("livlina_live_sockets") == before


def test_frames_published_and_frames_the_layer_refused_are_counted(settings, db):
    published, failed = sample("livlina_frames_published_total"), sample("livlina_frames_failed_total")
    publish_now("user.1", {"type": "probe"})
    assert sample("livlina_frames_published_total") == published + 1
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:9/0"]},  # nothing listens on port 9
        }
    }
    try:
        publish_now("user.1", {"type": "probe"})
    finally:
        layer_health.failing = False
    assert sample("livlina_frames_failed_total") == failed + 1
    assert sample("livlina_frames_published_total") == published + 1


def test_unresolved_alerts_are_counted_by_severity_at_scrape_time(case, client):
    series = 'livlina_alerts_unresolved{severity="critical",state="open"}'
    assert scrape(client)[series] == 0
    raise_alert(case=case, kind="panic", severity="critical")
    assert scrape(client)[series] == 1
    assert scrape(client)['livlina_alerts_unresolved{severity="normal",state="open"}'] == 0


def test_a_step_run_late_shows_its_lag_and_a_waiting_one_its_age(
    case, contact, client, django_capture_on_commit_callbacks
):
    DeviceFactory(user=contact.user, push_token="staff-token")
    count, total = (
        sample("livlina_escalation_step_lag_seconds_count"),
        sample("livlina_escalation_step_lag_seconds_sum"),
    )
    raise_alert(case=case, kind="panic", severity="critical")
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=40), tick=False):
        assert scrape(client)["livlina_escalation_overdue_seconds"] == pytest.approx(40, abs=1)
        with django_capture_on_commit_callbacks(execute=True):
            assert run_escalations() == 1
        assert scrape(client)["livlina_escalation_overdue_seconds"] == 0
    assert sample("livlina_escalation_step_lag_seconds_count") == count + 1
    assert sample("livlina_escalation_step_lag_seconds_sum") - total == pytest.approx(40, abs=1)


def test_the_push_outbox_depth_its_oldest_row_and_the_outcomes(contact, client):
    DeviceFactory(user=contact.user, push_token="staff-token")
    sent = sample("livlina_push_outcomes_total", kind="message", outcome="sent")
    enqueue_push(user_ids=[contact.user.pk], kind="message")
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=90), tick=False):
        values = scrape(client)
        assert values["livlina_push_outbox_pending"] == 1
        assert values["livlina_push_outbox_oldest_pending_seconds"] == pytest.approx(90, abs=1)
        assert drain_outbox() == 1
        values = scrape(client)
    assert values["livlina_push_outbox_pending"] == 0
    assert values["livlina_push_outbox_oldest_pending_seconds"] == 0
    assert sample("livlina_push_outcomes_total", kind="message", outcome="sent") == sent + 1


def test_the_check_in_sweeps_report_how_late_they_acted(programme, contact, client, django_capture_on_commit_callbacks):
    opened = sample("livlina_checkin_sweep_lag_seconds_count", sweep="open")
    missed = sample("livlina_checkin_sweep_lag_seconds_count", sweep="missed")
    missed_lag = sample("livlina_checkin_sweep_lag_seconds_sum", sweep="missed")
    due_schedules(programme, contact, 2, prefix="lag")
    overdue_checkins(programme, contact, 1, prefix="late")  # grace over 5 minutes ago
    values = scrape(client)
    assert values['livlina_checkin_sweep_overdue_seconds{sweep="missed"}'] == pytest.approx(300, abs=5)
    assert values['livlina_checkin_sweep_overdue_seconds{sweep="open"}'] > 0
    with django_capture_on_commit_callbacks(execute=True):
        assert open_due_checkins() == 2
        assert mark_missed() == 1
    assert sample("livlina_checkin_sweep_lag_seconds_count", sweep="open") == opened + 2
    assert sample("livlina_checkin_sweep_lag_seconds_count", sweep="missed") == missed + 1
    assert sample("livlina_checkin_sweep_lag_seconds_sum", sweep="missed") - missed_lag == pytest.approx(300, abs=5)
    values = scrape(client)
    assert values['livlina_checkin_sweep_overdue_seconds{sweep="missed"}'] == 0
    assert values['livlina_checkin_sweep_overdue_seconds{sweep="open"}'] == 0


def test_worker_jobs_report_their_durations_and_failures(db):
    def broken() -> int:
        raise RuntimeError("boom")

    worker = Worker([PeriodicJob("metrics-probe", 1.0, lambda: 0), PeriodicJob("metrics-broken", 1.0, broken)])
    runs = sample("livlina_worker_job_seconds_count", job="metrics-probe")
    failures = sample("livlina_worker_job_failures_total", job="metrics-broken")
    worker.run_due(now=0.0)
    assert sample("livlina_worker_job_seconds_count", job="metrics-probe") == runs + 1
    assert sample("livlina_worker_job_failures_total", job="metrics-broken") == failures + 1


def test_the_heartbeat_age_is_scraped(db, client):
    from backend.operations.heartbeat import Heartbeat

    assert scrape(client)["livlina_worker_heartbeat_age_seconds"] == -1
    Heartbeat()()
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=12), tick=False):
        assert scrape(client)["livlina_worker_heartbeat_age_seconds"] == pytest.approx(12, abs=1)


def test_metrics_need_the_token_when_one_is_set(settings, db, client):
    settings.LIVLINA_METRICS_TOKEN = "scrape-secret"
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret").status_code == 200


def test_metrics_are_off_in_production_without_a_token(settings, db, client):
    settings.LIVLINA_METRICS_TOKEN = ""
    settings.PRODUCTION = True
    assert client.get("/metrics").status_code == 404


def test_instruments_carry_no_identifying_labels():
    for collector in (metrics.PUSH_OUTCOMES, metrics.CHECKIN_SWEEP_LAG_SECONDS, metrics.WORKER_JOB_SECONDS):
        assert set(collector._labelnames) <= {"kind", "outcome", "sweep", "job"}


def test_a_worker_serves_its_metrics_on_its_own_port(db):
    import httpx

    from backend.operations.exposition import serve_worker_metrics
    from tests.operations.throwaway_services import free_port

    port = free_port()
    serve_worker_metrics(address="127.0.0.1", port=port)
    metrics.WORKER_JOB_SECONDS.labels(job="port-probe").observe(0.01)
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert 'livlina_worker_job_seconds_count{job="port-probe"} 1.0' in text


MULTIPROCESS_WRITER = """
import django
django.setup()
from backend import metrics
metrics.MESSAGES_STORED.inc({n})
metrics.LIVE_SOCKETS.inc()
"""

MULTIPROCESS_SCRAPE = """
import django
django.setup()
from django.test import Client
print(Client().get("/metrics").content.decode())
"""


def test_with_a_multiprocess_directory_one_scrape_adds_up_every_process(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        PROMETHEUS_MULTIPROC_DIR=str(shared),
        PYTHONPATH=str(repo),
        DJANGO_SETTINGS_MODULE="backend.settings",
        LIVLINA_DATA_DIR=str(tmp_path / "data"),
    )
    for n in (2, 3):
        subprocess.run([sys.executable, "-c", MULTIPROCESS_WRITER.format(n=n)], env=env, cwd=repo, check=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], env=env, cwd=repo, check=True)
    scraped = subprocess.run(
        [sys.executable, "-c", MULTIPROCESS_SCRAPE], env=env, cwd=repo, check=True, capture_output=True, text=True
    ).stdout
    assert "livlina_messages_stored_total 5.0" in scraped
    # The writers have exited: their live sockets no longer count.
    assert "livlina_live_sockets 0.0" in scraped
