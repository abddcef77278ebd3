"""Cases as staff and defectors see them (thin views over cases.services/selectors)."""

from __future__ import annotations

import datetime as dt
import re
from typing import ClassVar, TypedDict
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
from backend.problems import Problem, problem_responses

READ_REASON_HEADER = "X-Livlina-Reason"
READ_REASON_MAX_CHARS = 200
READ_REASON_RULE = f"At most {READ_REASON_MAX_CHARS} printable characters, percent-encoded UTF-8."

# The header as sent, character by character: printable ASCII other than "%", or the
# percent-encoded UTF-8 of any character but a control character (C0, DEL, C1) or a
# surrogate. The reason lands in the audit log, where a control character could forge a
# line. One pattern, which the schema states and the server applies.
_HEX = "[0-9A-Fa-f]"
_CONTINUATION = f"%[89ABab]{_HEX}"
_ONE_CHARACTER = "|".join(
    [
        "[ -$&-~]",  # printable ASCII but "%"
        f"%[2-6]{_HEX}|%7[0-9A-Ea-e]",  # the same, encoded
        f"%[Cc]2%[ABab]{_HEX}|%[Cc][3-9A-Fa-f]{_CONTINUATION}|%[Dd]{_HEX}{_CONTINUATION}",  # U+00A0-U+07FF
        f"%[Ee]0%[ABab]{_HEX}{_CONTINUATION}|%[Ee][1-9A-Ca-cEeFf]{_CONTINUATION * 2}",  # U+0800-U+FFFF
        f"%[Ee][Dd]%[89]{_HEX}{_CONTINUATION}",  # U+D000-U+D7FF (no surrogates)
        f"%[Ff]0%[9ABab]{_HEX}{_CONTINUATION * 2}|%[Ff][1-3]{_CONTINUATION * 3}|%[Ff]4%8{_HEX}{_CONTINUATION * 2}",
    ]
)
READ_REASON_PATTERN = f"^(?:{_ONE_CHARACTER}){{0,{READ_REASON_MAX_CHARS}}}$"


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
    header = request.headers.get(READ_REASON_HEADER, "")
    if not re.fullmatch(READ_REASON_PATTERN, header):
        raise Problem(status_code=400, slug="validation", detail=READ_REASON_RULE, field=READ_REASON_HEADER)
    return unquote(header)


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

    rules_beyond_schema: ClassVar[dict[str, str]] = {
        "reason": f"at least {services.BREAK_GLASS_MIN_REASON} characters once trimmed"
    }


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
                {"type": "string", "pattern": READ_REASON_PATTERN},
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

    @extend_schema(
        request=None,
        responses={201: EnrollmentCodeOutput, **problem_responses(409)},
        summary="A one-time enrollment code + QR",
    )
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
