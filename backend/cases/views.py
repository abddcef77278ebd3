"""Cases as staff and defectors see them (thin views over cases.services/selectors)."""

from __future__ import annotations

import datetime as dt
from typing import TypedDict
from urllib.parse import unquote

import segno
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from backend.accounts.api_views import SignedInAPIView, StaffAPIView
from backend.accounts.models import Device
from backend.cases import enrollment, policy, selectors, services
from backend.cases.models import AccessGrant, Case
from backend.input_validation import StrictSerializer
from backend.problems import Problem

READ_REASON_HEADER = "X-Livlina-Reason"
READ_REASON_MAX_CHARS = 200
READ_REASON_RULE = f"At most {READ_REASON_MAX_CHARS} printable characters, percent-encoded UTF-8."


def read_reason(request: Request) -> str:
    """Why staff open a case, for the audit log: from the ``X-Livlina-Reason`` header
    (percent-encoded UTF-8, as headers carry only ASCII safely), never from the URL, which
    every access log on the way keeps."""
    if "why" in request.query_params:
        raise Problem(
            status_code=400,
            slug="validation",
            detail=f"Send the reason in the {READ_REASON_HEADER} header: URLs are logged.",
            field="why",
        )
    try:
        reason = unquote(request.headers.get(READ_REASON_HEADER, ""), errors="strict")
    except UnicodeDecodeError:
        reason = "\x00"  # refused below
    # The reason lands in the audit log; control characters could forge its lines.
    if len(reason) > READ_REASON_MAX_CHARS or any(ch < " " or ch == "\x7f" for ch in reason):
        raise Problem(status_code=400, slug="validation", detail=READ_REASON_RULE, field=READ_REASON_HEADER)
    return reason


class CaseOutput(serializers.Serializer[Case]):
    id = serializers.IntegerField()
    programme_id = serializers.IntegerField()
    alias = serializers.CharField(source="defector.alias")
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    content_shredded = serializers.SerializerMethodField(help_text="the case was crypto-shredded: its content is gone")

    def get_content_shredded(self, case: Case) -> bool:
        # The vault sits above cases, so its key row is asked for by relation name.
        return Case.objects.filter(pk=case.pk, data_key__shredded_at__isnull=False).exists()


class EnrollmentCode(TypedDict):
    code: str
    expires_at: dt.datetime
    qr_svg: str


class EnrollmentCodeOutput(serializers.Serializer[EnrollmentCode]):
    code = serializers.CharField()
    expires_at = serializers.DateTimeField()
    qr_svg = serializers.CharField(help_text="data: URI of an SVG QR code holding the code")


class BreakGlassInput(StrictSerializer):
    reason = serializers.CharField(max_length=2000)


class BreakGlassOutput(serializers.Serializer[AccessGrant]):
    case_id = serializers.IntegerField()
    expires_at = serializers.DateTimeField()


class DeviceOutput(serializers.Serializer[Device]):
    id = serializers.UUIDField()
    name = serializers.CharField()
    platform = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class CaseListView(SignedInAPIView):
    @extend_schema(responses={200: CaseOutput(many=True)}, summary="Cases the caller may see")
    def get(self, request: Request) -> Response:
        cases = selectors.cases_for(self.caller)
        # many=True takes the rows; the stubs type one row (typeddjango/djangorestframework-stubs#260).
        return Response(CaseOutput(cases, many=True).data)  # type: ignore[arg-type]


class CaseDetailView(SignedInAPIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                READ_REASON_HEADER,
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="why staff open the case (percent-encoded UTF-8, at most 200 characters): written to"
                " the audit log with the read. Not in the URL, which access logs keep.",
            )
        ],
        responses={200: CaseOutput},
        summary="One case (staff reads are audited)",
    )
    def get(self, request: Request, case_id: int) -> Response:
        case = selectors.case_for_reading(self.caller, case_id, why=read_reason(request))
        return Response(CaseOutput(case).data)


class EnrollmentCodeView(StaffAPIView):
    carries_secrets = True

    @extend_schema(request=None, responses={201: EnrollmentCodeOutput}, summary="A one-time enrollment code + QR")
    def post(self, request: Request, case_id: int) -> Response:
        case = policy.require_case_for_staff(self.staff_user, case_id)
        code, row = enrollment.create_enrollment_code(case=case, created_by=self.staff_user)
        qr = segno.make(code, error="m").svg_data_uri(scale=4)
        return Response(
            EnrollmentCodeOutput(EnrollmentCode(code=code, expires_at=row.expires_at, qr_svg=qr)).data,
            status=status.HTTP_201_CREATED,
        )


class BreakGlassView(StaffAPIView):
    @extend_schema(request=BreakGlassInput, responses={201: BreakGlassOutput}, summary="Supervisor opens a case")
    def post(self, request: Request, case_id: int) -> Response:
        reason = self.parse_body(BreakGlassInput)["reason"]
        grant = services.open_break_glass(case_id=case_id, supervisor=self.staff_user, reason=reason)
        return Response(BreakGlassOutput(grant).data, status=status.HTTP_201_CREATED)


class CaseDevicesView(StaffAPIView):
    @extend_schema(responses={200: DeviceOutput(many=True)}, summary="The defector's devices on a case")
    def get(self, request: Request, case_id: int) -> Response:
        case = policy.require_case_for_staff(self.staff_user, case_id)
        devices = policy.case_devices(case)
        # many=True takes the rows; the stubs type one row (typeddjango/djangorestframework-stubs#260).
        return Response(DeviceOutput(devices, many=True).data)  # type: ignore[arg-type]
