"""Real Livlina processes for the fault tests: Daphne (as the systemd unit runs it) and
``run_worker``, on the test database, each on a free port, with its output in a file.

They share the test database with the test, so they need PostgreSQL (the test process's
SQLite database is in memory). ``ServerProcesses.stop_all`` kills whatever is still
running; the ``server_processes`` fixture (``conftest.py``) calls it before the test
database is flushed, so no test leaves a process, or a connection to its database, behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
from django.db import connection

from tests.operations.proxied_stack import DAPHNE
from tests.operations.throwaway_services import free_port

ROOT = Path(__file__).resolve().parents[2]


def the_test_database_url() -> str:
    """The URL of the database this test runs on (``test_<name>``), for other processes."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def wait_for(check: Callable[[], object], what: str, *, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@dataclass
class Daphne:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/v1/"

    def kill(self) -> None:
        """``kill -9``: no shutdown, no closing handshake, no last commit."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class ServerProcesses:
    folder: Path
    env: dict[str, str]
    running: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _logs: list[IO[bytes]] = field(default_factory=list)

    def _start(self, command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
        output = log.open("wb")
        self._logs.append(output)
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        self.running.append(process)
        return process

    def daphne(self, *, port: int | None = None, **env: str) -> Daphne:
        """A Daphne process, answering ``/healthz`` when this returns."""
        port = port or free_port()
        log = self.folder / f"daphne-{port}-{len(self.running)}.log"
        process = self._start([*DAPHNE, "-p", str(port), "backend.asgi:application"], log, {**self.env, **env})
        server = Daphne(port, process, log)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Daphne did not start:\n{server.output()}")
            time.sleep(0.1)

    def worker(self, **env: str) -> subprocess.Popen[bytes]:
        log = self.folder / f"worker-{len(self.running)}.log"
        return self._start([sys.executable, "manage.py", "run_worker"], log, {**self.env, **env})

    def stop_all(self) -> None:
        for process in self.running:
            if process.poll() is None:
                process.kill()  # also ends a stopped (SIGSTOP) process
            process.wait(timeout=10)
        for output in self._logs:
            output.close()
