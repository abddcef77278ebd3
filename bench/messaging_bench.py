#!/usr/bin/env python
"""Messaging benchmark: the real Livlina service against a bare Channels relay (the floor).

    .venv/bin/python bench/messaging_bench.py --pairs 200 --seconds 20

What runs (all on this machine, loopback only):
- PostgreSQL database ``livlina_bench`` (dropped and created anew, then migrated) and
  Redis database 5 (flushed), with the pub/sub channel layer Livlina uses in production.
- Livlina: one ``daphne backend.asgi:application`` process and one ``manage.py
  run_worker`` process. N cases, each with an enrolled defector phone and a phone of the
  case's own contact person.
- The floor: one ``daphne bench.relay_app:application`` process, a consumer that only
  does ``group_send`` (see relay_app.py), on the same channel layer.
- This process is the load generator (asyncio + websockets): N pairs of sockets per
  phase. Each defector socket sends ``message.send`` and waits for its ``message.ack``
  before the next (closed loop), or sends at a fixed total rate (``--rate``). The other
  side's socket records each ``message.new``; latency is send -> that arrival, from a
  ``perf_counter_ns`` stamp carried in the body (both sockets live in this process).

Figures count only the measurement window (after ``--warmup``). See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import redis
import websockets
from bench_common import proc_cpu_ticks

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.operations.proxied_stack import nginx_test_config

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DB_NAME = "livlina_bench"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
REDIS_URL = "redis://127.0.0.1:6379/5"
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Set when the Livlina phase runs behind nginx (--proxy): trusts the test CA.
TLS_CONTEXT: ssl.SSLContext | None = None
FILLER = "the weather is fine here and the new flat is quiet, talk tomorrow after the meeting. "

TARGET_THROUGHPUT_RATIO = 0.40
TARGET_P99_RATIO = 3.0


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


# --- processes ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_env(data_dir: Path, settings_module: str, *, debug: bool = False) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE") and not k.startswith("LIVLINA_")
    }
    env.update(
        DATABASE_URL=DATABASE_URL,
        REDIS_URL=REDIS_URL,
        LIVLINA_DATA_DIR=str(data_dir),
        LIVLINA_MESSAGE_RATE="100000/minute",
        LIVLINA_SOCKET_RATE="100000",
        LIVLINA_SOCKET_BURST="100000",
        LIVLINA_LOG_LEVEL="WARNING",
        # Production runs with DEBUG off; DEBUG on wraps every query in Django's debug
        # cursor (SQL formatting and a query log), which costs ~10% here. --debug keeps it.
        LIVLINA_DEBUG="1" if debug else "0",
        DJANGO_SETTINGS_MODULE=settings_module,
        PYTHONUNBUFFERED="1",
    )
    return env


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    closing_offset: int | None = None

    @classmethod
    def start(cls, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> Server:
        log_path = log_dir / f"{name}.log"
        with open(log_path, "wb") as out:
            process = subprocess.Popen(
                args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        return cls(name, process, log_path)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def wait_for_port(self, port: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not listen on {port} within {timeout}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def mark_closing(self) -> None:
        """Remember where the log stood when the load generator started closing sockets."""
        self.closing_offset = self.log_path.stat().st_size

    def problems(self) -> list[str]:
        """Error-looking log lines, split into "under load" and "while sockets closed"."""
        raw = self.log_path.read_bytes()
        cut = len(raw) if self.closing_offset is None else self.closing_offset
        found = []
        for label, chunk in (("under load", raw[:cut]), ("while sockets closed / shutdown", raw[cut:])):
            lines = chunk.decode(errors="replace").splitlines()
            bad = [i for i, line in enumerate(lines) if re.search(r"Traceback|\bERROR\b|Exception|CRITICAL", line)]
            if bad:
                first = "\n".join(lines[bad[0] : bad[0] + 40])
                found.append(f"{self.name}, {label}: {len(bad)} error-looking log lines; first:\n{first}")
        return found


def daphne(name: str, app: str, port: int, env: dict[str, str], log_dir: Path, *, proxied: bool = False) -> Server:
    flags = ["--proxy-headers", "-v", "0"] if proxied else []
    server = Server.start(name, [str(BIN / "daphne"), *flags, "-b", "127.0.0.1", "-p", str(port), app], env, log_dir)
    server.wait_for_port(port)
    return server


# --- CPU accounting from /proc ------------------------------------------------------------


def ticks_by_command(name: str, *, argument: str | None = None) -> dict[int, int]:
    """CPU ticks of every process whose command starts with ``name`` (and, if given, whose
    command line has the word ``argument``: a PostgreSQL backend shows its database)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        command = raw[raw.index("(") + 1 : raw.rindex(")")]
        if command.startswith(name) and (argument is None or f" {argument} " in f" {cmdline} "):
            fields = raw[raw.rindex(")") + 2 :].split()
            found[int(entry.name)] = int(fields[11]) + int(fields[12])
    return found


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies over all cores since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]  # guest time is inside user
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


