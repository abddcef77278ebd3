"""Working hours and absences of a programme's staff, and the programme's alert limits,
over REST (supervisors). Thin views over ``settings_services``."""

from __future__ import annotations

from typing import Any, ClassVar
from zoneinfo import available_timezones

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from backend.administration import settings_services, staff_services
from backend.administration.api_base import AdministrationAPIView
from backend.administration.settings_services import AlertLimits
from backend.cases import policy
from backend.crisis.models import WorkingHours
from backend.input_validation import LocalTimeField, StrictSerializer
from backend.problems import problem_responses

SUPERVISORS_ONLY = "Only the programme's supervisors may do this."
MAX_ABSENCES = 50


class AbsenceInput(StrictSerializer):
    # "from" is a Python keyword, hence the declared fields below.
    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        return {"from": serializers.DateField(), "until": serializers.DateField()}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["until"] < attrs["from"]:
            raise serializers.ValidationError({"until": ["Must not be before from."]})
        return attrs


class WorkingHoursInput(StrictSerializer):
    weekdays = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=7), max_length=7)
    start = LocalTimeField()
    end = LocalTimeField()
    timezone = serializers.CharField(max_length=64)
    absences = serializers.ListField(child=AbsenceInput(), required=False, default=list, max_length=MAX_ABSENCES)

    rules_beyond_schema: ClassVar[dict[str, str]] = {
        "timezone": "an IANA time zone name",
        "end": "after start",
        "absences": "each one's until on or after its from",
    }

    def validate_timezone(self, value: str) -> str:
        if value not in available_timezones():
            raise serializers.ValidationError("Not an IANA time zone.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": ["Must be after start."]})
        return attrs


class AbsenceOutput(serializers.Serializer[dict[str, str]]):
    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        return {"from": serializers.DateField(), "until": serializers.DateField()}


class WorkingHoursOutput(serializers.Serializer[WorkingHours]):
    user = serializers.IntegerField(source="user_id")
    weekdays = serializers.ListField(child=serializers.IntegerField(), help_text="ISO weekdays, 1 = Monday")
    start = LocalTimeField()
    end = LocalTimeField()
    timezone = serializers.CharField()
    absences = AbsenceOutput(many=True)


class AlertLimitsSerializer(StrictSerializer):
    ack_timeout_minutes = serializers.IntegerField(
        min_value=1, max_value=24 * 60, help_text="an acknowledged, unresolved alert re-opens after this"
    )
    unanswered_limit_minutes = serializers.IntegerField(
        min_value=1, max_value=24 * 60, help_text="a defector's message unread this long raises an alert"
    )


class AlertLimitsOutput(serializers.Serializer[AlertLimits]):
    ack_timeout_minutes = serializers.IntegerField()
    unanswered_limit_minutes = serializers.IntegerField()


class WorkingHoursView(AdministrationAPIView):
    @extend_schema(
        responses={200: WorkingHoursOutput, **problem_responses(403, 404)},
        summary="A staff member's working hours and absences (the defaults if none were set)",
    )
    def get(self, request: Request, programme_id: int, user_id: int) -> Response:
        programme = self.programme_for(programme_id, policy.may_administer_cases, SUPERVISORS_ONLY)
        user = staff_services.programme_member(programme, user_id)
        return Response(WorkingHoursOutput(settings_services.working_hours_of(user)).data)

    @extend_schema(
        request=WorkingHoursInput,
        responses={200: WorkingHoursOutput, **problem_responses(400, 403, 404)},
        summary="Set a staff member's working hours and absences",
    )
    def put(self, request: Request, programme_id: int, user_id: int) -> Response:
        programme = self.programme_for(programme_id, policy.may_administer_cases, SUPERVISORS_ONLY)
        user = staff_services.programme_member(programme, user_id)
        data = self.parse_body(WorkingHoursInput)
        hours = settings_services.set_working_hours(programme=programme, actor=self.staff_user, user=user, **data)
        return Response(WorkingHoursOutput(hours).data)


class AlertLimitsView(AdministrationAPIView):
    @extend_schema(responses={200: AlertLimitsOutput, **problem_responses(404)}, summary="The programme's alert limits")
    def get(self, request: Request, programme_id: int) -> Response:
        programme = self.programme_for(programme_id, policy.works_in_programme, "")
        return Response(AlertLimitsOutput(settings_services.alert_limits(programme)).data)

    @extend_schema(
        request=AlertLimitsSerializer,
        responses={200: AlertLimitsOutput, **problem_responses(400, 403, 404)},
        summary="Set the acknowledgement timeout and the unanswered-message limit",
    )
    def put(self, request: Request, programme_id: int) -> Response:
        programme = self.programme_for(programme_id, policy.may_administer_cases, SUPERVISORS_ONLY)
        data = self.parse_body(AlertLimitsSerializer)
        limits = settings_services.set_alert_limits(programme=programme, actor=self.staff_user, **data)
        return Response(AlertLimitsOutput(limits).data)
