"""Following a one-time setup link the way a new staff member does: read the page, add
the authenticator it shows, choose a password, confirm with a code."""

from __future__ import annotations

import base64
import re

from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

NEW_PASSWORD = "a long and unusual passphrase 42"


def setup_path(url: str) -> str:
    return url[url.index("/inbox/setup/") :]


def secret_on_page(content: bytes) -> bytes:
    found = re.search(rb'data-testid="totp-secret">([A-Z2-7=]+)<', content)
    assert found, content
    return base64.b32decode(found.group(1))


def current_code(secret: bytes) -> str:
    return f"{totp(secret):06d}"


def complete_setup(url: str, *, password: str | None = NEW_PASSWORD) -> tuple[APIClient, bytes]:
    """Follow the link; return a client and the authenticator secret it enrolled."""
    client = APIClient()
    page = client.get(setup_path(url))
    assert page.status_code == 200, page.content
    secret = secret_on_page(page.content)
    form = {"otp": current_code(secret)}
    if password is not None:
        form |= {"password": password, "password_again": password}
    done = client.post(setup_path(url), form)
    assert done.status_code == 200, done.content
    assert b'data-testid="setup-done"' in done.content
    return client, secret


def log_in(username: str, password: str, secret: bytes) -> APIClient:
    # django-otp refuses a code twice, and setting up just used this one.
    TOTPDevice.objects.filter(user__username=username).update(last_t=-1)
    client = APIClient()
    response = client.post("/inbox/login/", {"username": username, "password": password, "otp": current_code(secret)})
    assert response.status_code == 302, response.content
    return client
