"""Private copies of PostgreSQL and Redis on free ports, for tests that stop a service:
the shared ones are never stopped."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, *, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


class RedisCopy:
    def __init__(self) -> None:
        if shutil.which("redis-server") is None:
            pytest.skip("needs redis-server")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@contextmanager
def redis_copy() -> Iterator[RedisCopy]:
    copy = RedisCopy()
    copy.start()
    try:
        yield copy
    finally:
        copy.stop()


class PostgresCopy:
    """An empty cluster in a temporary folder (initdb refuses root: run as ``postgres``)."""

    def __init__(self, folder: Path) -> None:
        if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
            pytest.skip("needs PostgreSQL's initdb and pg_ctl")
        self.folder = folder
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"
        self._as_owner: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(folder, user="postgres")
            self._as_owner = ["runuser", "-u", "postgres", "--"]
        subprocess.run(
            [*self._as_owner, "initdb", "-D", str(folder / "data"), "-A", "trust", "-U", "postgres"],
            check=True,
            capture_output=True,
        )

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            [*self._as_owner, "pg_ctl", "-D", str(self.folder / "data"), *args], check=True, capture_output=True
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._ctl("-o", options, "-l", str(self.folder / "log"), "-w", "start")
        _wait_for_port(self.port)

    def stop(self) -> None:
        self._ctl("-m", "fast", "-w", "stop")


@contextmanager
def postgres_copy() -> Iterator[PostgresCopy]:
    folder = Path(tempfile.mkdtemp(prefix="livlina-pg-"))
    copy = PostgresCopy(folder)
    copy.start()
    try:
        yield copy
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped by the test
            copy.stop()
        shutil.rmtree(folder, ignore_errors=True)
