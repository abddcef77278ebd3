"""A programme's audit trail over REST (supervisors and admins): paged and filtered, the
chain's verification verdict, and a CSV export. Thin views over ``audit_selectors``."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from backend.administration import audit_selectors
from backend.administration.api_base import AdministrationAPIView
from backend.administration.audit_selectors import AuditFilter, ShownEntry
from backend.audit.verification import VerificationResult, verify_chain
from backend.cases import policy
from backend.input_validation import IdField, QuerySerializer
from backend.problems import problem_responses

MANAGERS_ONLY = "Only the programme's supervisors and admins read its audit trail."
MAX_PAGE_SIZE = 200


class AuditQuery(QuerySerializer):
    actor = IdField(required=False, help_text="a staff member's user id")
    case = IdField(required=False)
    action = serializers.RegexField(
        r"^[a-z0-9_.]*$", max_length=64, required=False, default="", help_text="an action, or its start: case."
    )
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
    page = serializers.IntegerField(required=False, default=1, min_value=1, max_value=100_000)
    page_size = serializers.IntegerField(required=False, default=50, min_value=1, max_value=MAX_PAGE_SIZE)


class AuditEntryOutput(serializers.Serializer[ShownEntry]):
    seq = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    actor_id = serializers.IntegerField(
        allow_null=True, help_text="null for the system or someone outside the programme"
    )
    actor_label = serializers.CharField()
    action = serializers.CharField()
    case_id = serializers.IntegerField(allow_null=True)
    target = serializers.CharField()
    reason = serializers.CharField()
    details = serializers.DictField()


class AuditPageOutput(serializers.Serializer[dict[str, Any]]):
    count = serializers.IntegerField()
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    results = AuditEntryOutput(many=True)


class VerificationOutput(serializers.Serializer[VerificationResult]):
    ok = serializers.BooleanField()
    entries_checked = serializers.IntegerField()
    checkpoints_checked = serializers.IntegerField()
    first_broken_seq = serializers.IntegerField(allow_null=True)
    problem = serializers.CharField()


def _filter(data: dict[str, Any]) -> AuditFilter:
    return AuditFilter(
        actor=data.get("actor"),
        case=data.get("case"),
        action=data["action"],
        since=data.get("since"),
        until=data.get("until"),
    )


class AuditListView(AdministrationAPIView):
    @extend_schema(
        parameters=[AuditQuery],
        responses={200: AuditPageOutput, **problem_responses(400, 403, 404)},
        summary="The programme's audit entries, newest first",
    )
    def get(self, request: Request, programme_id: int) -> Response:
        programme = self.programme_for(programme_id, policy.may_read_programme_audit, MANAGERS_ONLY)
        query = self.parse_query(AuditQuery)
        rows = audit_selectors.programme_entries(programme, _filter(query))
        start = (query["page"] - 1) * query["page_size"]
        page = audit_selectors.shown(programme, rows[start : start + query["page_size"]])
        body = {"count": rows.count(), "page": query["page"], "page_size": query["page_size"], "results": page}
        return Response(AuditPageOutput(body).data)


class AuditVerificationView(AdministrationAPIView):
    @extend_schema(
        responses={200: VerificationOutput, **problem_responses(403, 404)},
        summary="verify_audit's verdict on the whole hash chain",
    )
    def get(self, request: Request, programme_id: int) -> Response:
        self.programme_for(programme_id, policy.may_read_programme_audit, MANAGERS_ONLY)
        return Response(VerificationOutput(verify_chain()).data)


class AuditExportView(AdministrationAPIView):
    @extend_schema(
        parameters=[AuditQuery],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="the filtered entries as CSV"),
            **problem_responses(400, 403, 404),
        },
        summary="The programme's audit entries as CSV (the filters of the list; no paging)",
    )
    def get(self, request: Request, programme_id: int) -> HttpResponse:
        programme = self.programme_for(programme_id, policy.may_read_programme_audit, MANAGERS_ONLY)
        wanted = _filter(self.parse_query(AuditQuery))
        text = audit_selectors.exported_csv(programme, wanted, actor=self.staff_user)
        response = HttpResponse(text, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="audit-programme-{programme.pk}.csv"'
        return response
