"""Staff accounts over REST (a programme's admins): invite, list, change roles,
deactivate, reset the second factor. Thin views over ``staff_services``."""

from __future__ import annotations

from typing import TypedDict

import segno
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from backend.accounts.models import StaffRole
from backend.administration import staff_services
from backend.administration.api_base import AdministrationAPIView
from backend.administration.staff_services import Deactivation, StaffMember
from backend.cases import policy
from backend.input_validation import StrictSerializer
from backend.problems import problem_responses

ADMINS_ONLY = "Only the programme's admins manage staff accounts."


class InviteInput(StrictSerializer):
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
    first_name = serializers.CharField(max_length=150)
    last_name = serializers.CharField(max_length=150)
    roles = serializers.ListField(child=serializers.ChoiceField(choices=StaffRole.Role.choices), allow_empty=False)


class RolesInput(StrictSerializer):
    roles = serializers.ListField(child=serializers.ChoiceField(choices=StaffRole.Role.choices), allow_empty=False)


class SetupLinkJson(TypedDict):
    id: int
    setup_url: str | None
    setup_qr_svg: str | None


class InviteOutput(serializers.Serializer[SetupLinkJson]):
    id = serializers.IntegerField()
    setup_url = serializers.CharField(
        allow_null=True, help_text="one-time link (24 h), shown once; null when an existing account joined"
    )
    setup_qr_svg = serializers.CharField(allow_null=True, help_text="data: URI of an SVG QR code holding the link")


class StaffMemberOutput(serializers.Serializer[StaffMember]):
    id = serializers.IntegerField(source="user.pk")
    username = serializers.CharField(source="user.username")
    first_name = serializers.CharField(source="user.first_name")
    last_name = serializers.CharField(source="user.last_name")
    is_active = serializers.BooleanField(source="user.is_active")
    roles = serializers.ListField(child=serializers.CharField(), help_text="roles in this programme")
    two_factor = serializers.ChoiceField(choices=["enrolled", "pending"])


class DeactivationOutput(serializers.Serializer[Deactivation]):
    id = serializers.IntegerField(source="user.pk")
    account_deactivated = serializers.BooleanField(help_text="false when they still work in another programme")
    cases_needing_primary = serializers.ListField(
        child=serializers.IntegerField(), help_text="cases they were primary contact of: name a new one"
    )


def _setup_link(user_id: int, request: Request, token: str | None) -> SetupLinkJson:
    if token is None:
        return SetupLinkJson(id=user_id, setup_url=None, setup_qr_svg=None)
    url = request.build_absolute_uri(reverse("account-setup", args=[token]))
    return SetupLinkJson(id=user_id, setup_url=url, setup_qr_svg=segno.make(url, error="m").svg_data_uri(scale=4))


class ProgrammeStaffView(AdministrationAPIView):
    @extend_schema(
        responses={200: StaffMemberOutput(many=True), **problem_responses(403, 404)},
        summary="The programme's staff, their roles and 2FA state",
    )
    def get(self, request: Request, programme_id: int) -> Response:
        programme = self.programme_for(programme_id, policy.may_manage_staff, ADMINS_ONLY)
        members = staff_services.staff_of(programme)
        # many=True takes the rows; the stubs type one row (typeddjango/djangorestframework-stubs#260).
        return Response(StaffMemberOutput(members, many=True).data)  # type: ignore[arg-type]

    @extend_schema(
        request=InviteInput,
        responses={201: InviteOutput, **problem_responses(400, 403, 404, 409)},
        summary="Invite a staff member: a one-time setup link",
    )
    def post(self, request: Request, programme_id: int) -> Response:
        programme = self.programme_for(programme_id, policy.may_manage_staff, ADMINS_ONLY)
        data = self.parse_body(InviteInput)
        invitation = staff_services.invite_staff(programme=programme, actor=self.staff_user, **data)
        body = _setup_link(invitation.user.pk, request, invitation.token)
        return Response(InviteOutput(body).data, status=status.HTTP_201_CREATED)


class StaffMemberView(AdministrationAPIView):
    @extend_schema(
        request=RolesInput,
        responses={200: StaffMemberOutput, **problem_responses(400, 403, 404)},
        summary="Replace a staff member's roles in the programme",
    )
    def put(self, request: Request, programme_id: int, user_id: int) -> Response:
        programme = self.programme_for(programme_id, policy.may_manage_staff, ADMINS_ONLY)
        staff_services.programme_member(programme, user_id)
        roles = self.parse_body(RolesInput)["roles"]
        member = staff_services.set_roles(programme=programme, actor=self.staff_user, user_id=user_id, roles=roles)
        return Response(StaffMemberOutput(member).data)


class StaffDeactivateView(AdministrationAPIView):
    @extend_schema(
        request=None,
        responses={200: DeactivationOutput, **problem_responses(403, 404, 409)},
        summary="Take a staff member off the programme at once",
    )
    def post(self, request: Request, programme_id: int, user_id: int) -> Response:
        programme = self.programme_for(programme_id, policy.may_manage_staff, ADMINS_ONLY)
        result = staff_services.deactivate_staff(programme=programme, actor=self.staff_user, user_id=user_id)
        return Response(DeactivationOutput(result).data)


class StaffResetTwoFactorView(AdministrationAPIView):
    @extend_schema(
        request=None,
        responses={200: InviteOutput, **problem_responses(403, 404)},
        summary="Remove a staff member's authenticator: a one-time link to enrol a new one",
    )
    def post(self, request: Request, programme_id: int, user_id: int) -> Response:
        programme = self.programme_for(programme_id, policy.may_manage_staff, ADMINS_ONLY)
        token = staff_services.reset_second_factor(programme=programme, actor=self.staff_user, user_id=user_id)
        return Response(InviteOutput(_setup_link(user_id, request, token)).data)
