"""Cases as staff and defectors see them (thin views over cases.services/selectors)."""

from __future__ import annotations

import segno
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.permissions import IsStaffMember
from backend.cases import enrollment, policy, selectors, services
from backend.cases.models import Case
from backend.input_validation import StrictSerializer
from backend.problems import Problem


class CaseOutput(serializers.Serializer):
    id = serializers.IntegerField()
    programme_id = serializers.IntegerField()
    alias = serializers.CharField(source="defector.alias")
    status = serializers.CharField()
    created_at = serializers.DateTimeField()


class EnrollmentCodeOutput(serializers.Serializer):
    code = serializers.CharField()
    expires_at = serializers.DateTimeField()
    qr_svg = serializers.CharField(help_text="data: URI of an SVG QR code holding the code")


class BreakGlassInput(StrictSerializer):
    reason = serializers.CharField(max_length=2000)


class BreakGlassOutput(serializers.Serializer):
    case_id = serializers.IntegerField()
    expires_at = serializers.DateTimeField()


class DeviceOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    platform = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class CaseListView(APIView):
    @extend_schema(responses={200: CaseOutput(many=True)}, summary="Cases the caller may see")
    def get(self, request: Request) -> Response:
        return Response(CaseOutput(selectors.cases_for(request.user), many=True).data)


class CaseDetailView(APIView):
    @extend_schema(responses={200: CaseOutput}, summary="One case (staff reads are audited)")
    def get(self, request: Request, case_id: int) -> Response:
        why = request.query_params.get("why", "")
        if len(why) > 200 or any(ord(ch) < 32 for ch in why):
            raise Problem(status_code=400, slug="validation", detail="At most 200 printable characters.", field="why")
        case = selectors.case_for_reading(request.user, case_id, why=why)
        return Response(CaseOutput(case).data)


class EnrollmentCodeView(APIView):
    permission_classes = [IsStaffMember]

    @extend_schema(request=None, responses={201: EnrollmentCodeOutput}, summary="A one-time enrollment code + QR")
    def post(self, request: Request, case_id: int) -> Response:
        case = policy.require_case_for_staff(request.user, case_id)
        code, row = enrollment.create_enrollment_code(case=case, created_by=request.user)
        qr = segno.make(code, error="m").svg_data_uri(scale=4)
        return Response({"code": code, "expires_at": row.expires_at, "qr_svg": qr}, status=status.HTTP_201_CREATED)


class BreakGlassView(APIView):
    permission_classes = [IsStaffMember]

    @extend_schema(request=BreakGlassInput, responses={201: BreakGlassOutput}, summary="Supervisor opens a case")
    def post(self, request: Request, case_id: int) -> Response:
        data = BreakGlassInput(data=request.data)
        data.is_valid(raise_exception=True)
        grant = services.open_break_glass(
            case_id=case_id, supervisor=request.user, reason=data.validated_data["reason"]
        )
        return Response({"case_id": grant.case_id, "expires_at": grant.expires_at}, status=status.HTTP_201_CREATED)


class CaseDevicesView(APIView):
    permission_classes = [IsStaffMember]

    @extend_schema(responses={200: DeviceOutput(many=True)}, summary="The defector's devices on a case")
    def get(self, request: Request, case_id: int) -> Response:
        case: Case = policy.require_case_for_staff(request.user, case_id)
        return Response(DeviceOutput(policy.case_devices(case), many=True).data)