@dataclass
class CpuSample:
    pids: dict[str, int | None]
    postgres: dict[int, int]
    redis: dict[int, int]
    nginx: dict[int, int]
    machine: tuple[int, int]

    @classmethod
    def take(cls, pids: dict[str, int]) -> CpuSample:
        return cls(
            {name: proc_cpu_ticks(pid) for name, pid in pids.items()},
            ticks_by_command("postgres", argument=DB_NAME),
            ticks_by_command("redis-server"),
            ticks_by_command("nginx"),
            machine_ticks(),
        )


def cpu_seconds(before: CpuSample, after: CpuSample) -> dict[str, float]:
    out = {}
    for name, ticks in after.pids.items():
        start = before.pids.get(name)
        if ticks is not None and start is not None:
            out[name] = (ticks - start) / CLK_TCK
    for label, b, a in (
        (f"postgres ({DB_NAME} backends)", before.postgres, after.postgres),
        ("redis", before.redis, after.redis),
        ("nginx (the proxy)", before.nginx, after.nginx),
    ):
        out[label] = sum(ticks - b.get(pid, 0) for pid, ticks in a.items()) / CLK_TCK
    busy = after.machine[0] - before.machine[0]
    total = after.machine[1] - before.machine[1]
    # Whatever else ran on the machine meanwhile (other users' tests, the kernel): noise.
    out["everything else"] = max(0.0, busy / CLK_TCK - sum(out.values()))
    out["machine busy %"] = 100.0 * busy / total if total else 0.0
    return out


# --- the load generator -----------------------------------------------------------------


@dataclass
class PairSpec:
    index: int
    conversation: int
    sender_url: str
    receiver_url: str
    sender_headers: dict[str, str] = field(default_factory=dict)
    receiver_headers: dict[str, str] = field(default_factory=dict)


