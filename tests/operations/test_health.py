"""/healthz answers while the process runs; /readyz is ready only with the database up and
migrated, the cache and channel layer reachable and a worker beating, and otherwise a
problem+json 503 naming what is wrong. Services are stopped as private copies on free
ports, never the shared ones."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from django.utils import timezone

from backend.operations.heartbeat import Heartbeat
from backend.operations.models import WorkerHeartbeat
from tests.operations.throwaway_services import postgres_copy, redis_copy

REPO = Path(__file__).resolve().parents[2]


def readiness(client) -> tuple[int, dict]:
    response = client.get("/readyz")
    expected = "application/json" if response.status_code == 200 else "application/problem+json"
    assert response["Content-Type"] == expected
    return response.status_code, response.json()


@pytest.fixture
def beating(db):
    Heartbeat()()


def test_healthz_answers_without_touching_any_dependency(client, django_assert_num_queries, db):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {}}


def test_ready_with_everything_up(client, beating):
    status, body = readiness(client)
    assert status == 200
    assert body == {
        "status": "ok",
        "checks": {
            "database": "ok",
            "migrations": "ok",
            "cache": "ok",
            "channel_layer": "ok",
            "worker_heartbeat": "ok",
        },
    }


def test_not_ready_without_any_worker(client, db):
    status, body = readiness(client)
    assert status == 503
    assert body["type"] == "urn:livlina:problem:not-ready"
    assert body["errors"] == [{"field": "worker_heartbeat", "message": "Unavailable: no worker has ever beaten"}]
    assert body["checks"]["database"] == "ok"


def test_not_ready_once_the_newest_heartbeat_is_stale(client, beating, settings):
    settings.LIVLINA_WORKER_HEARTBEAT_STALE_SECONDS = 30
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=29), tick=False):
        assert readiness(client)[0] == 200
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=45), tick=False):
        status, body = readiness(client)
    assert status == 503
    assert [error["field"] for error in body["errors"]] == ["worker_heartbeat"]
    assert "45 s old" in body["checks"]["worker_heartbeat"]


def test_a_heartbeat_keeps_one_row_per_worker_and_forgets_long_gone_ones(db):
    WorkerHeartbeat.objects.create(
        worker="gone:1", host="gone", started_at=timezone.now(), beat_at=timezone.now() - dt.timedelta(days=2)
    )
    beat = Heartbeat()
    beat()
    beat()
    assert WorkerHeartbeat.objects.count() == 1


def test_not_ready_when_redis_stops(client, beating, settings):
    with redis_copy() as redis:
        settings.CHANNEL_LAYERS = {
            "default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer", "CONFIG": {"hosts": [redis.url]}}
        }
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis.url}}
        assert readiness(client)[0] == 200
        redis.stop()
        status, body = readiness(client)
    assert status == 503
    assert sorted(error["field"] for error in body["errors"]) == ["cache", "channel_layer"]
    assert body["checks"]["database"] == "ok"


PROBE = """
import json, django
django.setup()
from django.test import Client
response = Client().get("/readyz")
print(json.dumps({"status": response.status_code, "body": response.json()}))
"""


def probe_in_a_process(database_url: str, data_dir: Path) -> tuple[int, dict]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        DATABASE_URL=database_url,
        LIVLINA_DATA_DIR=str(data_dir),
        DJANGO_SETTINGS_MODULE="backend.settings",
        PYTHONPATH=str(REPO),
    )
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["status"], result["body"]


@pytest.mark.slow
def test_not_ready_on_an_unmigrated_database_and_on_a_stopped_one(tmp_path):
    with postgres_copy() as postgres:
        status, body = probe_in_a_process(postgres.url, tmp_path)
        assert status == 503
        assert body["checks"]["database"] == "ok"
        assert (
            body["checks"]["migrations"].startswith("Unavailable: ")
            and "migrations not applied" in body["checks"]["migrations"]
        )
        postgres.stop()
        status, body = probe_in_a_process(postgres.url, tmp_path)
    assert status == 503
    failing = {error["field"] for error in body["errors"]}
    assert {"database", "migrations"} <= failing
    assert body["checks"]["channel_layer"] == "ok"


def test_the_worker_liveness_command_reads_this_hosts_heartbeat(db):
    from django.core.management import call_command

    with pytest.raises(SystemExit) as missing:
        call_command("check_worker_heartbeat", "--this-host")
    assert missing.value.code == 1
    Heartbeat()()
    call_command("check_worker_heartbeat", "--this-host")  # fresh: returns
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=5), tick=False), pytest.raises(SystemExit):
        call_command("check_worker_heartbeat", "--this-host")
