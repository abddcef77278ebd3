#!/usr/bin/env python
"""Check-in sweep benchmark: missed check-in -> alert lag with 100,000 active schedules.

    .venv/bin/python bench/checkin_sweep_bench.py            # 100k schedules, 2,000 + 1,000 due; ~3.5 min
    .venv/bin/python bench/checkin_sweep_bench.py --burst 300  # a smaller "21:00" crowd
    .venv/bin/python bench/checkin_sweep_bench.py --no-redis   # in-memory channel layer

The issue: "The sweep that opens and closes check-ins must stay cheap as a programme
grows: seed 100,000 active schedules, run the worker, and print how long after a
check-in's deadline (plus grace) its alert is raised, p50/p99, and the worker's CPU per
minute. Target: p99 under 5 s on this machine."

What runs (all on this machine, loopback only):
- PostgreSQL database ``livlina_bench_checkins`` (dropped, created, ``manage.py migrate``)
  and Redis database 6 (flushed) for the pub/sub channel layer, as in production. The
  settings are Livlina's own plus a channel-layer prefix of our own (written to a temp
  dir, not the repo) so pub/sub frames never meet another benchmark's sockets.
- This process seeds with ``bulk_create`` (not ``open_case`` 100,000 times): one
  programme, one contact person per 20 cases (each with a phone and push token), and
  per case a defector user, defector, case, primary assignment, defector phone with a
  push token, and one daily schedule (``FREQ=DAILY`` in Europe/Stockholm). No case keys
  and no conversations: opening, missing and alerting never touch them.
- ``--schedules`` minus the due set are ordinary daily schedules whose next occurrence
  is 1-24 h away: they are there so the sweep runs over a table of that size.
- The due set (one check-in per case, so each case gets exactly one ``missed_checkin``
  alert): ``--spread`` schedules whose deadlines (due + 1 min window + 0 grace) fall
  evenly over ``--spread-seconds``, then ``--burst`` schedules sharing one deadline
  (everyone who picked "21:00"). The first of them are already due when the worker
  starts, so it also opens a backlog at boot.
- One real ``manage.py run_worker`` process (all its jobs: check-ins, escalations, push
  outbox with the log backend, audit checkpoints), DEBUG off as in production;
  ``--workers 2`` runs two, as the production units do (their CPU is summed).

Measured: lag = Alert.created_at - Checkin.grace_until for every due check-in (p50, p99,
max; spread and burst apart and together); the worker's CPU seconds per minute of wall
time from /proc/<pid>/stat (utime+stime / CLK_TCK), while the due set is processed and
while idle afterwards; the same for the worker's PostgreSQL backends (found by
application_name). Also: when each alert's transaction committed (a poller sees it), the
check-in opened lag (its push row's created_at - due_at), alert -> first contact push
handed to the sender, and how long an audit append from another process waits meanwhile.
Sanity checks with SELECT count(*). Exit status 0 only for PASS (p99 < 5 s, all checks ok).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import redis
from bench_common import (
    code_version,
    flush_redis,
    log,
    percentile,
    proc_cpu_ticks,
    recreate_database,
    setup_django,
)

ROOT = Path(__file__).resolve().parents[1]
DB_NAME = "livlina_bench_checkins"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_URL = f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}"
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
REDIS_URL = "redis://127.0.0.1:6379/6"
SETTINGS_MODULE = "livlina_bench_checkins_settings"
CLK_TCK = os.sysconf("SC_CLK_TCK")
CASES_PER_CONTACT = 20
WINDOW_MINUTES = 1
GRACE_MINUTES = 0
TARGET_P99 = 5.0

SETTINGS_SOURCE = '''"""Livlina's settings, unchanged but for a channel-layer prefix (bench only)."""
from backend.settings import *  # noqa: F403
from backend.settings import CHANNEL_LAYERS

if "redis" in CHANNEL_LAYERS["default"]["BACKEND"]:  # the in-memory layer takes no prefix
    CHANNEL_LAYERS["default"].setdefault("CONFIG", {})["prefix"] = "livlina-bench-checkins"
