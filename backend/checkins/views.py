"""Check-ins over REST (thin views over checkins.services)."""

from __future__ import annotations

from typing import Any, ClassVar

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from backend.accounts.api_views import DefectorAPIView, StaffAPIView
from backend.cases import policy
from backend.checkins import services
from backend.checkins.models import Checkin, CheckinSchedule
from backend.input_validation import QuerySerializer, StrictSerializer, TextField
from backend.problems import problem_responses


class ScheduleInput(StrictSerializer):
    rrule = TextField(max_length=500, required=False, allow_blank=True, default="", help_text="RFC 5545 RRULE")
    at = serializers.DateTimeField(required=False, help_text="a one-off check-in instead of an rrule")
    dtstart = serializers.DateTimeField(required=False, help_text="when the rule starts (default now)")
    timezone = serializers.CharField(max_length=64)
    window_minutes = serializers.IntegerField(min_value=5, max_value=24 * 60)
    grace_minutes = serializers.IntegerField(min_value=0, max_value=24 * 60)
    reminder_minutes = serializers.IntegerField(min_value=0, max_value=24 * 60, required=False, default=10)

    rules_beyond_schema: ClassVar[dict[str, str]] = {
        "timezone": "an IANA time zone name",
        "rrule": "an RRULE with a future occurrence and check-ins at least 15 minutes apart",
        "at": "in the future, at most two years ahead",
        "dtstart": "within a day before and two years after now",
        "window_minutes": "no longer than the time between check-ins",
    }
    # services.create_schedule: either an rrule (not blank once trimmed) or at, not both.
    schema_rules: ClassVar[dict[str, Any]] = {
        "oneOf": [
            {"required": ["rrule"], "properties": {"rrule": {"pattern": r"\S"}}, "not": {"required": ["at"]}},
            {"required": ["at"], "properties": {"rrule": {"pattern": r"^\s*$"}}},
        ]
    }


class ScheduleOutput(serializers.Serializer[CheckinSchedule]):
    id = serializers.IntegerField()
    rrule = serializers.CharField()
    timezone = serializers.CharField()
    window_minutes = serializers.IntegerField()
    grace_minutes = serializers.IntegerField()
    reminder_minutes = serializers.IntegerField()
    paused = serializers.BooleanField()
    next_due_at = serializers.DateTimeField(allow_null=True)


class OpenCheckinOutput(serializers.Serializer[Checkin]):
    id = serializers.IntegerField()
    due_at = serializers.DateTimeField()
    closes_at = serializers.DateTimeField()


class UpcomingQuery(QuerySerializer):
    limit = serializers.IntegerField(min_value=1, max_value=50, required=False, default=10)


class UpcomingCheckinOutput(serializers.Serializer[services.UpcomingCheckin]):
    schedule_id = serializers.IntegerField()
    due_at = serializers.DateTimeField()
    closes_at = serializers.DateTimeField()
    remind_at = serializers.DateTimeField(allow_null=True, help_text="when the reminder push comes, if any")
    window_minutes = serializers.IntegerField()
    reminder_minutes = serializers.IntegerField()


class RespondInput(StrictSerializer):
    status = serializers.ChoiceField(choices=sorted(services.ANSWERS))
    pin = serializers.RegexField(services.PIN_PATTERN, required=False)

    rules_beyond_schema: ClassVar[dict[str, str]] = {
        "pin": "given, and the app PIN or the duress PIN, once an app PIN is set (400 pin-required, pin-invalid)"
    }


class RespondOutput(serializers.Serializer[Checkin]):
    id = serializers.IntegerField()
    status = serializers.CharField()
    answered_at = serializers.DateTimeField()


class ExtendInput(StrictSerializer):
    minutes = serializers.IntegerField(min_value=1, max_value=60)


class PinInput(StrictSerializer):
    pin = serializers.RegexField(services.PIN_PATTERN)

    rules_beyond_schema: ClassVar[dict[str, str]] = {"pin": "the duress PIN differs from the app PIN"}


class HistoryOutput(serializers.Serializer[Checkin]):
    id = serializers.IntegerField()
    due_at = serializers.DateTimeField()
    closes_at = serializers.DateTimeField()
    status = serializers.CharField()
    late = serializers.BooleanField()
    answer = serializers.CharField()
    answered_at = serializers.DateTimeField(allow_null=True)
    missed_at = serializers.DateTimeField(allow_null=True)