@dataclass
class PhaseResult:
    name: str
    pairs: int
    seconds: float
    delivered: int = 0  # message.new received by the other side inside the window
    latencies_ns: list[int] = field(default_factory=list)
    sent: int = 0  # message.send frames written, whole phase
    acks: int = 0  # message.ack received, whole phase
    errors: Counter[str] = field(default_factory=Counter)
    ack_timeouts: int = 0
    received: int = 0  # message.new received by the other side, whole phase
    echoes: int = 0  # message.new received back by the sender, whole phase
    seq_gaps: int = 0  # the other side saw a seq jump (a live frame it never got)
    closed_early: int = 0  # sockets the server closed before the end
    skipped: int = 0  # open loop: a send skipped because too many were unacked
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.delivered / self.seconds

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile in milliseconds."""
        if not self.latencies_ns:
            return float("nan")
        ordered = sorted(self.latencies_ns)
        rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
        return ordered[rank] / 1e6


class Load:
    def __init__(self, result: PhaseResult, *, ack_timeout: float, body_chars: int) -> None:
        self.result = result
        self.ack_timeout = ack_timeout
        self.filler = (FILLER * (body_chars // len(FILLER) + 1))[: max(0, body_chars - 30)]
        self.window = (float("inf"), float("inf"))
        self.stop = asyncio.Event()

    async def connect(self, url: str, headers: dict[str, str], gate: asyncio.Semaphore) -> Any:
        async with gate:
            return await websockets.connect(
                url,
                ssl=TLS_CONTEXT if url.startswith("wss:") else None,
                additional_headers=headers,
                compression=None,
                ping_interval=None,
                open_timeout=60,
                close_timeout=5,
                max_size=2**20,
            )

    async def receiver(self, ws: Any, pair: PairSpec) -> None:
        result, last_seq = self.result, 0
        try:
            async for raw in ws:
                now = time.perf_counter_ns()
                frame = json.loads(raw)
                if frame.get("type") != "message.new":
                    continue
                message = frame["message"]
                stamp = message["body"].split(" ", 2)[1]
                sent_ns = int(stamp[2:])
                result.received += 1
                seq = message["seq"]
                if seq > last_seq + 1:
                    result.seq_gaps += seq - last_seq - 1
                last_seq = max(last_seq, seq)
                if self.window[0] <= now < self.window[1]:
                    result.delivered += 1
                    result.latencies_ns.append(now - sent_ns)
        except websockets.ConnectionClosed:
            pass
        if not self.stop.is_set():
            result.closed_early += 1

    async def sender_reader(self, ws: Any, pending: dict[str, asyncio.Future[dict[str, Any]]]) -> None:
        result = self.result
        try:
            async for raw in ws:
                if raw.startswith('{"type":"message.new"'):
                    result.echoes += 1
                    continue
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "message.new":
                    result.echoes += 1
                    continue
                if kind == "message.ack":
                    result.acks += 1
                elif kind == "error":
                    result.errors[f"{frame.get('code')}: {frame.get('detail')}"] += 1
                else:
                    continue
                future = pending.pop(frame.get("client_id") or "", None)
                if future is not None and not future.done():
                    future.set_result(frame)
        except websockets.ConnectionClosed:
            pass
        if not self.stop.is_set():
            result.closed_early += 1
        for future in pending.values():
            if not future.done():
                future.set_exception(ConnectionError("socket closed"))

    def frame(self, pair: PairSpec, client_id: str, sent_ns: int) -> str:
        body = f"bench t={sent_ns} p={pair.index} {self.filler}"
        return json.dumps(
            {"type": "message.send", "conversation": pair.conversation, "client_id": client_id, "body": body}
        )

    async def closed_loop(self, ws: Any, pair: PairSpec, pending: dict[str, asyncio.Future[dict[str, Any]]]) -> None:
        loop = asyncio.get_running_loop()
        while not self.stop.is_set():
            client_id = str(uuid.uuid4())
            future = loop.create_future()
            pending[client_id] = future
            sent_ns = time.perf_counter_ns()
            try:
                await ws.send(self.frame(pair, client_id, sent_ns))
            except websockets.ConnectionClosed:
                return
            self.result.sent += 1
            try:
                reply = await asyncio.wait_for(future, self.ack_timeout)
            except TimeoutError:
                self.result.ack_timeouts += 1
                pending.pop(client_id, None)
                continue
            except ConnectionError:
                return
            if reply.get("type") == "error":
                await asyncio.sleep(0.05)  # do not spin on a refusal

    async def open_loop(
        self, ws: Any, pair: PairSpec, pending: dict[str, asyncio.Future[dict[str, Any]]], interval: float
    ) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time() + random.uniform(0, interval)
        while not self.stop.is_set():
            delay = next_at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            next_at += interval
            if self.stop.is_set():
                break
            if len(pending) >= 1000:
                self.result.skipped += 1
                continue
            client_id = str(uuid.uuid4())
            pending[client_id] = loop.create_future()
            try:
                await ws.send(self.frame(pair, client_id, time.perf_counter_ns()))
            except websockets.ConnectionClosed:
                return
            self.result.sent += 1
        # Wait for the acks still owed, so the database check can compare like with like.
        deadline = loop.time() + self.ack_timeout
        while pending and loop.time() < deadline:
            await asyncio.sleep(0.05)
        self.result.ack_timeouts += len(pending)


async def run_phase(
    name: str,
    specs: list[PairSpec],
    *,
    seconds: float,
    warmup: float,
    rate: float | None,
    ack_timeout: float,
    body_chars: int,
    cpu_pids: dict[str, int],
    before_close: Callable[[], None] = lambda: None,
) -> PhaseResult:
    result = PhaseResult(name=name, pairs=len(specs), seconds=seconds)
    load = Load(result, ack_timeout=ack_timeout, body_chars=body_chars)
    gate = asyncio.Semaphore(32)
    log(f"{name}: connecting {2 * len(specs)} sockets")
    started = time.monotonic()
    receivers = await asyncio.gather(*(load.connect(s.receiver_url, s.receiver_headers, gate) for s in specs))
    senders = await asyncio.gather(*(load.connect(s.sender_url, s.sender_headers, gate) for s in specs))
    log(f"{name}: connected in {time.monotonic() - started:.1f}s; warm-up {warmup:g}s, then {seconds:g}s measured")
    tasks: list[asyncio.Task[None]] = []
    pendings: list[dict[str, asyncio.Future[dict[str, Any]]]] = [{} for _ in specs]
    for ws, spec in zip(receivers, specs, strict=True):
        tasks.append(asyncio.create_task(load.receiver(ws, spec)))
    for ws, pending in zip(senders, pendings, strict=True):
        tasks.append(asyncio.create_task(load.sender_reader(ws, pending)))
    interval = len(specs) / rate if rate else None
    loops = [
        asyncio.create_task(
            load.closed_loop(ws, spec, pending) if interval is None else load.open_loop(ws, spec, pending, interval)
        )
        for ws, spec, pending in zip(senders, specs, pendings, strict=True)
    ]
    await asyncio.sleep(warmup)
    now = time.perf_counter_ns()
    load.window = (now, now + int(seconds * 1e9))
    before = CpuSample.take(cpu_pids)
    await asyncio.sleep(seconds)
    after = CpuSample.take(cpu_pids)
    result.cpu = cpu_seconds(before, after)
    load.stop.set()
    await asyncio.wait(loops, timeout=ack_timeout + 5)
    # Let the other side catch up with every acked message (bounded).
    deadline = time.monotonic() + 10
    while result.received < result.acks and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    before_close()
    await asyncio.gather(*(ws.close() for ws in [*senders, *receivers]), return_exceptions=True)
    await asyncio.wait(tasks, timeout=10)
    for task in [*tasks, *loops]:
        task.cancel()
    log(f"{name}: {result.delivered} delivered in the window, {result.acks} acks, {result.received} received")
    return result


# --- setup and checks -------------------------------------------------------------------


def recreate_database() -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")


def flush_redis() -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    finally:
        client.close()


def setup_livlina(pairs: int, env: dict[str, str], *, push_tokens: bool, off_duty: bool) -> list[dict[str, Any]]:
    recreate_database()
    flush_redis()
    started = time.monotonic()
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=240)
    log(f"migrated in {time.monotonic() - started:.1f}s")
    started = time.monotonic()
    args = [sys.executable, "bench/bench_setup.py", str(pairs)]
    args += (["--push-tokens"] if push_tokens else []) + (["--off-duty"] if off_duty else [])
    done = subprocess.run(args, cwd=ROOT, env=env, timeout=240, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"bench_setup.py failed ({done.returncode}):\n{done.stderr[-4000:]}")
    log(f"created {pairs} cases, {2 * pairs} devices in {time.monotonic() - started:.1f}s")
    return json.loads(done.stdout)["pairs"]


@dataclass
class StoreCheck:
    stored: int
    conversations_with_messages: int
    contiguous: bool
    bad_conversations: list[tuple[int, int, int, int, int]]
    push_pending: int
    push_sent: int
    alerts: int | None


def check_store() -> StoreCheck:
    url = DATABASE_URL.replace("postgres://", "postgresql://", 1)
    with psycopg.connect(url) as conn:
        stored = conn.execute("SELECT count(*) FROM messaging_message").fetchone()[0]
        rows = conn.execute(
            """
            SELECT m.conversation_id, count(*), count(DISTINCT m.seq), min(m.seq), max(m.seq), c.last_seq
            FROM messaging_message m JOIN messaging_conversation c ON c.id = m.conversation_id
            GROUP BY m.conversation_id, c.last_seq
            """
        ).fetchall()
        bad = [
            (cid, n, distinct, high, last)
            for cid, n, distinct, low, high, last in rows
            if not (n == distinct and low == 1 and high == n and last == n)
        ]
        states = dict(conn.execute("SELECT state, count(*) FROM push_pushoutbox GROUP BY state").fetchall())
        alerts = None
        if conn.execute("SELECT to_regclass('crisis_alert')").fetchone()[0] is not None:
            alerts = conn.execute("SELECT count(*) FROM crisis_alert").fetchone()[0]
    pending, sent = int(states.get("pending", 0)), int(states.get("sent", 0))
    return StoreCheck(stored, len(rows), not bad, bad[:5], pending, sent, alerts)


# --- report -----------------------------------------------------------------------------


def source_revision() -> str:
    """The commit benchmarked, and whether the work tree differed from it (read-only git)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "backend"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head or 'unknown'}{' + uncommitted changes in backend/' if dirty else ''}"