'''


def summary(values: list[float]) -> str:
    if not values:
        return "n=0"
    return (
        f"n={len(values)}  p50={percentile(values, 0.50):.3f}s  p99={percentile(values, 0.99):.3f}s  "
        f"max={max(values):.3f}s  min={min(values):.3f}s"
    )


# --- environment and database ---------------------------------------------------------


def bench_env(tmp: Path, *, app_name: str, redis_on: bool) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE") and not k.startswith("LIVLINA_")
    }
    env.update(
        DATABASE_URL=f"{DATABASE_URL}?application_name={app_name}",
        LIVLINA_DATA_DIR=str(tmp / "data"),
        LIVLINA_LOG_LEVEL="WARNING",
        LIVLINA_DEBUG="0",  # production runs with DEBUG off (no debug cursor, no query log)
        DJANGO_SETTINGS_MODULE=SETTINGS_MODULE,
        PYTHONPATH=os.pathsep.join([str(tmp), str(ROOT)]),
        PYTHONUNBUFFERED="1",
    )
    if redis_on:
        env["REDIS_URL"] = REDIS_URL
    return env


def redis_connections() -> int:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return int(client.info("stats")["total_connections_received"])
    finally:
        client.close()


# --- CPU accounting ----------------------------------------------------------------------


class CpuSampler:
    """Samples the worker's CPU and its PostgreSQL backends' CPU once a second.

    PostgreSQL backends are found by application_name; a backend that goes away (the
    worker reconnects every CONN_MAX_AGE seconds) keeps its last sample."""

    def __init__(self, worker_pids: list[int], app_name: str) -> None:
        self.worker_pids = worker_pids
        self.app_name = app_name
        self.samples: list[tuple[float, float, float]] = []  # (monotonic, worker s, pg s)
        self.pg_ticks: dict[int, int] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> CpuSampler:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)

    def _run(self) -> None:
        with psycopg.connect(PG_URL, autocommit=True, application_name="livlina-bench-sampler") as conn:
            while True:
                pids = [
                    r[0]
                    for r in conn.execute(
                        "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
                        (DB_NAME, self.app_name),
                    ).fetchall()
                ]
                for pid in pids:
                    ticks = proc_cpu_ticks(pid)
                    if ticks is not None:
                        self.pg_ticks[pid] = ticks
                ticks = [proc_cpu_ticks(pid) for pid in self.worker_pids]
                if None in ticks:
                    return
                worker = sum(t for t in ticks if t is not None)
                self.samples.append((time.monotonic(), worker / CLK_TCK, sum(self.pg_ticks.values()) / CLK_TCK))
                if self.stopping.wait(1.0):
                    return

    def between(self, start: float, end: float) -> tuple[float, float, float]:
        """(wall seconds, worker CPU s, PostgreSQL CPU s) between the samples nearest start and end."""
        inside = [s for s in self.samples if start - 0.5 <= s[0] <= end + 0.5]
        if len(inside) < 2:
            return 0.0, 0.0, 0.0
        a, b = inside[0], inside[-1]
        return b[0] - a[0], b[1] - a[1], b[2] - a[2]


class AlertWatcher:
    """Sees each alert when it becomes visible to other connections (its transaction has
    committed), by polling every 0.2 s. mark_missed raises a whole batch of alerts in one
    transaction, so Alert.created_at can be seconds earlier than the commit. One worker
    writes alerts here, so ids become visible in order and "id > last seen" misses none."""

    def __init__(self, every: float = 0.2) -> None:
        self.every = every
        self.seen: dict[int, float] = {}  # case_id -> epoch seconds first seen
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> AlertWatcher:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)

    def _run(self) -> None:
        last = 0
        with psycopg.connect(PG_URL, autocommit=True, application_name="livlina-bench-watcher") as conn:
            while not self.stopping.is_set():
                rows = conn.execute(
                    "SELECT id, case_id FROM crisis_alert WHERE id > %s ORDER BY id", (last,)
                ).fetchall()
                now = time.time()
                for alert_id, case_id in rows:
                    self.seen.setdefault(case_id, now)
                    last = max(last, alert_id)
                self.stopping.wait(self.every)


class AuditProbe:
    """Appends one audit entry every 0.5 s from this process, as any web request that
    audits (every staff read of case content does) would, and times it. The audit log
    is one hash chain: each append locks its head row until its transaction ends."""

    def __init__(self, every: float = 0.5) -> None:
        self.every = every
        self.durations: list[float] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> AuditProbe:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=30)

    def _run(self) -> None:
        from django.db import connection

        from backend.audit.services import record_event

        try:
            while not self.stopping.is_set():
                t = time.perf_counter()
                record_event(action="bench.audit_probe", target="bench")
                self.durations.append(time.perf_counter() - t)
                self.stopping.wait(self.every)
        finally:
            connection.close()


# --- seeding -------------------------------------------------------------------------------


def seed_population(n_cases: int, n_due: int) -> dict[str, Any]:
    """Everything but the due set's schedules, with bulk_create. Returns the ids needed later."""
    from django.utils import timezone

    from backend.accounts.models import Defector, Device, Programme, StaffRole, User
    from backend.cases.models import Case, CaseAssignment
    from backend.checkins.models import CheckinSchedule

    batch = 5000
    programme = Programme.objects.create(name="Bench programme (check-ins)")
    n_staff = math.ceil(n_cases / CASES_PER_CONTACT)
    staff = User.objects.bulk_create(
        [User(username=f"bench-contact-{i}", kind=User.Kind.STAFF, password="!") for i in range(n_staff)],
        batch_size=batch,
    )
    StaffRole.objects.bulk_create(
        [StaffRole(user=u, programme=programme, role=StaffRole.Role.CONTACT_PERSON) for u in staff], batch_size=batch
    )
    Device.objects.bulk_create(
        [
            Device(
                user=u,
                name="Staff phone",
                platform="android",
                signing_key="s" * 44,
                box_key="b" * 44,
                push_token=f"bench-staff-{u.pk}",
            )
            for u in staff
        ],
        batch_size=batch,
    )
    log(f"  {n_staff} contact persons with phones")
    users = User.objects.bulk_create(
        [User(username=f"bench-defector-{i}", kind=User.Kind.DEFECTOR, password="!") for i in range(n_cases)],
        batch_size=batch,
    )
    defectors = Defector.objects.bulk_create(
        [Defector(user=u, programme=programme, alias=f"Bench {i}") for i, u in enumerate(users)], batch_size=batch
    )
    cases = Case.objects.bulk_create([Case(programme=programme, defector=d) for d in defectors], batch_size=batch)
    CaseAssignment.objects.bulk_create(
        [
            CaseAssignment(case=c, staff=staff[i // CASES_PER_CONTACT], role=CaseAssignment.Role.PRIMARY)
            for i, c in enumerate(cases)
        ],
        batch_size=batch,
    )
    Device.objects.bulk_create(
        [
            Device(
                user=u,
                name="Phone",
                platform="android",
                signing_key="s" * 44,
                box_key="b" * 44,
                push_token=f"bench-defector-{u.pk}",
            )
            for u in users
        ],
        batch_size=batch,
    )
    log(f"  {n_cases} defectors, cases, assignments, phones")
    # Idle schedules: daily, next occurrence between 1 h and 24 h from now, whole seconds.
    now = timezone.now().replace(microsecond=0)
    rng = random.Random(1)
    idle = []
    for i, case in enumerate(cases[: n_cases - n_due]):
        first = now + dt.timedelta(seconds=rng.randrange(3600, 24 * 3600))
        idle.append(_schedule(case, staff[i // CASES_PER_CONTACT], first))
    CheckinSchedule.objects.bulk_create(idle, batch_size=batch)
    log(f"  {len(idle)} idle daily schedules (next occurrence 1-24 h away)")
    due_cases = cases[n_cases - n_due :]
    due_staff = [staff[(n_cases - n_due + i) // CASES_PER_CONTACT] for i in range(n_due)]
    return {"due_cases": due_cases, "due_staff": due_staff}


def _schedule(case: Any, staff: Any, first: dt.datetime) -> Any:
    from backend.checkins.models import CheckinSchedule

    # FREQ=DAILY from dtstart = the first occurrence: after opening, the sweep computes
    # tomorrow's occurrence with the real RRULE code (recurrence.next_occurrence).
    return CheckinSchedule(
        case=case,
        rrule="FREQ=DAILY",
        dtstart=first,
        timezone="Europe/Stockholm",
        window_minutes=WINDOW_MINUTES,
        grace_minutes=GRACE_MINUTES,
        reminder_minutes=0,
        next_due_at=first,
        created_by=staff,
    )


def seed_due(
    seeded: dict[str, Any], *, spread: int, spread_seconds: float, burst: int, lead: float, burst_gap: float
) -> dict[str, Any]:
    """The due set, placed relative to now: deadlines (grace_until) start ``lead`` s from now."""
    from django.utils import timezone

    from backend.checkins.models import CheckinSchedule

    anchor = timezone.now()
    closes_after = dt.timedelta(minutes=WINDOW_MINUTES + GRACE_MINUTES)
    rows = []
    first_deadline = anchor + dt.timedelta(seconds=lead)
    for i in range(spread):
        deadline = first_deadline + dt.timedelta(seconds=spread_seconds * i / max(spread, 1))
        rows.append(_schedule(seeded["due_cases"][i], seeded["due_staff"][i], deadline - closes_after))
    burst_deadline = (first_deadline + dt.timedelta(seconds=spread_seconds + burst_gap)).replace(microsecond=0)
    for i in range(spread, spread + burst):
        rows.append(_schedule(seeded["due_cases"][i], seeded["due_staff"][i], burst_deadline - closes_after))
    CheckinSchedule.objects.bulk_create(rows, batch_size=5000)
    return {
        "anchor": anchor,
        "first_deadline": first_deadline,
        "last_spread_deadline": first_deadline + dt.timedelta(seconds=spread_seconds),
        "burst_deadline": burst_deadline,
        "spread_case_ids": [c.pk for c in seeded["due_cases"][:spread]],
        "burst_case_ids": [c.pk for c in seeded["due_cases"][spread : spread + burst]],
    }


# --- measuring --------------------------------------------------------------------------------


def progress() -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT
              (SELECT count(*) FROM checkins_checkin),
              (SELECT count(*) FROM checkins_checkin WHERE status = 'missed'),
              (SELECT count(*) FROM crisis_alert WHERE kind = 'missed_checkin'),
              (SELECT count(*) FROM crisis_alert WHERE state = 'open' AND next_step_at <= now()),
              (SELECT count(*) FROM push_pushoutbox WHERE state = 'pending')
            """
        )
        opened, missed, alerts, steps_due, pushes_pending = cur.fetchone()
    return {"opened": opened, "missed": missed, "alerts": alerts, "steps_due": steps_due, "pending": pushes_pending}


def lags(case_ids: list[int], *, worker_ready: dt.datetime, seen: dict[int, float]) -> dict[str, list[float]]:
    from django.db import connection

    out: dict[str, list[float]] = {"alert": [], "visible": [], "opened": [], "notified": []}
    if not case_ids:
        return out
    with connection.cursor() as cur:
        cur.execute(
            "SELECT case_id, EXTRACT(EPOCH FROM grace_until) FROM checkins_checkin WHERE case_id = ANY(%s)", [case_ids]
        )
        out["visible"] = [seen[case_id] - float(deadline) for case_id, deadline in cur.fetchall() if case_id in seen]
        cur.execute(
            """
            SELECT EXTRACT(EPOCH FROM a.created_at - c.grace_until)
            FROM checkins_checkin c JOIN crisis_alert a ON a.case_id = c.case_id AND a.kind = 'missed_checkin'
            WHERE c.case_id = ANY(%s)
            """,
            [case_ids],
        )
        out["alert"] = [float(r[0]) for r in cur.fetchall()]
        cur.execute(
            """
            SELECT EXTRACT(EPOCH FROM min(p.created_at) - c.due_at)
            FROM checkins_checkin c
            JOIN cases_case cs ON cs.id = c.case_id
            JOIN accounts_defector d ON d.id = cs.defector_id
            JOIN accounts_device dv ON dv.user_id = d.user_id
            JOIN push_pushoutbox p ON p.device_id = dv.id AND p.kind = 'checkin'
            WHERE c.case_id = ANY(%s) AND c.due_at > %s
            GROUP BY c.id, c.due_at
            """,
            [case_ids, worker_ready],
        )
        out["opened"] = [float(r[0]) for r in cur.fetchall()]
        cur.execute(
            """
            SELECT EXTRACT(EPOCH FROM min(p.sent_at) - a.created_at)
            FROM crisis_alert a JOIN push_pushoutbox p ON p.alert_id = a.id
            WHERE a.case_id = ANY(%s) AND a.kind = 'missed_checkin' AND p.sent_at IS NOT NULL
            GROUP BY a.id, a.created_at
            """,
            [case_ids],
        )
        out["notified"] = [float(r[0]) for r in cur.fetchall()]
    return out


def sanity(n_due: int, due_case_ids: list[int]) -> list[str]:
    """Every due check-in missed exactly once, one alert per case, nothing else opened."""
    from django.db import connection

    problems = []
    with connection.cursor() as cur:
        checks = {
            "check-ins opened": ("SELECT count(*) FROM checkins_checkin", n_due),
            "check-ins missed (status=missed, missed_at set)": (
                "SELECT count(*) FROM checkins_checkin WHERE status = 'missed' AND missed_at IS NOT NULL",
                n_due,
            ),
            "check-ins outside the due set": (
                "SELECT count(*) FROM checkins_checkin WHERE NOT (case_id = ANY(%s))",
                0,
            ),
            "cases with more than one check-in": (
                "SELECT count(*) FROM (SELECT case_id FROM checkins_checkin GROUP BY case_id HAVING count(*) > 1) x",
                0,
            ),
            "missed_checkin alerts": ("SELECT count(*) FROM crisis_alert WHERE kind = 'missed_checkin'", n_due),
            "distinct cases with an alert": ("SELECT count(DISTINCT case_id) FROM crisis_alert", n_due),
            "alerts triggered more than once": ("SELECT count(*) FROM crisis_alert WHERE trigger_count <> 1", 0),
            "audit entries 'alert.raised'": (
                "SELECT count(*) FROM audit_auditentry WHERE action = 'alert.raised'",
                n_due,
            ),
            "'raised' events": ("SELECT count(*) FROM crisis_alertevent WHERE kind = 'raised'", n_due),
            "'retriggered' events": ("SELECT count(*) FROM crisis_alertevent WHERE kind = 'retriggered'", 0),
            "schedules moved to tomorrow": (
                "SELECT count(*) FROM checkins_checkinschedule WHERE case_id = ANY(%s) "
                "AND next_due_at > now() + interval '23 hours'",
                n_due,
            ),
        }
        for label, (sql, expected) in checks.items():
            cur.execute(sql, [due_case_ids] if "%s" in sql else None)
            got = cur.fetchone()[0]
            mark = "ok" if got == expected else "MISMATCH"
            print(f"  {label:52s} {got:>8}  (expected {expected})  {mark}")
            if got != expected:
                problems.append(f"{label}: {got} != {expected}")
    return problems


def worker_errors(log_path: Path) -> list[str]:
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    return [line for line in text.splitlines() if "Traceback" in line or " ERROR " in line or "failed" in line]


# --- main ----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schedules", type=int, default=100_000, help="active schedules (= cases)")
    parser.add_argument("--spread", type=int, default=2000, help="due check-ins with deadlines spread evenly")
    parser.add_argument("--spread-seconds", type=float, default=60.0, help="over this many seconds")
    parser.add_argument("--burst", type=int, default=1000, help="due check-ins sharing one deadline")
    parser.add_argument("--burst-gap", type=float, default=15.0, help="burst deadline this long after the spread")
    parser.add_argument("--lead", type=float, default=30.0, help="first deadline this long after seeding the due set")
    parser.add_argument("--workers", type=int, default=1, help="run_worker processes (CPU is their sum)")
    parser.add_argument("--idle-seconds", type=float, default=10.0, help="measure the idle worker this long")
    parser.add_argument("--timeout", type=float, default=60.0, help="give up this long after the burst deadline")
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=75.0,
        help="after the last alert, wait at most this long for escalations and pushes",
    )
    parser.add_argument("--no-redis", action="store_true", help="in-memory channel layer instead of Redis pub/sub")
    args = parser.parse_args()
    n_due = args.spread + args.burst
    if n_due > args.schedules:
        parser.error("--spread + --burst must not exceed --schedules")

    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="livlina-bench-checkins-"))
    (tmp / f"{SETTINGS_MODULE}.py").write_text(SETTINGS_SOURCE)
    redis_on = not args.no_redis
    env = bench_env(tmp, app_name="livlina-bench", redis_on=redis_on)
    worker_env = bench_env(tmp, app_name="livlina-worker", redis_on=redis_on)

    log(
        f"checkin sweep bench: {args.schedules} schedules, due set {args.spread} spread over "
        f"{args.spread_seconds:.0f}s + burst of {args.burst}; "
        f"channel layer: {'redis pub/sub' if redis_on else 'memory'}"
    )
    recreate_database(PG_ADMIN_URL, DB_NAME)
    if redis_on:
        flush_redis(REDIS_URL)
    t = time.monotonic()
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=240)
    log(f"migrated in {time.monotonic() - t:.1f}s")

    setup_django(env, tmp)
    t = time.monotonic()
    seeded = seed_population(args.schedules, n_due)
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    log(f"seeded in {time.monotonic() - t:.1f}s")

    due = seed_due(
        seeded,
        spread=args.spread,
        spread_seconds=args.spread_seconds,
        burst=args.burst,
        lead=args.lead,
        burst_gap=args.burst_gap,
    )
    due_case_ids = due["spread_case_ids"] + due["burst_case_ids"]
    log_path = tmp / "worker.log"
    log_paths = [log_path] + [tmp / f"worker-{i + 1}.log" for i in range(1, args.workers)]
    workers = []
    for path in log_paths:
        with open(path, "wb") as out:
            workers.append(
                subprocess.Popen(
                    [sys.executable, "manage.py", "run_worker"],
                    cwd=ROOT,
                    env=worker_env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
    worker_started = time.monotonic()
    sampler = CpuSampler([w.pid for w in workers], "livlina-worker").start()
    watcher = AlertWatcher().start()
    probe = AuditProbe().start()
    log(
        f"worker pid {', '.join(str(w.pid) for w in workers)} started; deadlines from +{args.lead:.0f}s, burst at "
        f"+{args.lead + args.spread_seconds + args.burst_gap:.0f}s"
    )

    from django.utils import timezone

    give_up = due["burst_deadline"] + dt.timedelta(seconds=args.timeout)
    alerted_at = drained_at = None
    last_line = 0.0
    # Check-ins already due when the worker boots open as a backlog; the "opened" lag
    # counts only those due after the worker's first sweep.
    worker_ready = timezone.now() + dt.timedelta(seconds=10)
    redis_before = redis_connections() if redis_on else None
    try:
        while True:
            for w, path in zip(workers, log_paths, strict=True):
                if w.poll() is not None:
                    raise RuntimeError(f"worker exited with {w.returncode}; see {path}")
            p = progress()
            now = timezone.now()
            if p["opened"] and worker_ready > now:
                worker_ready = now
            if time.monotonic() - last_line >= 10:
                log(
                    f"  opened {p['opened']}/{n_due}  missed {p['missed']}  alerts {p['alerts']}  "
                    f"escalation steps due {p['steps_due']}  pushes pending {p['pending']}"
                )
                last_line = time.monotonic()
            if alerted_at is None and p["alerts"] >= n_due and p["missed"] >= n_due:
                alerted_at = time.monotonic()
                log(
                    f"all {n_due} check-ins missed and alerted; waiting (at most {args.drain_timeout:.0f}s) "
                    "for the escalation and push backlog"
                )
            if alerted_at is not None and p["steps_due"] == 0 and p["pending"] == 0:
                drained_at = time.monotonic()
                break
            if alerted_at is None and now > give_up:
                log("TIMEOUT: the due set was not fully missed and alerted")
                break
            if alerted_at is not None and time.monotonic() - alerted_at > args.drain_timeout:
                log(
                    f"escalation/push backlog not drained {args.drain_timeout:.0f}s after the last alert; "
                    "skipping the idle measurement"
                )
                break
            time.sleep(0.5)
        busy_end = time.monotonic()
        probe.stop()
        redis_after = redis_connections() if redis_on else None
        if drained_at is not None:
            log(f"backlog drained; measuring the idle worker for {args.idle_seconds:.0f}s")
            time.sleep(args.idle_seconds)
        idle_end = time.monotonic()
    finally:
        probe.stop()
        watcher.stop()
        sampler.stop()
        for w in workers:
            if w.poll() is None:
                os.killpg(w.pid, signal.SIGTERM)
        for w in workers:
            try:
                w.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(w.pid, signal.SIGKILL)
                w.wait()

    # --- report ---
    spread_l = lags(due["spread_case_ids"], worker_ready=worker_ready, seen=watcher.seen)
    burst_l = lags(due["burst_case_ids"], worker_ready=worker_ready, seen=watcher.seen)
    all_alert = spread_l["alert"] + burst_l["alert"]
    all_visible = spread_l["visible"] + burst_l["visible"]
    wall, w_cpu, pg_cpu = sampler.between(worker_started, busy_end)
    iwall, iw_cpu, ipg_cpu = sampler.between(busy_end, idle_end) if drained_at is not None else (0.0, 0.0, 0.0)
    print()
    print(
        f"== checkin sweep bench  {time.strftime('%Y-%m-%d %H:%M')}  ({os.cpu_count()} cores, "
        f"load avg {os.getloadavg()[0]:.2f}) =="
    )
    print(f"code: {code_version()}")
    print(f"workers: {args.workers} run_worker process{'es' if args.workers > 1 else ''}")
    print(f"schedules: {args.schedules} active ({args.schedules - n_due} idle, next occurrence 1-24 h away)")
    print(
        f"due set:   {args.spread} deadlines over {args.spread_seconds:.0f}s + {args.burst} on one deadline; "
        f"window {WINDOW_MINUTES} min, grace {GRACE_MINUTES} min"
    )
    print()
    print("deadline (grace_until) -> missed_checkin alert raised (Alert.created_at):")
    print(f"  all     {summary(all_alert)}")
    print(f"  spread  {summary(spread_l['alert'])}")
    print(f"  burst   {summary(burst_l['alert'])}")
    print("deadline -> the alert's transaction committed (seen by a poller every 0.2 s):")
    print(f"  all     {summary(all_visible)}")
    print(f"  spread  {summary(spread_l['visible'])}")
    print(f"  burst   {summary(burst_l['visible'])}")
    print("check-in due -> opened (its push row written), for those due after the worker's first sweep:")
    print(f"  spread  {summary(spread_l['opened'])}")
    print(f"  burst   {summary(burst_l['opened'])}")
    print("alert raised -> first contact-person push handed to the sender (log backend):")
    print(f"  spread  {summary(spread_l['notified'])}")
    print(f"  burst   {summary(burst_l['notified'])}")
    print()
    print("an audit append from another process (record_event), every 0.5 s during the busy phase:")
    print(f"          {summary(probe.durations)}")
    print()
    if redis_before is not None and redis_after is not None:
        print(f"Redis connections accepted during the busy phase (server-wide): {redis_after - redis_before}")
    if wall:
        print(
            f"worker CPU while processing the due set: {w_cpu:.1f}s over {wall:.0f}s wall = "
            f"{60 * w_cpu / wall:.1f} CPU-s/min  (PostgreSQL backends: {60 * pg_cpu / wall:.1f} CPU-s/min)"
        )
    if iwall:
        print(
            f"worker CPU idle with {args.schedules} schedules:  {iw_cpu:.2f}s over {iwall:.0f}s wall = "
            f"{60 * iw_cpu / iwall:.2f} CPU-s/min  (PostgreSQL backends: {60 * ipg_cpu / iwall:.2f} CPU-s/min)"
        )
    print()
    print("sanity (SELECT count(*)):")
    problems = sanity(n_due, due_case_ids)
    errors = [line for path in log_paths for line in worker_errors(path)]
    if errors:
        print(f"worker log ({log_path}) has {len(errors)} error lines, first ones:")
        for line in errors[:10]:
            print(f"  {line}")
    p99 = percentile(all_alert, 0.99) if all_alert else float("inf")
    ok = alerted_at is not None and not problems and not errors and len(all_alert) == n_due and p99 < TARGET_P99
    print()
    print(
        f"{'PASS' if ok else 'FAIL'}: p99 deadline -> alert = {p99:.3f}s (target < {TARGET_P99:.0f}s)"
        + ("" if alerted_at is not None else "; timed out")
        + (f"; {len(problems)} sanity mismatches" if problems else "")
        + (f"; {len(errors)} error lines in the worker log" if errors else "")
    )
    log(f"total {time.monotonic() - started:.0f}s; worker log {log_path}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
