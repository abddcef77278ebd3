"""A real Livlina process (``manage.py serve``: Daphne + in-process worker) for end-to-end
tests, on the embedded default in a temporary data folder, as a newcomer runs it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    base_url: str
    env: dict[str, str]
    process: subprocess.Popen[str]
    demo: dict

    def manage(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=120
        )


@contextmanager
def live_server(
    data_dir: Path, *, extra_env: dict[str, str] | None = None, seed_demo: bool = True
) -> Iterator[LiveServer]:
    """A running server; with ``seed_demo=False`` its database is empty (migrated only),
    as a new installation's is."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL") and not k.startswith("LIVLINA_")
    }
    env["LIVLINA_DATA_DIR"] = str(data_dir)
    env.update(extra_env or {})
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=300)
    demo = {}
    if seed_demo:
        seeded = subprocess.run(
            [sys.executable, "manage.py", "seed_demo", "--json"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        demo = json.loads(seeded.stdout)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    with process:  # and its output pipe is closed when the server is done
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base_url}/api/v1/schema/", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start: {process.stdout.read() if process.stdout else ''}")
                time.sleep(0.2)
            yield LiveServer(base_url, env, process, demo)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