def print_report(args: argparse.Namespace, results: dict[str, PhaseResult], store: StoreCheck | None) -> bool:
    mode = f"open loop, {args.rate:g} msgs/s offered" if args.rate else "closed loop (send, wait for ack, repeat)"
    print()
    print(
        f"Messaging benchmark  {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}  {os.cpu_count()} cores  "
        f"source {source_revision()}"
    )
    print(
        f"mode: {mode}; warm-up {args.warmup:g}s excluded; body ~{args.body_chars} chars; "
        f"Livlina DEBUG {'on' if args.debug else 'off'}; push tokens {'no' if args.no_push_tokens else 'yes'}; "
        f"{args.daphnes} Daphne process(es){', behind nginx (TLS)' if args.proxy else ', sockets direct'}"
    )
    print()
    columns = ("pairs", 5), ("seconds", 7), ("msgs/s", 9), ("p50 ms", 8), ("p90 ms", 8), ("p99 ms", 8), ("max ms", 8)
    header = f"{'server':<9} " + " ".join(f"{name:>{width}}" for name, width in columns)
    print(header)
    print("-" * len(header))
    for r in results.values():
        print(
            f"{r.name:<9} {r.pairs:>5} {r.seconds:>7g} {r.rate:>9.1f} {r.percentile(50):>8.1f} "
            f"{r.percentile(90):>8.1f} {r.percentile(99):>8.1f} {r.percentile(100):>8.1f}"
        )
    print()
    for r in results.values():
        errors = ", ".join(f"{n}x {e}" for e, n in r.errors.most_common()) or "none"
        print(
            f"{r.name}: sent {r.sent}, acks {r.acks}, ack timeouts {r.ack_timeouts}, other side received "
            f"{r.received}, echoes to sender {r.echoes}, seq gaps {r.seq_gaps}, sockets closed early "
            f"{r.closed_early}, errors: {errors}" + (f", skipped sends {r.skipped}" if r.skipped else "")
        )
        cpu = ", ".join(f"{k} {v:.1f}%" if k.endswith("%") else f"{k} {v:.1f}s" for k, v in r.cpu.items())
        print(f"{r.name} CPU in the {r.seconds:g}s window: {cpu}")
        if r.cpu.get("everything else", 0) > 0.2 * r.seconds:
            print(
                f"  WARNING: other processes used {r.cpu['everything else']:.1f} CPU-s of the "
                f"{(os.cpu_count() or 1) * r.seconds:g} this machine had in the window: "
                f"{r.name}'s figures are disturbed; run again"
            )
    ok = True
    if "livlina" in results and "relay" in results:
        liv, relay = results["livlina"], results["relay"]
        throughput = liv.rate / relay.rate if relay.rate else float("nan")
        p99 = liv.percentile(99) / relay.percentile(99) if relay.latencies_ns else float("nan")
        t_ok = throughput >= TARGET_THROUGHPUT_RATIO
        p_ok = p99 <= TARGET_P99_RATIO
        ok = t_ok and p_ok
        print()
        print(
            f"throughput livlina/relay = {throughput:.2f}  (target >= {TARGET_THROUGHPUT_RATIO:.2f})  "
            f"{'PASS' if t_ok else 'FAIL'}"
        )
        print(
            f"p99 livlina/relay        = {p99:.2f}  (target <= {TARGET_P99_RATIO:.1f})   {'PASS' if p_ok else 'FAIL'}"
        )
    if store is not None and "livlina" in results:
        liv = results["livlina"]
        same = store.stored == liv.acks
        print()
        print(
            f"livlina store check: {store.stored} messages stored, {liv.acks} acks received -> "
            f"{'EQUAL' if same else 'MISMATCH'}; seq contiguous per conversation "
            f"({store.conversations_with_messages} conversations): {'YES' if store.contiguous else 'NO'}"
        )
        if store.bad_conversations:
            print(f"  first bad conversations (id, count, distinct seq, max seq, last_seq): {store.bad_conversations}")
        print(f"livlina push outbox after the run: {store.push_sent} sent, {store.push_pending} pending")
        if store.alerts is not None:
            print(f"livlina alerts raised during the run: {store.alerts}")
        ok = ok and same and store.contiguous
    return ok


