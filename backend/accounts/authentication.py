"""How a request proves who it is: a device's bearer token, or a staff session with 2FA."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request
from typing_extensions import override

from backend.accounts import services
from backend.accounts.models import Device, User
from backend.accounts.sessions import verified_staff_session


class DeviceTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <access_token>``; the device must not be revoked."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[User, Device] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise exceptions.AuthenticationFailed("Authorization must be 'Bearer <access_token>'.")
        device = services.device_for_access_token(token.strip())
        if device is None:
            raise exceptions.AuthenticationFailed("The access token is invalid, expired or its device was revoked.")
        return device.user, device

    @override
    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class VerifiedStaffSessionAuthentication(authentication.SessionAuthentication):
    """The inbox's session cookie, accepted only once the second factor was verified
    and while the session is younger than ``LIVLINA_SESSION_MAX_AGE``."""

    def authenticate(self, request: Request) -> tuple[User, None] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        user = result[0]
        # DRF's Request offers the HttpRequest's standard attributes, the session among them.
        if verified_staff_session(user, request.session, now=timezone.now()) is None:
            return None
        return user, None


# drf-spectacular registers an extension in its untyped __init_subclass__.
class DeviceTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "backend.accounts.authentication.DeviceTokenAuthentication"
    name = "deviceToken"

    @override
    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "A device's access token"}


class StaffSessionScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "backend.accounts.authentication.VerifiedStaffSessionAuthentication"
    name = "staffSession"

    @override
    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        # The name this installation gives the cookie: "__Host-livlina-session" in production.
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.SESSION_COOKIE_NAME,
            "description": "Inbox session with 2FA; unsafe methods also need the X-CSRFToken header",
        }
