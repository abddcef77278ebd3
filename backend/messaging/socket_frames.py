"""Validation of client WebSocket frames: each bad frame becomes a clear ``error`` frame."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from backend.input_validation import loads_bounded

MAX_FRAME_BYTES = 16 * 1024
# What a database id or sequence number can be (a signed 64-bit column): anything
# larger names nothing, and the database would refuse to even look it up.
MAX_DATABASE_INT = 2**63 - 1
# Fields that name a row: out of range, they name nothing, as REST's 404 says.
ID_FIELDS = frozenset({"conversation"})

FRAME_FIELDS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "message.send": {"conversation": int, "client_id": str, "body": str},
    "sync": {"conversation": int, "after_seq": int},
    "read": {"conversation": int, "up_to_seq": int},
    "ping": {},
}


@dataclass(frozen=True)
class FrameError(Exception):
    code: str
    detail: str
    client_id: str | None = None

    def as_frame(self) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": "error", "code": self.code, "detail": self.detail}
        if self.client_id:
            frame["client_id"] = self.client_id
        return frame


def parse_frame(text: str | None, raw: bytes | None) -> dict[str, Any]:
    """The frame as a dict with exactly the fields its type allows, or FrameError."""
    frame = _decode(text, raw)
    frame_type = frame.get("type")
    client_id = frame.get("client_id") if isinstance(frame.get("client_id"), str) else None
    if not isinstance(frame_type, str) or frame_type not in FRAME_FIELDS:
        raise FrameError("unknown-type", f"Unknown frame type {frame_type!r}.", client_id)
    _check_fields(frame, FRAME_FIELDS[frame_type], client_id)
    if frame_type == "message.send":
        try:
            uuid.UUID(frame["client_id"])
        except ValueError:
            raise FrameError("invalid-frame", "'client_id' must be a UUID.", client_id) from None
    return frame


def _decode(text: str | None, raw: bytes | None) -> dict[str, Any]:
    """A text frame of at most ``MAX_FRAME_BYTES`` holding a JSON object."""
    if raw is not None:
        raise FrameError("binary-not-supported", "Send JSON text frames.")
    if text is None:
        raise FrameError("invalid-json", "Empty frame.")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FRAME_BYTES:
        raise FrameError("frame-too-large", f"Frames are at most {MAX_FRAME_BYTES} bytes.")
    try:
        frame = loads_bounded(text)
    except json.JSONDecodeError:
        raise FrameError("invalid-json", "The frame is not valid JSON.") from None
    except ValueError as exc:  # valid JSON, nested deeper than any frame
        raise FrameError("invalid-frame", str(exc)) from None
    if not isinstance(frame, dict):
        raise FrameError("invalid-frame", "A frame is a JSON object with a 'type'.")
    return frame


def _check_fields(frame: dict[str, Any], allowed: dict[str, type | tuple[type, ...]], client_id: str | None) -> None:
    unknown = sorted(set(frame) - set(allowed) - {"type"})
    if unknown:
        raise FrameError("invalid-frame", f"Unknown field(s): {', '.join(unknown)}.", client_id)
    for name, expected in allowed.items():
        value = frame.get(name)
        # bool is an int in Python; a JSON true is never a valid number here.
        if value is None or isinstance(value, bool) or not isinstance(value, expected):
            kind = "an integer" if expected is int else "a string"
            raise FrameError("invalid-frame", f"'{name}' must be {kind}.", client_id)
        if isinstance(value, int) and expected is int and not 0 <= value <= MAX_DATABASE_INT:
            if name in ID_FIELDS:
                raise FrameError("not-found", f"No such {name}.", client_id)
            raise FrameError("invalid-frame", f"'{name}' must be between 0 and {MAX_DATABASE_INT}.", client_id)
