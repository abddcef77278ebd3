from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from typing_extensions import override

if TYPE_CHECKING:
    from rest_framework.views import APIView


class IsStaffMember(BasePermission):
    """Staff through a 2FA-verified session or an enrolled staff phone."""

    message = "Only staff may do this."

    @override
    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and user.is_staff_member)


class IsDefector(BasePermission):
    message = "Only a defector's enrolled device may do this."

    @override
    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and user.is_defector and request.auth)
