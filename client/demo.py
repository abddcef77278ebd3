"""Play the defector's app against a running Livlina: enroll with a code, register a push
token, show the next check-ins, say hello over the WebSocket, and print what comes back.

    python -m client.demo http://127.0.0.1:8000 ABCD-EFGH-JKMN [--push-token FID]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

import httpx

from client.device import LivlinaClient
from client.socket import LivlinaSocket


async def main(base_url: str, code: str, push_token: str | None = None) -> None:
    app = LivlinaClient(base_url)
    session = app.enroll(code)
    print(f"enrolled device {session.device_id} for case {session.case_id}")
    if push_token is not None:
        # What the app does whenever Firebase hands it a new installation ID.
        device = app.update_device(session, push_token=push_token)
        print(f"push token registered; push {'on' if device['push_enabled'] else 'off'}")
    upcoming = app.upcoming_checkins(session, limit=3)
    for item in upcoming:
        print(f"next check-in due {item['due_at']}, answer by {item['closes_at']}")
    if not upcoming:
        print("no check-ins scheduled")
    me = app.get(session, "/api/v1/me").json()["user_id"]
    conversation = app.get(session, "/api/v1/conversations").json()[0]["id"]
    socket = await LivlinaSocket.connect(base_url.replace("http", "ws", 1) + "/ws/v1/", session.access_token)
    ack = await socket.send_message(conversation, "Hej! Det här är ett testmeddelande från demoappen.")
    print(f"sent, stored as seq {ack['seq']}; waiting for a reply from the inbox (Ctrl-C stops)")
    try:
        while True:
            frame = await socket.inbox.get()
            if frame["type"] == "message.new" and frame["message"]["sender"] != me:
                print(f"reply [{frame['message']['seq']}]: {frame['message']['body']}", flush=True)
    finally:
        await socket.close()
        app.close()


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m client.demo", description=__doc__.splitlines()[0])
    parser.add_argument("base_url", help="e.g. http://127.0.0.1:8000")
    parser.add_argument("code", help="the enrollment code the inbox showed")
    parser.add_argument("--push-token", help="the phone's Firebase installation ID, registered after enrolling")
    return parser.parse_args(argv)


def problem_detail(error: httpx.HTTPStatusError) -> str:
    """What the server said was wrong (its problem detail), not a traceback."""
    try:
        body = error.response.json()
    except ValueError:
        return f"{error.response.status_code} {error.response.reason_phrase}"
    return f"{body.get('status', error.response.status_code)} {body.get('title', '')}: {body.get('detail', '')}"


if __name__ == "__main__":
    arguments = parse_arguments()
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(main(arguments.base_url, arguments.code, arguments.push_token))
    except httpx.HTTPStatusError as error:
        sys.exit(f"the server refused: {problem_detail(error)}")
