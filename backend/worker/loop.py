"""The background worker: periodic jobs run by ``run_worker`` (or inside ``serve`` on the
embedded default). Each job claims its own rows (``SELECT … FOR UPDATE SKIP LOCKED`` or
a lease), so any number of workers may run at once."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import close_old_connections

from backend import metrics
from backend.audit.services import write_checkpoint
from backend.checkins import sweeps as checkins
from backend.crisis import duress_phrases
from backend.crisis.engine import run_escalations
from backend.messaging.unanswered import sweep_unanswered
from backend.operations.heartbeat import Heartbeat
from backend.push.services import drain_outbox

logger = logging.getLogger(__name__)


@dataclass
class PeriodicJob:
    name: str
    every_seconds: float
    run: Callable[[], object]
    next_run: float = field(default=0.0)


def until_drained(batch: Callable[..., int], *, limit: int, budget_seconds: float = 0.25) -> Callable[[], int]:
    """Run ``batch(limit=…)`` again while it comes back full, for up to ``budget_seconds``.
    Small batches commit (and release their locks) often, so a crowd of due rows turns
    into alerts and pushes a batch at a time instead of after one long transaction."""

    def run() -> int:
        started, total = time.monotonic(), 0
        while True:
            done = batch(limit=limit)
            total += done
            if done < limit or time.monotonic() - started > budget_seconds:
                return total

    return run


def escalate(*, limit: int) -> int:
    """The ``escalations`` job: defector messages nobody answered in time raise their
    alerts (messaging), then the engine re-opens overdue acknowledgements and runs up to
    ``limit`` due steps (crisis), so an alert raised here escalates in the same pass.
    Returns how many alerts it claimed."""
    sweep_unanswered()
    return run_escalations(limit=limit)


def default_jobs() -> list[PeriodicJob]:
    return [
        # Separate jobs, so a failure in one sweep never stops the others; the alerting
        # paths first, so a crowd of check-ins never holds up an escalation for long.
        PeriodicJob("escalations", 0.5, until_drained(escalate, limit=50)),
        PeriodicJob("push-outbox", 0.5, until_drained(drain_outbox, limit=100)),
        PeriodicJob("checkins-duress", 0.5, until_drained(checkins.process_answers, limit=100)),
        PeriodicJob("duress-phrases", 0.5, until_drained(duress_phrases.process_checks, limit=200)),
        PeriodicJob("checkins-missed", 0.5, until_drained(checkins.mark_missed, limit=200)),
        PeriodicJob("checkins-open", 0.5, until_drained(checkins.open_due_checkins, limit=200)),
        PeriodicJob("checkins-reminders", 1.0, until_drained(checkins.send_reminders, limit=200)),
        PeriodicJob("audit-checkpoint", 60.0, write_checkpoint),
        # /readyz reads it; returns nothing, so it never counts as work found.
        PeriodicJob("heartbeat", 5.0, Heartbeat()),
    ]


class Worker:
    def __init__(self, jobs: list[PeriodicJob] | None = None, *, tick_seconds: float = 0.5) -> None:
        self.jobs = jobs if jobs is not None else default_jobs()
        self.tick_seconds = tick_seconds
        self.stopping = threading.Event()

    def run_due(self, now: float | None = None) -> list[str]:
        """Run every job whose time has come; returns the names of those that found work.
        A job that found work is due again at once (there may be more); a failing job is
        logged and retried after its interval, never allowed to stop the others."""
        now = time.monotonic() if now is None else now
        busy = []
        for job in self.jobs:
            if job.next_run > now:
                continue
            close_old_connections()
            started = time.perf_counter()
            try:
                found_work = bool(job.run())
            except Exception:
                logger.exception("worker job %s failed; retrying in %.0fs", job.name, job.every_seconds)
                metrics.WORKER_JOB_FAILURES.labels(job=job.name).inc()
                found_work = False
            metrics.WORKER_JOB_SECONDS.labels(job=job.name).observe(time.perf_counter() - started)
            job.next_run = now if found_work else now + job.every_seconds
            if found_work:
                busy.append(job.name)
        return busy

    def run_forever(self) -> None:
        logger.info("worker started with jobs: %s", ", ".join(j.name for j in self.jobs))
        while not self.stopping.is_set():
            if not self.run_due():
                self.stopping.wait(self.tick_seconds)
        close_old_connections()

    def start_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="livlina-worker", daemon=True)
        thread.start()
        return thread
