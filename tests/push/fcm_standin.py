"""A local stand-in for FCM, reached the way any HTTPS egress can be routed: as a proxy.

firebase-admin has no setting for the FCM endpoint, but it sends through ``requests``,
which honours the standard ``HTTPS_PROXY`` and ``REQUESTS_CA_BUNDLE`` variables. So the
client sends its request to ``https://fcm.googleapis.com/v1/projects/<id>/messages:send``
exactly as in production; the stand-in accepts the proxy's ``CONNECT`` tunnel, answers
TLS for ``fcm.googleapis.com`` with a certificate from a test CA (the only CA the client
trusts while the variables are set), and answers the request from a script of responses
(status, JSON body, headers, or no answer at all), recording each request. The real
firebase-admin code path (message encoding, its HTTP session and retries, its mapping of
FCM errors to exceptions) runs, without leaving this machine.

Nothing here polls: the accept loop blocks until a connection or a wake-up arrives, and
a request scripted to hang waits on an event that ``stop`` sets."""

from __future__ import annotations

import contextlib
import json
import selectors
import shutil
import socket
import ssl
import tempfile
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trustme

FCM_HOST = "fcm.googleapis.com"


@dataclass
class Scripted:
    status: int = 200
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # never answer (until the stand-in stops): the client's timeout fires


def fcm_error(status: int, code: str, error_code: str | None = None) -> Scripted:
    details = (
        [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": error_code}]
        if error_code
        else []
    )
    body = {"error": {"code": status, "message": f"stand-in {code}", "status": code, "details": details}}
    return Scripted(status=status, body=body, headers={"Retry-After": "0"} if status in (500, 503) else {})


class FcmStandIn:
    def __init__(self) -> None:
        self.script: deque[Scripted] = deque()
        self.requests: list[dict[str, Any]] = []
        self.tunnels: list[str] = []  # the CONNECT targets the client asked the proxy for
        # Tokens FCM no longer knows: every push to one is answered UNREGISTERED, whatever
        # the script says (a phone reinstalled, or its app data cleared).
        self.dead_tokens: set[str] = set()
        self._stopping = threading.Event()
        ca = trustme.CA()
        self._ca_pem = ca.cert_pem.bytes()
        self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(FCM_HOST).configure_cert(self._tls)
        self._tmp: Path | None = None
        standin = self

        class FcmHandler(BaseHTTPRequestHandler):
            """HTTP inside the tunnel: what FCM's ``messages:send`` would answer."""

            protocol_version = "HTTP/1.1"  # keep-alive, as firebase-admin's pooled session expects
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

            def do_POST(self) -> None:
                if hasattr(socket, "TCP_QUICKACK"):
                    # urllib3 sends a tunnelled request's headers and body in two writes
                    # without TCP_NODELAY: acknowledge the headers now, or the body waits
                    # out Linux's 40 ms delayed ACK.
                    self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
                length = int(self.headers.get("Content-Length", 0))
                payload = json.loads(self.rfile.read(length) or b"{}")
                standin.requests.append({"path": self.path, "headers": dict(self.headers), "json": payload})
                step = standin.answer_for(payload)
                if step.hang:
                    standin._stopping.wait()
                    self.close_connection = True
                    return
                body = (
                    step.body
                    if step.body is not None
                    else {"name": f"projects/livlina-test/messages/{len(standin.requests)}"}
                )
                raw = json.dumps(body).encode()
                try:
                    self.send_response(step.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    for key, value in step.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:
                    self.close_connection = True  # the client timed out and left

            def log_message(self, *args: Any) -> None:
                pass

        class ProxyHandler(BaseHTTPRequestHandler):
            """The proxy's side: accept the tunnel, then speak TLS as fcm.googleapis.com."""

            def do_CONNECT(self) -> None:
                standin.tunnels.append(self.path)
                self.send_response(200, "Connection established")
                self.end_headers()
                self.close_connection = True
                try:
                    tls = standin._tls.wrap_socket(self.connection, server_side=True)
                except (OSError, ssl.SSLError):
                    return
                with tls, contextlib.suppress(OSError):  # the client may leave mid-request
                    FcmHandler(tls, self.client_address, self.server)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), ProxyHandler)
        self._wake_reader, self._wake_writer = socket.socketpair()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def answer_for(self, payload: dict[str, Any]) -> Scripted:
        """UNREGISTERED for a dead token, else the script's next answer (or success)."""
        message = payload.get("message", {})
        if {message.get("fid"), message.get("token")} & self.dead_tokens:
            return fcm_error(404, "NOT_FOUND", "UNREGISTERED")
        return self.script.popleft() if self.script else Scripted()

    @property
    def proxy_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def client_environment(self) -> dict[str, str]:
        """The variables that send a process's FCM requests here (and trust only the test CA)."""
        if self._tmp is None:
            raise RuntimeError("start the stand-in first")
        return {
            "HTTPS_PROXY": self.proxy_url,
            "https_proxy": self.proxy_url,  # urllib prefers the lower-case name when both are set
            "NO_PROXY": "",
            "no_proxy": "",
            "REQUESTS_CA_BUNDLE": str(self._tmp / "ca.pem"),  # requests: the session that sends
            "SSL_CERT_FILE": str(self._tmp / "ca.pem"),  # httpx: firebase-admin's async client, built alongside
        }

    def _serve(self) -> None:
        """Accept connections until woken by ``stop``; no timeout, so no polling."""
        with selectors.DefaultSelector() as selector:
            selector.register(self.server, selectors.EVENT_READ)
            selector.register(self._wake_reader, selectors.EVENT_READ)
            while True:
                ready = {key.fileobj for key, _ in selector.select()}
                if self._wake_reader in ready:
                    return
                self.server.handle_request()  # returns at once: a connection is waiting

    def start(self) -> FcmStandIn:
        self._tmp = Path(tempfile.mkdtemp(prefix="fcm-standin-"))
        (self._tmp / "ca.pem").write_bytes(self._ca_pem)
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # answers scripted to hang give up
        self._wake_writer.send(b"x")
        self.thread.join()
        self.server.server_close()
        self._wake_reader.close()
        self._wake_writer.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
