"""A local HTTP stand-in for the FCM v1 ``messages:send`` endpoint, started by the tests.

It answers from a script of responses (status, JSON body, delay, headers) and records
every request, so the real firebase-admin client can be driven through success,
503, timeouts, UNREGISTERED and quota errors without leaving this machine."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Scripted:
    status: int = 200
    body: dict[str, Any] | None = None
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


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
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                payload = json.loads(self.rfile.read(length) or b"{}")
                standin.requests.append({"path": self.path, "headers": dict(self.headers), "json": payload})
                step = standin.script.popleft() if standin.script else Scripted()
                if step.delay:
                    time.sleep(step.delay)
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
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/v1/projects/livlina-test/messages:send"

    def start(self) -> FcmStandIn:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