class CaseSchedulesView(StaffAPIView):
    @extend_schema(responses={200: ScheduleOutput(many=True)}, summary="A case's check-in schedules")
    def get(self, request: Request, case_id: int) -> Response:
        case = policy.require_case_for_staff(self.staff_user, case_id)
        schedules = CheckinSchedule.objects.filter(case=case).order_by("pk")
        # many=True takes the rows; the stubs type one row (typeddjango/djangorestframework-stubs#260).
        return Response(ScheduleOutput(schedules, many=True).data)  # type: ignore[arg-type]

    @extend_schema(request=ScheduleInput, responses={201: ScheduleOutput}, summary="Create a check-in schedule")
    def post(self, request: Request, case_id: int) -> Response:
        case = policy.require_case_for_staff(self.staff_user, case_id)
        data = self.parse_body(ScheduleInput)
        schedule = services.create_schedule(
            case=case,
            actor=self.staff_user,
            rrule=data["rrule"],
            at=data.get("at"),
            dtstart=data.get("dtstart"),
            zone=data["timezone"],
            window_minutes=data["window_minutes"],
            grace_minutes=data["grace_minutes"],
            reminder_minutes=data["reminder_minutes"],
        )
        return Response(ScheduleOutput(schedule).data, status=status.HTTP_201_CREATED)


class SchedulePauseView(StaffAPIView):
    paused = True

    @extend_schema(request=None, responses={200: ScheduleOutput}, summary="Pause or resume a schedule")
    def post(self, request: Request, schedule_id: int) -> Response:
        schedule = services.schedule_for(self.staff_user, schedule_id)
        schedule = services.set_paused(schedule=schedule, actor=self.staff_user, paused=self.paused)
        return Response(ScheduleOutput(schedule).data)


class CaseCheckinHistoryView(StaffAPIView):
    @extend_schema(responses={200: HistoryOutput(many=True)}, summary="A case's check-ins: answered, late, missed")
    def get(self, request: Request, case_id: int) -> Response:
        case = policy.require_case_for_staff(self.staff_user, case_id)
        checkins = services.history_for(case)
        # many=True takes the rows; the stubs type one row (typeddjango/djangorestframework-stubs#260).
        return Response(HistoryOutput(checkins, many=True).data)  # type: ignore[arg-type]


class OpenCheckinsView(DefectorAPIView):
    @extend_schema(responses={200: OpenCheckinOutput(many=True)}, summary="The caller's open check-ins")
    def get(self, request: Request) -> Response:
        checkins = services.open_checkins_for(self.defector_user)
        # many=True takes the rows; the stubs type one row (typeddjango/djangorestframework-stubs#260).
        return Response(OpenCheckinOutput(checkins, many=True).data)  # type: ignore[arg-type]


class UpcomingCheckinsView(DefectorAPIView):
    @extend_schema(
        parameters=[UpcomingQuery],
        responses={200: UpcomingCheckinOutput(many=True)},
        summary="The caller's next check-ins, soonest first",
    )
    def get(self, request: Request) -> Response:
        limit = self.parse_query(UpcomingQuery)["limit"]
        upcoming = services.upcoming_checkins_for(self.defector_user, limit=limit)
        # many=True takes the rows; the stubs type one row (typeddjango/djangorestframework-stubs#260).
        return Response(UpcomingCheckinOutput(upcoming, many=True).data)  # type: ignore[arg-type]


class RespondView(DefectorAPIView):
    @extend_schema(
        request=RespondInput,
        responses={200: RespondOutput, **problem_responses(409, 429)},
        summary="Answer a check-in (429 `pin-locked` after too many wrong PINs)",
    )
    def post(self, request: Request, checkin_id: int) -> Response:
        data = self.parse_body(RespondInput)
        checkin = services.respond(
            user=self.defector_user, checkin_id=checkin_id, answer=data["status"], pin=data.get("pin")
        )
        return Response(RespondOutput(checkin).data)


class ExtendView(DefectorAPIView):
    @extend_schema(
        request=ExtendInput,
        responses={200: OpenCheckinOutput, **problem_responses(409)},
        summary="Extend an open check-in once",
    )
    def post(self, request: Request, checkin_id: int) -> Response:
        data = self.parse_body(ExtendInput)
        checkin = services.extend(user=self.defector_user, checkin_id=checkin_id, minutes=data["minutes"])
        return Response(OpenCheckinOutput(checkin).data)


class PinView(DefectorAPIView):
    duress = False

    @extend_schema(request=PinInput, responses={204: None}, summary="Set the app PIN or the duress PIN")
    def post(self, request: Request) -> Response:
        services.set_pin(user=self.defector_user, pin=self.parse_body(PinInput)["pin"], duress=self.duress)
        return Response(status=status.HTTP_204_NO_CONTENT)
