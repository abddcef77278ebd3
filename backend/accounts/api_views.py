"""The bases of every API view: who may call it, the caller narrowed to its type, and one
way to read input.

- ``StaffAPIView``: staff only (a 2FA-verified inbox session or an enrolled staff phone);
  the caller is ``self.staff_user``.
- ``DefectorAPIView``: a defector's enrolled device only; the caller is
  ``self.defector_user``.
- ``SignedInAPIView``: staff or defector, for endpoints where the access policy answers
  for both (cases, conversations, ``me``, revoking a device); ``self.caller`` and
  ``self.calling_device`` (None for a staff session).
- ``PublicAPIView``: no credentials at all (enrollment, token refresh, a staff phone's
  login); throttled by the view.

Every base reads input the same way: ``self.parse_body(SomeInput)`` for the JSON body (a
``StrictSerializer``) and ``self.parse_query(SomeQuery)`` for the query string, both
through ``input_validation.validated_input``. Responses are shaped by output serializers.

The bases are described in comments, not docstrings: drf-spectacular would copy a base's
docstring into the OpenAPI description of every endpoint built on it.
"""

from __future__ import annotations

from typing import Any

from django.utils.cache import add_never_cache_headers
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from typing_extensions import override

from backend.accounts.models import Device, User
from backend.accounts.permissions import IsDefector, IsStaffMember
from backend.input_validation import QuerySerializer, StrictSerializer, validated_input


def signed_in_user(request: Request) -> User:
    """The caller of a view whose permission classes admit only signed-in users."""
    user = request.user
    if not isinstance(user, User):
        # The view's permission classes turn anonymous callers away before any handler
        # runs; reaching this means a view was given the wrong base.
        raise exceptions.NotAuthenticated()
    return user


# What every API view shares: reading input. Not used directly: pick a base below, which
# says who may call.
class LivlinaAPIView(APIView):
    # True for views whose answers carry tokens or one-time codes: no browser, proxy or
    # app cache may keep them (Cache-Control: no-store).
    carries_secrets = False

    @override
    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.carries_secrets:
            add_never_cache_headers(response)
        return response

    def parse_body(self, serializer_class: type[StrictSerializer]) -> dict[str, Any]:
        return validated_input(serializer_class, self.request.data)

    def parse_query(self, serializer_class: type[QuerySerializer]) -> dict[str, Any]:
        # A plain dict (the last value of each name): DRF reads a QueryDict as an HTML
        # form, where an empty value means "not given", so "?state=" would list every state.
        return validated_input(serializer_class, self.request.query_params.dict())


# No credentials: the request itself proves who it is (a code, a signature, a password
# with TOTP).
class PublicAPIView(LivlinaAPIView):
    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes: list[type[BasePermission]] = [AllowAny]


# Staff or defector: the access policy decides what each may see.
class SignedInAPIView(LivlinaAPIView):
    permission_classes: list[type[BasePermission]] = [IsAuthenticated]

    @property
    def caller(self) -> User:
        return signed_in_user(self.request)

    @property
    def calling_device(self) -> Device | None:
        """The enrolled phone the request came from; None for an inbox session."""
        return self.request.auth if isinstance(self.request.auth, Device) else None


# Staff only; anyone else gets 403 (401 without credentials).
class StaffAPIView(LivlinaAPIView):
    permission_classes: list[type[BasePermission]] = [IsStaffMember]

    @property
    def staff_user(self) -> User:
        return signed_in_user(self.request)


# A defector's enrolled device only; anyone else gets 403 (401 without credentials).
class DefectorAPIView(LivlinaAPIView):
    permission_classes: list[type[BasePermission]] = [IsDefector]

    @property
    def defector_user(self) -> User:
        return signed_in_user(self.request)
