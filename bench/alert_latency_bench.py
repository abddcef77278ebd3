#!/usr/bin/env python
"""Alert latency benchmark: alert raised -> first push handed to firebase-admin's endpoint.

    .venv/bin/python bench/alert_latency_bench.py            # 1,000 open escalations, 200 alerts; ~1.5 min
    .venv/bin/python bench/alert_latency_bench.py --alerts 100 --seconds 30

The issue: "the time from an alert being raised to the first push being handed to
firebase-admin, p50/p99, with 1,000 open escalations."

What runs (all on this machine, loopback only):
- PostgreSQL database ``livlina_bench_alerts`` (dropped, created, ``manage.py migrate``)
  and Redis database 6 (flushed) for the pub/sub channel layer, as in production; the
  settings are Livlina's own plus a channel-layer prefix of our own (in a temp dir).
- This process seeds with ``bulk_create``: one programme; 100 contact persons with 10
  cases each (plus 2 fresh cases each for the measurement); an on-call rotation of two
  on-call staff; a supervisor; every staff member has one phone with a push token.
- 1,000 open alerts, raised with the real ``raise_alert`` (``missed_checkin``, high),
  then placed mid-escalation: at one of the default policy's notify steps
  (contacts / on-call / supervisors) with their next step due at a random moment over
  the next ``--background-spread`` seconds. So while we measure, the worker also runs
  the steps of the open escalations (about 1,000/300 s = 3.3 steps/s by default).
- A local FCM stand-in (tests/push/fcm_standin.py, answering 200 at once) in this
  process, and one real ``manage.py run_worker`` with LIVLINA_PUSH_BACKEND=fcm whose
  HTTPS_PROXY and REQUESTS_CA_BUNDLE route FCM's own URL to the stand-in (no credentials:
  anonymous, as the development settings allow), DEBUG off.
- This process raises ``--alerts`` new alerts at a steady rate over ``--seconds``, each
  on a fresh case (so each is a new alert, not a retrigger), cycling through
  missed_checkin/high, panic/critical, keyword/normal and danger/critical.

Measured: latency = time the stand-in received the alert's first push request (its
``data.ref`` is the PushOutbox id, and PushOutbox.alert_id names the alert) - the
alert's created_at. "Handed to firebase-admin" is taken as the stand-in receiving the
HTTP request firebase-admin makes inside ``messaging.send``: it includes building the
message and firebase-admin's HTTP call on loopback, not Google's side. Also reported:
the same from the commit of the raising transaction, by severity, and the worker's CPU.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
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
DB_NAME = "livlina_bench_alerts"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_URL = f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}"
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
REDIS_URL = "redis://127.0.0.1:6379/6"
SETTINGS_MODULE = "livlina_bench_alerts_settings"
CLK_TCK = os.sysconf("SC_CLK_TCK")
CASES_PER_CONTACT = 10
KINDS = [("missed_checkin", "high"), ("panic", "critical"), ("keyword", "normal"), ("danger", "critical")]

SETTINGS_SOURCE = '''"""Livlina's settings, unchanged but for a channel-layer prefix (bench only)."""
from backend.settings import *  # noqa: F403
from backend.settings import CHANNEL_LAYERS

if "redis" in CHANNEL_LAYERS["default"]["BACKEND"]:  # the in-memory layer takes no prefix
    CHANNEL_LAYERS["default"].setdefault("CONFIG", {})["prefix"] = "livlina-bench-alerts"
