"""Moving a case to another programme over REST: proposed by a supervisor of the sending
programme, accepted or declined by one of the receiving programme. Thin views over
``transfer_services``."""

from __future__ import annotations

from typing import ClassVar, TypedDict

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from backend.accounts.models import Programme
from backend.administration import transfer_services
from backend.administration.api_base import AdministrationAPIView
from backend.administration.models import CaseTransfer
from backend.cases import policy
from backend.input_validation import IdField, StrictSerializer
from backend.problems import problem_responses

SUPERVISORS_ONLY = "Only the programme's supervisors may move a case."


class ProposeInput(StrictSerializer):
    to_programme = IdField(help_text="id of the receiving programme")

    rules_beyond_schema: ClassVar[dict[str, str]] = {"to_programme": "another programme of this installation"}


class AcceptInput(StrictSerializer):
    primary_contact = IdField(help_text="user id of a contact person of the receiving programme")

    rules_beyond_schema: ClassVar[dict[str, str]] = {"primary_contact": "a contact person of the receiving programme"}


class DeclineInput(StrictSerializer):
    """An empty object."""


class TransferCreatedJson(TypedDict):
    id: int


class TransferCreatedOutput(serializers.Serializer[TransferCreatedJson]):
    id = serializers.IntegerField()


class ProgrammeOutput(serializers.Serializer[Programme]):
    id = serializers.IntegerField()
    name = serializers.CharField()


class TransferOutput(serializers.Serializer[CaseTransfer]):
    id = serializers.IntegerField()
    case_id = serializers.IntegerField()
    alias = serializers.CharField(source="case.defector.alias")
    from_programme = ProgrammeOutput()
    to_programme = ProgrammeOutput()
    state = serializers.ChoiceField(choices=CaseTransfer.State.choices)
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()


class ProgrammeDirectoryView(AdministrationAPIView):
    @extend_schema(
        responses={200: ProgrammeOutput(many=True)}, summary="The programmes of this installation (transfer targets)"
    )
    def get(self, request: Request) -> Response:
        programmes = Programme.objects.order_by("name")
        # many=True takes the rows; the stubs type one row (typeddjango/djangorestframework-stubs#260).
        return Response(ProgrammeOutput(programmes, many=True).data)  # type: ignore[arg-type]


class CaseTransfersView(AdministrationAPIView):
    @extend_schema(
        request=ProposeInput,
        responses={201: TransferCreatedOutput, **problem_responses(400, 403, 404, 409)},
        summary="Propose moving a case to another programme (answered within 7 days)",
    )
    def post(self, request: Request, case_id: int) -> Response:
        case = self.case_for(case_id, policy.may_administer_cases, SUPERVISORS_ONLY)
        to_programme = self.parse_body(ProposeInput)["to_programme"]
        transfer = transfer_services.propose_transfer(case=case, actor=self.staff_user, to_programme=to_programme)
        return Response(TransferCreatedOutput(TransferCreatedJson(id=transfer.pk)).data, status=status.HTTP_201_CREATED)


class TransferListView(AdministrationAPIView):
    @extend_schema(
        responses={200: TransferOutput(many=True)},
        summary="Transfers into and out of the programmes the caller supervises, newest first",
    )
    def get(self, request: Request) -> Response:
        transfers = transfer_services.transfers_for(self.staff_user)
        # many=True takes the rows; the stubs type one row (typeddjango/djangorestframework-stubs#260).
        return Response(TransferOutput(transfers, many=True).data)  # type: ignore[arg-type]


class TransferAcceptView(AdministrationAPIView):
    @extend_schema(
        request=AcceptInput,
        responses={200: TransferOutput, **problem_responses(400, 403, 404, 409)},
        summary="Accept a case into the programme, naming its new primary contact",
    )
    def post(self, request: Request, transfer_id: int) -> Response:
        transfer = transfer_services.transfer_for_receiver(self.staff_user, transfer_id)
        primary_contact = self.parse_body(AcceptInput)["primary_contact"]
        accepted = transfer_services.accept_transfer(
            transfer=transfer, actor=self.staff_user, primary_contact=primary_contact
        )
        return Response(TransferOutput(accepted).data)


class TransferDeclineView(AdministrationAPIView):
    @extend_schema(
        request=DeclineInput,
        responses={200: TransferOutput, **problem_responses(403, 404, 409)},
        summary="Decline a proposed transfer",
    )
    def post(self, request: Request, transfer_id: int) -> Response:
        transfer = transfer_services.transfer_for_receiver(self.staff_user, transfer_id)
        self.parse_body(DeclineInput)
        declined = transfer_services.decline_transfer(transfer=transfer, actor=self.staff_user)
        return Response(TransferOutput(declined).data)