# --- main -------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20, help="measured seconds per phase")
    parser.add_argument("--warmup", type=float, default=3, help="seconds per phase excluded from the figures")
    parser.add_argument("--rate", type=float, default=None, help="fixed total offered msgs/s (default: closed loop)")
    parser.add_argument("--only", choices=["livlina", "relay"], help="run one phase only")
    parser.add_argument("--body-chars", type=int, default=100, help="approximate message body length")
    parser.add_argument("--ack-timeout", type=float, default=30)
    parser.add_argument(
        "--no-push-tokens", action="store_true", help="devices without push tokens (no push-outbox rows per message)"
    )
    parser.add_argument(
        "--staff-off-duty",
        action="store_true",
        help="staff keep default working hours, so at night each unread defector message raises an alert",
    )
    parser.add_argument("--debug", action="store_true", help="run Livlina with DEBUG on (LIVLINA_DEBUG=1)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the server logs' folder and print its path")
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    parser.add_argument("--daphnes", type=int, default=1, help="Livlina Daphne processes (a pair's two sockets on two)")
    parser.add_argument(
        "--proxy", action="store_true", help="Livlina behind nginx (deploy/nginx/livlina.conf, TLS, self-signed)"
    )
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="livlina-bench-"))
    livlina_env = bench_env(data_dir, "bench.livlina_settings", debug=args.debug)
    relay_env = bench_env(data_dir, "bench.relay_settings")
    servers: list[Server] = []
    results: dict[str, PhaseResult] = {}
    store: StoreCheck | None = None
    problems: list[str] = []
    phase_kwargs = dict(
        seconds=args.seconds,
        warmup=args.warmup,
        rate=args.rate,
        ack_timeout=args.ack_timeout,
        body_chars=args.body_chars,
    )
    try:
        fixtures: list[dict[str, Any]] = []
        if args.only != "relay":
            fixtures = setup_livlina(
                args.pairs, livlina_env, push_tokens=not args.no_push_tokens, off_duty=args.staff_off_duty
            )
        else:
            flush_redis()

        if args.only != "livlina":
            port = free_port()
            relay = daphne("relay", "bench.relay_app:application", port, relay_env, data_dir)
            servers.append(relay)
            specs = [
                PairSpec(i, i, f"ws://127.0.0.1:{port}/ws/relay/{i}/", f"ws://127.0.0.1:{port}/ws/relay/{i}/")
                for i in range(args.pairs)
            ]
            cpu_pids = {"relay daphne": relay.process.pid, "load generator": os.getpid()}
            results["relay"] = asyncio.run(
                run_phase("relay", specs, cpu_pids=cpu_pids, before_close=relay.mark_closing, **phase_kwargs)
            )
            relay.stop()

        if args.only != "relay":
            ports = [free_port() for _ in range(args.daphnes)]
            apps = [
                daphne(f"daphne-{n}", "backend.asgi:application", port, livlina_env, data_dir, proxied=args.proxy)
                for n, port in enumerate(ports)
            ]
            servers.extend(apps)
            worker = Server.start("worker", [sys.executable, "manage.py", "run_worker"], livlina_env, data_dir)
            servers.append(worker)
            if args.proxy:
                global TLS_CONTEXT  # noqa: PLW0603 - set once, before any socket connects
                proxy_dir = data_dir / "nginx"
                proxy_dir.mkdir()
                proxy_port = free_port()
                conf = nginx_test_config(
                    proxy_dir, upstream_ports=ports, listen_port=proxy_port, plain_port=free_port()
                )
                proxy = Server.start("nginx", ["nginx", "-c", str(conf), "-p", str(proxy_dir)], livlina_env, data_dir)
                servers.append(proxy)
                proxy.wait_for_port(proxy_port)
                TLS_CONTEXT = ssl.create_default_context(cafile=str(proxy_dir / "ca.pem"))
                urls = [f"wss://localhost:{proxy_port}/ws/v1/"] * 2
            else:
                urls = [f"ws://127.0.0.1:{port}/ws/v1/" for port in ports]
            # Without the proxy, a pair's sender and receiver sit on different processes
            # when there are several (every message crosses Redis to another Daphne).
            specs = [
                PairSpec(
                    f["pair"],
                    f["conversation"],
                    urls[i % len(urls)],
                    urls[(i + 1) % len(urls)],
                    {"Authorization": f"Bearer {f['defector_token']}"},
                    {"Authorization": f"Bearer {f['staff_token']}"},
                )
                for i, f in enumerate(fixtures)
            ]
            cpu_pids = {f"livlina daphne {n}": a.process.pid for n, a in enumerate(apps)}
            cpu_pids |= {"worker": worker.process.pid, "load generator": os.getpid()}

            def mark() -> None:
                for a in apps:
                    a.mark_closing()
                worker.mark_closing()

            results["livlina"] = asyncio.run(
                run_phase("livlina", specs, cpu_pids=cpu_pids, before_close=mark, **phase_kwargs)
            )
            time.sleep(1.5)  # one more worker tick after the last message
            store = check_store()
            for server in servers:
                server.stop()

        for server in servers:
            problems.extend(server.problems())
    except BaseException:
        for server in servers:
            print(f"--- last lines of {server.name}'s log ({server.log_path}):\n{server.log_tail()}", file=sys.stderr)
        args.keep_logs = True
        raise
    finally:
        for server in servers:
            server.stop()
        with contextlib.suppress(redis.RedisError):
            flush_redis()

    ok = print_report(args, results, store)
    if problems:
        print()
        print("SERVER LOG PROBLEMS:")
        for text in problems:
            print(text)
        ok = False
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    name: {
                        "pairs": r.pairs,
                        "seconds": r.seconds,
                        "msgs_per_s": r.rate,
                        "p50_ms": r.percentile(50),
                        "p99_ms": r.percentile(99),
                        "acks": r.acks,
                        "received": r.received,
                        "errors": dict(r.errors),
                        "cpu": r.cpu,
                    }
                    for name, r in results.items()
                },
                indent=2,
            )
        )
    if args.keep_logs:
        print(f"\nserver logs kept in {data_dir}")
    else:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
