"""A programme's cases over REST: opening one, who works it, closing and shredding it.
Thin views over ``case_services``; the access policy decides who may."""

from __future__ import annotations

from typing import ClassVar

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from backend.administration import case_services
from backend.administration.api_base import AdministrationAPIView
from backend.administration.case_services import ShredState
from backend.cases import policy
from backend.cases.models import CaseAssignment
from backend.cases.views import CaseOutput
from backend.input_validation import IdField, StrictSerializer, TextField
from backend.problems import problem_responses

SUPERVISORS_ONLY = "Only the programme's supervisors may do this."
MAY_OPEN = "Only contact persons, supervisors and admins open cases."


class OpenCaseInput(StrictSerializer):
    alias = TextField(max_length=80)
    primary_contact = IdField(help_text="user id of a contact person of the programme")
    backups = serializers.ListField(child=IdField(), required=False, default=list)

    rules_beyond_schema: ClassVar[dict[str, str]] = {
        "primary_contact": "a contact person of the programme",
        "backups": "staff who may be backup contacts in the programme",
    }


class AssignmentInput(StrictSerializer):
    user = IdField()
    role = serializers.ChoiceField(choices=CaseAssignment.Role.choices)

    rules_beyond_schema: ClassVar[dict[str, str]] = {"user": "staff of the case's programme who may take the role"}


class AssignmentOutput(serializers.Serializer[CaseAssignment]):
    case_id = serializers.IntegerField()
    user = serializers.IntegerField(source="staff_id")
    role = serializers.CharField()


class CloseInput(StrictSerializer):
    note = TextField(max_length=4000, help_text="why: also resolves the case's open alerts")


class ShredOutput(serializers.Serializer[ShredState]):
    case_id = serializers.IntegerField(source="case.pk")
    state = serializers.ChoiceField(choices=case_services.SHRED_STATES)
    confirm_before = serializers.DateTimeField(allow_null=True, help_text="when the request lapses unconfirmed")


class ProgrammeCasesView(AdministrationAPIView):
    @extend_schema(
        request=OpenCaseInput,
        responses={201: CaseOutput, **problem_responses(400, 403, 404)},
        summary="Open a case: its defector, primary contact and backups",
    )
    def post(self, request: Request, programme_id: int) -> Response:
        programme = self.programme_for(programme_id, policy.may_open_cases, MAY_OPEN)
        data = self.parse_body(OpenCaseInput)
        case = case_services.open_programme_case(programme=programme, actor=self.staff_user, **data)
        return Response(CaseOutput(case).data, status=status.HTTP_201_CREATED)


class CaseAssignmentsView(AdministrationAPIView):
    @extend_schema(
        request=AssignmentInput,
        responses={201: AssignmentOutput, **problem_responses(400, 403, 404, 409)},
        summary="Name the primary contact (the one before leaves the case) or add a backup",
    )
    def post(self, request: Request, case_id: int) -> Response:
        case = self.case_for(case_id, policy.may_administer_cases, SUPERVISORS_ONLY)
        data = self.parse_body(AssignmentInput)
        assignment = case_services.set_assignment(
            case=case, actor=self.staff_user, user_id=data["user"], role=data["role"]
        )
        return Response(AssignmentOutput(assignment).data, status=status.HTTP_201_CREATED)


class CaseAssignmentView(AdministrationAPIView):
    @extend_schema(
        responses={204: None, **problem_responses(403, 404, 409)},
        summary="Take a backup off the case (access ends at once)",
    )
    def delete(self, request: Request, case_id: int, user_id: int) -> Response:
        case = self.case_for(case_id, policy.may_administer_cases, SUPERVISORS_ONLY)
        case_services.remove_assignment(case=case, actor=self.staff_user, user_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CaseCloseView(AdministrationAPIView):
    @extend_schema(
        request=CloseInput,
        responses={200: CaseOutput, **problem_responses(400, 403, 404, 409)},
        summary="Close a case: devices revoked, schedules stopped, open alerts resolved; content kept",
    )
    def post(self, request: Request, case_id: int) -> Response:
        case = self.case_for(case_id, policy.may_administer_cases, SUPERVISORS_ONLY)
        note = self.parse_body(CloseInput)["note"]
        closed = case_services.close_case(case=case, actor=self.staff_user, note=note)
        return Response(CaseOutput(closed).data)


class CaseShredView(AdministrationAPIView):
    @extend_schema(
        request=None,
        responses={200: ShredOutput, 202: ShredOutput, **problem_responses(403, 404, 409)},
        summary="Crypto-shred a closed case: asked by one supervisor, confirmed by another within 24 h",
    )
    def post(self, request: Request, case_id: int) -> Response:
        case = self.case_for(case_id, policy.may_administer_cases, SUPERVISORS_ONLY)
        result = case_services.request_shred(case=case, actor=self.staff_user)
        code = status.HTTP_200_OK if result.state == "shredded" else status.HTTP_202_ACCEPTED
        return Response(ShredOutput(result).data, status=code)
