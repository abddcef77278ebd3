"""Helpers the benchmarks share: logging, the commit measured, percentiles, CPU from
/proc, Django set-up in the benchmark's own process, and resetting their own database
and Redis db."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import redis

ROOT = Path(__file__).resolve().parents[1]


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def code_version() -> str:
    """The commit measured, and whether backend/ had uncommitted changes (read-only git)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "backend"], cwd=ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}{' + uncommitted backend changes' if dirty else ''}"


def percentile(values: list[float], q: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def recreate_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")


def flush_redis(url: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def proc_cpu_ticks(pid: int) -> int | None:
    """utime + stime of a process, in clock ticks (``os.sysconf("SC_CLK_TCK")`` a second)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # the process is gone
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat


def setup_django(env: dict[str, str], tmp: Path) -> None:
    """Configure Django in this process with the environment the servers get."""
    os.environ.update({k: v for k, v in env.items() if k != "PYTHONPATH"})
    for path in (str(ROOT), str(tmp)):
        if path not in sys.path:
            sys.path.insert(0, path)
    import django

    django.setup()