'''


def summary(values: list[float]) -> str:
    if not values:
        return "n=0"
    return (
        f"n={len(values)}  p50={1000 * percentile(values, 0.50):.0f}ms  p99={1000 * percentile(values, 0.99):.0f}ms  "
        f"max={1000 * max(values):.0f}ms  min={1000 * min(values):.0f}ms"
    )


def bench_env(tmp: Path, *, app_name: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE") and not k.startswith("LIVLINA_")
    }
    env.update(
        DATABASE_URL=f"{DATABASE_URL}?application_name={app_name}",
        REDIS_URL=REDIS_URL,
        LIVLINA_DATA_DIR=str(tmp / "data"),
        LIVLINA_LOG_LEVEL="WARNING",
        LIVLINA_DEBUG="0",  # production runs with DEBUG off
        DJANGO_SETTINGS_MODULE=SETTINGS_MODULE,
        PYTHONPATH=os.pathsep.join([str(tmp), str(ROOT)]),
        PYTHONUNBUFFERED="1",
    )
    return env


def proc_cpu_seconds(pid: int) -> float | None:
    ticks = proc_cpu_ticks(pid)
    return None if ticks is None else ticks / CLK_TCK


class TimedRequests(list):
    """Stands in for FcmStandIn.requests: stamps each request with its arrival time."""

    def append(self, item: Any) -> None:
        item["received"] = time.time()
        super().append(item)


# --- seeding ---------------------------------------------------------------------------------


def seed(n_contacts: int, n_measured: int) -> dict[str, Any]:
    from django.utils import timezone

    from backend.accounts.models import Defector, Device, Programme, StaffRole, User
    from backend.cases.models import Case, CaseAssignment
    from backend.crisis.models import OnCallRotation

    programme = Programme.objects.create(name="Bench programme (alerts)")
    contacts = User.objects.bulk_create(
        [User(username=f"bench-contact-{i}", kind=User.Kind.STAFF, password="!") for i in range(n_contacts)]
    )
    on_call = User.objects.bulk_create(
        [User(username=f"bench-on-call-{i}", kind=User.Kind.STAFF, password="!") for i in range(2)]
    )
    supervisor = User.objects.create(username="bench-supervisor", kind=User.Kind.STAFF, password="!")
    roles = [StaffRole(user=u, programme=programme, role=StaffRole.Role.CONTACT_PERSON) for u in contacts]
    roles += [StaffRole(user=u, programme=programme, role=StaffRole.Role.ON_CALL) for u in on_call]
    roles.append(StaffRole(user=supervisor, programme=programme, role=StaffRole.Role.SUPERVISOR))
    StaffRole.objects.bulk_create(roles)
    Device.objects.bulk_create(
        [
            Device(
                user=u,
                name="Staff phone",
                platform="android",
                signing_key="s" * 44,
                box_key="b" * 44,
                push_token=f"bench-fid-{u.pk}",
            )
            for u in [*contacts, *on_call, supervisor]
        ]
    )
    today = timezone.localdate()
    OnCallRotation.objects.create(
        programme=programme,
        name="Bench rotation",
        members=[u.pk for u in on_call],
        start_date=today - dt.timedelta(days=3),
        shift_days=7,
    )
    n_seeded = n_contacts * CASES_PER_CONTACT
    n_cases = n_seeded + n_measured
    users = User.objects.bulk_create(
        [User(username=f"bench-defector-{i}", kind=User.Kind.DEFECTOR, password="!") for i in range(n_cases)]
    )
    defectors = Defector.objects.bulk_create(
        [Defector(user=u, programme=programme, alias=f"Bench {i}") for i, u in enumerate(users)]
    )
    cases = Case.objects.bulk_create([Case(programme=programme, defector=d) for d in defectors])
    # Seeded cases: contact i has cases 10i..10i+9; measured cases go round the contacts.
    owners = [contacts[i // CASES_PER_CONTACT] for i in range(n_seeded)]
    owners += [contacts[i % n_contacts] for i in range(n_measured)]
    CaseAssignment.objects.bulk_create(
        [CaseAssignment(case=c, staff=o, role=CaseAssignment.Role.PRIMARY) for c, o in zip(cases, owners, strict=True)]
    )
    return {"seeded_cases": cases[:n_seeded], "measured_cases": cases[n_seeded:]}


def seed_open_escalations(cases: list[Any], spread_seconds: float, lead_seconds: float) -> None:
    """1,000 alerts raised for real, then placed mid-escalation with staggered next steps."""
    from django.db import connection, transaction

    from backend.crisis.services import raise_alert

    for case in cases:
        with transaction.atomic():
            raise_alert(case=case, kind="missed_checkin", severity="high", detail={"bench": "background"})
    rng = random.Random(7)
    # Default policy: 0 notify_contacts, 1 wait 5, 2 notify_on_call, 3 wait 5, 4 notify_supervisors, 5 wait 10.
    with connection.cursor() as cur:
        ids = [r[0] for r in cur.execute("SELECT id FROM crisis_alert ORDER BY id").fetchall()]
        rows = [(i, rng.choice([0, 2, 4]), lead_seconds + rng.uniform(0, spread_seconds)) for i in ids]
        cur.executemany(
            "UPDATE crisis_alert SET step_index = %s, next_step_at = now() + make_interval(secs => %s) WHERE id = %s",
            [(step, offset, i) for i, step, offset in rows],
        )


# --- main ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100, help="contact persons, 10 open escalations each")
    parser.add_argument("--alerts", type=int, default=200, help="new alerts raised during the measurement")
    parser.add_argument("--seconds", type=float, default=60.0, help="over this many seconds, at a steady rate")
    parser.add_argument(
        "--background-spread",
        type=float,
        default=300.0,
        help="the open escalations' next steps fall due over this many seconds",
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes sharing the work")
    parser.add_argument("--warmup", type=int, default=5, help="alerts raised (and not counted) before measuring")
    parser.add_argument("--timeout", type=float, default=60.0, help="wait this long for the last pushes")
    args = parser.parse_args()

    from tests.push.fcm_standin import FcmStandIn  # the repo root is on sys.path (ROOT below)

    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="livlina-bench-alerts-"))
    (tmp / f"{SETTINGS_MODULE}.py").write_text(SETTINGS_SOURCE)
    env = bench_env(tmp, app_name="livlina-bench")
    standin = FcmStandIn()
    standin.requests = TimedRequests()
    standin.start()
    worker_env = (
        bench_env(tmp, app_name="livlina-worker")
        | standin.client_environment()
        | {"LIVLINA_PUSH_BACKEND": "fcm", "LIVLINA_FCM_PROJECT_ID": "livlina-test", "LIVLINA_FCM_CREDENTIALS": ""}
    )
    n_open = args.contacts * CASES_PER_CONTACT
    log(
        f"alert latency bench: {n_open} open escalations, {args.alerts} new alerts over {args.seconds:.0f}s; "
        f"FCM stand-in (proxy) at {standin.proxy_url}"
    )
    recreate_database(PG_ADMIN_URL, DB_NAME)
    flush_redis(REDIS_URL)
    t = time.monotonic()
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=240)
    log(f"migrated in {time.monotonic() - t:.1f}s")

    setup_django(env, tmp)
    from django.db import transaction
    from django.db.models import Count

    from backend.crisis.models import Alert
    from backend.crisis.services import raise_alert
    from backend.push.models import PushOutbox

    t = time.monotonic()
    seeded = seed(args.contacts, args.alerts + args.warmup)
    seed_open_escalations(seeded["seeded_cases"], args.background_spread, lead_seconds=10.0)
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    log(f"seeded {n_open} open escalations in {time.monotonic() - t:.1f}s")

    log_path = tmp / "worker.log"
    workers = []
    with open(log_path, "wb") as out:
        for _ in range(args.workers):
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
    log(f"worker pids {[w.pid for w in workers]} started")

    def any_exited() -> subprocess.Popen[bytes] | None:
        return next((w for w in workers if w.poll() is not None), None)

    def workers_cpu() -> float | None:
        each = [proc_cpu_seconds(w.pid) for w in workers]
        return None if None in each else sum(c for c in each if c is not None)

    measured_cases = seeded["measured_cases"]
    raised: list[dict[str, Any]] = []

    def raise_one(case: Any, i: int) -> dict[str, Any]:
        kind, severity = KINDS[i % len(KINDS)]
        with transaction.atomic():
            alert = raise_alert(case=case, kind=kind, severity=severity, detail={"bench": i})
        return {"id": alert.pk, "severity": severity, "created": alert.created_at.timestamp(), "committed": time.time()}

    def first_push(ids: list[int]) -> dict[int, float]:
        refs = {
            str(r["json"]["message"]["data"]["ref"]): r["received"]
            for r in list(standin.requests)
            if "message" in r["json"]
        }
        by_alert: dict[int, float] = {}
        rows = PushOutbox.objects.filter(alert_id__in=ids).values_list("pk", "alert_id")
        for pk, alert_id in rows:
            got = refs.get(str(pk))
            if got is not None and (alert_id not in by_alert or got < by_alert[alert_id]):
                by_alert[alert_id] = got
        return by_alert

    try:
        # Warm-up: the worker boots, builds its firebase-admin app on the first send.
        warm = [raise_one(c, i) for i, c in enumerate(measured_cases[: args.warmup])]
        deadline = time.monotonic() + 60
        while len(first_push([w["id"] for w in warm])) < len(warm):
            if (exited := any_exited()) is not None:
                raise RuntimeError(f"worker exited with {exited.returncode}; see {log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"warm-up pushes never arrived; see {log_path}")
            time.sleep(0.2)
        log("warm-up pushes arrived; measuring")

        cpu0, t0 = workers_cpu(), time.monotonic()
        requests_before = len(standin.requests)
        interval = args.seconds / args.alerts
        begin = time.monotonic()
        for i, case in enumerate(measured_cases[args.warmup :]):
            target = begin + i * interval
            pause = target - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            raised.append(raise_one(case, args.warmup + i))
        log(f"raised {len(raised)} alerts in {time.monotonic() - begin:.1f}s")
        ids = [r["id"] for r in raised]
        deadline = time.monotonic() + args.timeout
        while True:
            got = first_push(ids)
            if len(got) == len(ids) or time.monotonic() > deadline or any_exited() is not None:
                break
            time.sleep(0.2)
        cpu1, t1 = workers_cpu(), time.monotonic()
        requests_in_window = len(standin.requests) - requests_before
    finally:
        for worker in workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
                try:
                    worker.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(worker.pid, signal.SIGKILL)
                    worker.wait()
        standin.stop()

    # --- report ---
    got = first_push(ids)
    from_created = [got[r["id"]] - r["created"] for r in raised if r["id"] in got]
    from_commit = [got[r["id"]] - r["committed"] for r in raised if r["id"] in got]
    by_sev: dict[str, list[float]] = {}
    for r in raised:
        if r["id"] in got:
            by_sev.setdefault(r["severity"], []).append(got[r["id"]] - r["created"])
    measured_refs = set(str(pk) for pk in PushOutbox.objects.filter(alert_id__in=ids).values_list("pk", flat=True))
    background = sum(
        1
        for r in standin.requests[requests_before:]
        if "message" in r["json"] and str(r["json"]["message"]["data"]["ref"]) not in measured_refs
    )
    states = dict(PushOutbox.objects.values_list("state").order_by().annotate(n=Count("pk")).values_list("state", "n"))
    # Sanity: a critical alert's first step (notify_critical) reaches the case's contact
    # person and whoever is on call (2 phones); any other alert's reaches the contact (1).
    per_alert = dict(
        PushOutbox.objects.filter(alert_id__in=ids, state=PushOutbox.State.SENT)
        .values_list("alert_id")
        .order_by()
        .annotate(n=Count("pk"))
        .values_list("alert_id", "n")
    )
    wrong = [r["id"] for r in raised if per_alert.get(r["id"], 0) != (2 if r["severity"] == "critical" else 1)]
    new_alerts = Alert.objects.filter(pk__in=ids, trigger_count=1).count()
    print()
    print(
        f"== alert latency bench  {time.strftime('%Y-%m-%d %H:%M')}  ({os.cpu_count()} cores, "
        f"load avg {os.getloadavg()[0]:.2f}) =="
    )
    print(f"code: {code_version()}")
    print(
        f"open escalations: {n_open} (next steps spread over {args.background_spread:.0f}s); "
        f"new alerts: {len(raised)} over {args.seconds:.0f}s"
    )
    print()
    print("alert created_at -> first push request received by the FCM stand-in:")
    print(f"  all       {summary(from_created)}")
    for severity in ("critical", "high", "normal"):
        print(f"  {severity:9s} {summary(by_sev.get(severity, []))}")
    print("alert's transaction committed -> first push received:")
    print(f"  all       {summary(from_commit)}")
    print()
    wall = t1 - t0
    if cpu0 is not None and cpu1 is not None and wall > 0:
        print(
            f"{args.workers} worker(s)' CPU during the measurement: {cpu1 - cpu0:.1f}s over {wall:.0f}s = "
            f"{60 * (cpu1 - cpu0) / wall:.1f} CPU-s/min"
        )
    print(
        f"push requests received in the window: {requests_in_window} "
        f"({background} for the open escalations' steps, the rest for the new alerts)"
    )
    # Pushes arrive in bursts, one per push-outbox pass; a gap over 150 ms starts a new one.
    # The interval between passes that carried pushes is the worker's loop period (or a
    # multiple of it, when a pass had nothing to send).
    stamps = sorted(r["received"] for r in standin.requests[requests_before:])
    starts = [b for a, b in itertools.pairwise(stamps) if b - a > 0.15]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    if gaps:
        print(
            f"push-outbox passes seen by the stand-in: {len(starts)}; interval between them "
            f"p10={1000 * percentile(gaps, 0.10):.0f}ms p50={1000 * percentile(gaps, 0.50):.0f}ms "
            f"(worker loop: every due job in turn, then a 0.5 s wait)"
        )
    print(f"push outbox states at the end: {states}")
    print(
        f"sanity: {new_alerts}/{len(raised)} measured alerts are new (trigger_count 1); "
        f"{len(raised) - len(wrong)}/{len(raised)} got exactly the expected pushes, sent"
        + (f"; unexpected: {wrong[:10]}" if wrong else "")
    )
    missing = [r["id"] for r in raised if r["id"] not in got]
    errors = [ln for ln in log_path.read_text(errors="replace").splitlines() if "Traceback" in ln or "ERROR" in ln]
    if errors:
        print(f"worker log ({log_path}) has {len(errors)} error lines, first ones:")
        for line in errors[:10]:
            print(f"  {line}")
    if missing:
        print(f"NO PUSH for {len(missing)} alerts: {missing[:20]}")
    log(f"total {time.monotonic() - started:.0f}s; worker log {log_path}")
    return 1 if missing or wrong or errors else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
