"""How the administration endpoints describe their errors in the OpenAPI schema: every
answer other than success is an RFC 9457 problem (``backend.problems``)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from backend.problems import TITLES, FieldError, ProblemBody


class FieldErrorOutput(serializers.Serializer[FieldError]):
    field = serializers.CharField(help_text='the wrong field ("" for the request as a whole)')
    message = serializers.CharField()


class ProblemOutput(serializers.Serializer[ProblemBody]):
    type = serializers.CharField(help_text="urn:livlina:problem:<slug>")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    # The body's key is "errors", which DRF's Serializer also names its validation errors.
    errors = FieldErrorOutput(many=True, required=False)  # type: ignore[assignment]


def problems(*status_codes: int) -> dict[int, Any]:
    """``extend_schema(responses=…)`` entries for these error statuses (401 and 403 of the
    view's base are added by the caller where they apply)."""
    return {code: OpenApiResponse(ProblemOutput, description=TITLES.get(code, "Error")) for code in status_codes}
