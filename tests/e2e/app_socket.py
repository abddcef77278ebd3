"""The defector's app socket (``client.socket``) on a thread of its own, so that a test
driving the browser through Playwright's synchronous API can talk to it."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from client.socket import LivlinaSocket


class AppSocket:
    def __init__(self, ws_url: str, access_token: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.frames: list[dict[str, Any]] = []
        self._socket: LivlinaSocket = self._run(LivlinaSocket.connect(ws_url, access_token))
        self._collector = asyncio.run_coroutine_threadsafe(self._collect(), self._loop)

    def _run(self, coroutine: Any, timeout: float = 15) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _collect(self) -> None:
        while True:
            self.frames.append(await self._socket.inbox.get())

    def send_message(self, conversation: int, body: str, *, client_id: str | None = None) -> dict[str, Any]:
        return self._run(self._socket.send_message(conversation, body, client_id=client_id))

    def send_frame(self, frame: dict[str, Any]) -> None:
        self._run(self._socket.send_frame(frame))

    def wait_for(self, match: Callable[[dict[str, Any]], bool], timeout: float = 15) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for frame in list(self.frames):
                if match(frame):
                    return frame
            time.sleep(0.05)
        raise AssertionError(f"no matching frame in {timeout} s; got {self.frames}")

    def close(self) -> None:
        self._collector.cancel()
        self._run(self._socket.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()
