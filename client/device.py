"""A Python stand-in for the Livlina mobile app: device keys, enrollment, signed refresh.

Used by the tests, the demo and the benchmarks. It speaks only the public contract
(``docs/contract.md``), over HTTP with httpx.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import nacl.public
import nacl.signing


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@dataclass
class DeviceKeys:
    """The device's long-term keys; private halves never leave the device."""

    signing: nacl.signing.SigningKey = field(default_factory=nacl.signing.SigningKey.generate)
    box: nacl.public.PrivateKey = field(default_factory=nacl.public.PrivateKey.generate)

    def public(self, *, name: str = "Test phone", platform: str = "android", push_token: str = "") -> dict[str, str]:
        device = {
            "name": name,
            "platform": platform,
            "signing_key": b64(bytes(self.signing.verify_key)),
            "box_key": b64(bytes(self.box.public_key)),
        }
        if push_token:
            device["push_token"] = push_token
        return device

    def sign_refresh(self, refresh_token: str, timestamp: int) -> str:
        return b64(self.signing.sign(f"{refresh_token}.{timestamp}".encode()).signature)


@dataclass
class DeviceSession:
    device_id: str
    access_token: str
    refresh_token: str
    role: str
    case_id: int | None
    keys: DeviceKeys

    @property
    def auth_header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


class LivlinaClient:
    """Plays the app against a base URL, or (in tests) against any httpx-compatible
    transport such as ``httpx.ASGITransport``."""

    def __init__(self, base_url: str, *, transport: httpx.BaseTransport | None = None, timeout: float = 10.0) -> None:
        self.http = httpx.Client(base_url=base_url, transport=transport, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def enroll(self, code: str, *, keys: DeviceKeys | None = None, push_token: str = "") -> DeviceSession:
        keys = keys or DeviceKeys()
        response = self.http.post("/api/v1/enroll", json={"code": code, "device": keys.public(push_token=push_token)})
        response.raise_for_status()
        return self._session(response.json(), keys)

    def enroll_staff_phone(
        self, *, username: str, password: str, otp: str, keys: DeviceKeys | None = None, push_token: str = ""
    ) -> DeviceSession:
        keys = keys or DeviceKeys()
        device = keys.public(name="Staff phone", push_token=push_token)
        response = self.http.post(
            "/api/v1/auth/staff-device",
            json={"username": username, "password": password, "otp": otp, "device": device},
        )
        response.raise_for_status()
        return self._session(response.json(), keys)

    def refresh(self, session: DeviceSession, *, now: float | None = None) -> DeviceSession:
        timestamp = int(now if now is not None else time.time())
        response = self.http.post(
            "/api/v1/auth/refresh",
            json={
                "device_id": session.device_id,
                "refresh_token": session.refresh_token,
                "timestamp": str(timestamp),
                "signature": session.keys.sign_refresh(session.refresh_token, timestamp),
            },
        )
        response.raise_for_status()
        body = response.json()
        session.access_token = body["access_token"]
        session.refresh_token = body["refresh_token"]
        return session

    def update_device(
        self, session: DeviceSession, *, push_token: str | None = None, name: str | None = None
    ) -> dict[str, Any]:
        """``PUT /api/v1/me/device``: register the phone's current push token (the app
        calls this whenever Firebase gives it a new one; "" turns push off) or rename it."""
        body = {key: value for key, value in (("push_token", push_token), ("name", name)) if value is not None}
        response = self.http.put("/api/v1/me/device", json=body, headers=session.auth_header)
        response.raise_for_status()
        device: dict[str, Any] = response.json()
        return device

    def upcoming_checkins(self, session: DeviceSession, *, limit: int | None = None) -> list[dict[str, Any]]:
        """``GET /api/v1/me/checkins/upcoming``: the defector's next check-ins, soonest first."""
        params = {"limit": limit} if limit is not None else {}
        response = self.http.get("/api/v1/me/checkins/upcoming", params=params, headers=session.auth_header)
        response.raise_for_status()
        upcoming: list[dict[str, Any]] = response.json()
        return upcoming

    def read_case(self, session: DeviceSession, case_id: int, *, reason: str = "") -> httpx.Response:
        """One case; staff give the reason for the audit log in a header, never in the
        URL (access logs keep URLs)."""
        headers = session.auth_header | ({"X-Livlina-Reason": quote(reason)} if reason else {})
        return self.http.get(f"/api/v1/cases/{case_id}", headers=headers)

    def get(self, session: DeviceSession, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params, headers=session.auth_header)

    def post(self, session: DeviceSession, path: str, body: Any = None) -> httpx.Response:
        return self.http.post(path, json=body if body is not None else {}, headers=session.auth_header)

    @staticmethod
    def _session(body: dict[str, Any], keys: DeviceKeys) -> DeviceSession:
        return DeviceSession(
            device_id=body["device_id"],
            access_token=body["access_token"],
            refresh_token=body["refresh_token"],
            role=body["role"],
            case_id=body.get("case_id"),
            keys=keys,
        )
