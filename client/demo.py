"""Play the defector's app against a running Livlina: enroll with a code, say hello over
the WebSocket, and print what comes back.

    python -m client.demo http://127.0.0.1:8000 ABCD-EFGH-JKMN
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

from client.device import LivlinaClient
from client.socket import LivlinaSocket


async def main(base_url: str, code: str) -> None:
    app = LivlinaClient(base_url)
    session = app.enroll(code)
    print(f"enrolled device {session.device_id} for case {session.case_id}")
    conversation = app.get(session, "/api/v1/conversations").json()[0]["id"]
    socket = await LivlinaSocket.connect(base_url.replace("http", "ws", 1) + "/ws/v1/", session.access_token)
    ack = await socket.send_message(conversation, "Hej! Det här är ett testmeddelande från demoappen.")
    print(f"sent, stored as seq {ack['seq']}; waiting for a reply from the inbox (Ctrl-C stops)")
    try:
        while True:
            frame = await socket.inbox.get()
            if frame["type"] == "message.new":
                print(f"[{frame['message']['seq']}] {frame['message']['body']}")
    finally:
        await socket.close()
        app.close()


if __name__ == "__main__":
    try:
        base_url, code = sys.argv[1:]
    except ValueError:
        sys.exit(__doc__)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(base_url, code))
