"""The worker's heartbeat: a row per worker process, written by its ``heartbeat`` job and
read by ``/readyz`` and ``check_worker_heartbeat``."""

from __future__ import annotations

import datetime as dt
import os
import socket

from django.conf import settings
from django.utils import timezone

from backend.operations.models import WorkerHeartbeat

FORGET_AFTER = dt.timedelta(days=1)


def this_host() -> str:
    return socket.gethostname()


def this_worker() -> str:
    return f"{this_host()}:{os.getpid()}"


class Heartbeat:
    """A worker's heartbeat job. Returns nothing, so the loop never takes a beat for work
    found and beats again at once."""

    def __init__(self) -> None:
        self.started_at = timezone.now()

    def __call__(self) -> None:
        now = timezone.now()
        WorkerHeartbeat.objects.update_or_create(
            worker=this_worker(), defaults={"host": this_host(), "beat_at": now, "started_at": self.started_at}
        )
        WorkerHeartbeat.objects.filter(beat_at__lt=now - FORGET_AFTER).delete()


def stale_after() -> dt.timedelta:
    return dt.timedelta(seconds=settings.LIVLINA_WORKER_HEARTBEAT_STALE_SECONDS)


def newest_beat(*, host: str | None = None) -> dt.datetime | None:
    beats = WorkerHeartbeat.objects.all()
    if host is not None:
        beats = beats.filter(host=host)
    newest = beats.order_by("-beat_at").values_list("beat_at", flat=True).first()
    return newest
