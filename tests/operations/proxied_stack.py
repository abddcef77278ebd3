"""The host's nginx configuration (deploy/nginx/livlina.conf) run for real: rewritten only
where a test must differ from a server (ports, a self-signed certificate from trustme,
paths under a temporary folder), so what is tested is the shipped file."""

from __future__ import annotations

import os
import re
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import trustme

from tests.operations.throwaway_services import free_port

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "deploy" / "nginx" / "livlina.conf"
# The name the test server answers to: it must resolve here (for SNI and Host) and be one
# of the development ALLOWED_HOSTS.
HOST = "localhost"


def nginx_test_config(folder: Path, *, upstream_ports: list[int], listen_port: int, plain_port: int = 0) -> Path:
    """Writes ``nginx.conf`` (and a certificate for ``HOST``) into ``folder``; returns its path.
    The CA that signed the certificate is at ``folder / "ca.pem"``."""
    ca = trustme.CA()
    cert = ca.issue_cert(HOST, "127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(folder / "server.pem"))
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    (folder / "static").mkdir(exist_ok=True)
    site = SHIPPED.read_text().replace("server_name livlina.example.org;", f"server_name {HOST};")
    servers = "".join(f"    server 127.0.0.1:{port};\n" for port in upstream_ports)
    site = re.sub(r"(upstream livlina_daphne \{\n    least_conn;\n)(?:    server [^\n]+\n)+", rf"\g<1>{servers}", site)
    site = site.replace("listen 443", f"listen {listen_port}").replace("listen [::]:443", f"listen [::]:{listen_port}")
    plain = plain_port or listen_port + 1
    site = site.replace("listen 80", f"listen {plain}").replace("listen [::]:80", f"listen [::]:{plain}")
    site = re.sub(
        r"ssl_certificate(_key)?\s+[^;]+;", lambda m: f"ssl_certificate{m.group(1) or ''} {folder}/server.pem;", site
    )
    site = site.replace("/var/log/nginx/", f"{folder}/").replace("/var/lib/livlina/static/", f"{folder}/static/")
    (folder / "livlina.conf").write_text(site)
    main = f"""
daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log error;
events {{ worker_connections 1024; }}
http {{
    access_log {folder}/access.log;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder}/livlina.conf;
}}
"""
    (folder / "nginx.conf").write_text(main)
    return folder / "nginx.conf"


# --- the whole stack: nginx, two Daphne processes, two workers --------------------------


@dataclass
class Stack:
    folder: Path
    env: dict[str, str]
    proxy_port: int
    daphne_ports: list[int]
    daphnes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    nginx: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"https://{HOST}:{self.proxy_port}"

    @property
    def ws_url(self) -> str:
        return f"wss://{HOST}:{self.proxy_port}/ws/v1/"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.folder / "ca.pem"))

    def stop_daphne(self, index: int) -> None:
        process = self.daphnes[index]
        process.terminate()
        process.wait(timeout=15)


def _wait_for_health(url: str, *, verify: ssl.SSLContext | bool = True, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2, verify=verify).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(url)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


# As the systemd unit runs it.
DAPHNE = [sys.executable, "-m", "daphne", "--proxy-headers", "-b", "127.0.0.1", "-v", "0"]


@contextmanager
def proxied_stack(folder: Path, *, database_url: str, workers: int = 2) -> Iterator[Stack]:
    """nginx (the shipped configuration) in front of two Daphne processes, and ``workers``
    workers, all on ``database_url`` and the Redis of ``REDIS_URL``."""
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(REPO)}
    stack = Stack(folder, env, free_port(), [free_port(), free_port()])
    conf = nginx_test_config(
        folder, upstream_ports=stack.daphne_ports, listen_port=stack.proxy_port, plain_port=free_port()
    )
    logs = folder / "logs"
    logs.mkdir()
    try:
        for port in stack.daphne_ports:
            stack.daphnes.append(
                subprocess.Popen(
                    [*DAPHNE, "-p", str(port), "backend.asgi:application"],
                    cwd=REPO,
                    env=env,
                    stdout=(logs / f"daphne-{port}.log").open("wb"),
                    stderr=subprocess.STDOUT,
                )
            )
        for n in range(workers):
            stack.workers.append(
                subprocess.Popen(
                    [sys.executable, "manage.py", "run_worker"],
                    cwd=REPO,
                    env=env,
                    stdout=(logs / f"worker-{n}.log").open("wb"),
                    stderr=subprocess.STDOUT,
                )
            )
        stack.nginx = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(folder)], stderr=subprocess.PIPE)
        for port in stack.daphne_ports:
            _wait_for_health(f"http://127.0.0.1:{port}/healthz")
        _wait_for_health(f"{stack.base_url}/healthz", verify=stack.ssl_context())
        yield stack
    finally:
        for process in [*stack.daphnes, *stack.workers]:
            _stop(process)
        if stack.nginx is not None:
            _stop(stack.nginx)
