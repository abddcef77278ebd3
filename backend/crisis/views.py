"""Alerts (and the panic button that raises one), escalation policies and on-call
schedules over REST (thin views)."""

from __future__ import annotations

from typing import Any, ClassVar
from zoneinfo import available_timezones

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from backend.accounts.api_views import DefectorAPIView, StaffAPIView
from backend.accounts.models import Programme
from backend.cases import policy
from backend.crisis import duress_phrases, escalation_policies, oncall_services, selectors, services
from backend.crisis.escalation_policies import PolicyShape
from backend.crisis.models import POLICY_ACTIONS, Alert, OnCallOverride, OnCallRotation, StepAction
from backend.crisis.oncall_services import CoverageWarning, OnCallOverview
from backend.crisis.outputs import AlertDetailOutput, AlertOutput
from backend.input_validation import IdField, LocalTimeField, QuerySerializer, StrictSerializer
from backend.problems import Problem, problem_responses
from backend.push.reachability import Unreachable


class AlertListQuery(QuerySerializer):
    state = serializers.ChoiceField(
        choices=Alert.State.choices, required=False, error_messages={"invalid_choice": "Unknown state."}
    )


class CreatedOutput(serializers.Serializer[OnCallRotation | OnCallOverride]):
    id = serializers.IntegerField()


class PanicInput(StrictSerializer):
    """An empty object: the request itself is the signal."""


class DuressPhraseInput(StrictSerializer):
    phrase = serializers.CharField(
        max_length=200,
        help_text="the phrase agreed with the defector; stored only as a keyed hash, never shown again",
    )

    rules_beyond_schema: ClassVar[dict[str, str]] = {
        "phrase": f"{duress_phrases.MIN_WORDS} to {duress_phrases.MAX_WORDS} words and at least"
        f" {duress_phrases.MIN_LETTERS} letters once normalised"
    }


class AckInput(StrictSerializer):
    note = serializers.CharField(max_length=services.NOTE_MAX_CHARS, required=False, allow_blank=True, default="")


class ResolveInput(StrictSerializer):
    note = serializers.CharField(max_length=services.RESOLUTION_MAX_CHARS)


class StepInput(StrictSerializer):
    action = serializers.ChoiceField(choices=[a.value for a in POLICY_ACTIONS])
    minutes = serializers.IntegerField(min_value=1, max_value=240, required=False)

    # validate() below: a wait step needs minutes.
    schema_rules: ClassVar[dict[str, Any]] = {
        "anyOf": [{"properties": {"action": {"not": {"enum": [StepAction.WAIT.value]}}}}, {"required": ["minutes"]}]
    }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["action"] == StepAction.WAIT and "minutes" not in attrs:
            raise serializers.ValidationError({"minutes": ["A wait step needs minutes."]})
        return attrs


class PolicyInput(StrictSerializer):
    steps = StepInput(many=True, allow_empty=False)
    repeat = serializers.IntegerField(min_value=1, max_value=20)

    # escalation_policies.set_policy: a policy must notify someone, so not every step waits.
    schema_rules: ClassVar[dict[str, Any]] = {
        "not": {"properties": {"steps": {"items": {"properties": {"action": {"enum": [StepAction.WAIT.value]}}}}}}
    }


class PolicyOutput(serializers.Serializer[PolicyShape]):
    steps = serializers.ListField(child=serializers.DictField())
    repeat = serializers.IntegerField()


class RotationInput(StrictSerializer):
    name = serializers.CharField(max_length=100)
    members = serializers.ListField(child=IdField(), allow_empty=False)
    start_date = serializers.DateField()
    handoff_time = LocalTimeField()
    shift_days = serializers.IntegerField(min_value=1, max_value=28)
    timezone = serializers.CharField(max_length=64)

    rules_beyond_schema: ClassVar[dict[str, str]] = {
        "members": "staff of the programme",
        "timezone": "an IANA time zone name",
    }

    def validate_timezone(self, value: str) -> str:
        if value not in available_timezones():
            raise serializers.ValidationError("Not an IANA time zone.")
        return value


class OverrideInput(StrictSerializer):
    rotation = IdField()
    user = IdField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()

    rules_beyond_schema: ClassVar[dict[str, str]] = {
        "rotation": "a rotation of this programme",
        "user": "staff of the programme",
        "ends_at": "after starts_at",
    }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["ends_at"] <= attrs["starts_at"]:
            raise serializers.ValidationError({"ends_at": ["Must be after starts_at."]})
        return attrs


class CoverageWarningOutput(serializers.Serializer[CoverageWarning]):
    code = serializers.ChoiceField(choices=["nobody_on_call", "on_call_unreachable"])
    text = serializers.CharField()
    user_id = serializers.IntegerField(allow_null=True, help_text="the staff member, for on_call_unreachable")
    reason = serializers.ChoiceField(
        choices=Unreachable.choices, allow_null=True, help_text="why their phone cannot be reached"
    )
    starts_at = serializers.DateTimeField(allow_null=True, help_text="the stretch, for nobody_on_call")
    ends_at = serializers.DateTimeField(allow_null=True)


class RotationOutput(serializers.Serializer[OnCallRotation]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    members = serializers.ListField(child=serializers.IntegerField(), help_text="user ids, in turn order")
    start_date = serializers.DateField()
    handoff_time = LocalTimeField()
    shift_days = serializers.IntegerField()
    timezone = serializers.CharField()


class OverrideOutput(serializers.Serializer[OnCallOverride]):
    id = serializers.IntegerField()
    rotation = serializers.IntegerField(source="rotation_id")
    user = serializers.IntegerField(source="user_id")
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()


class OnCallOutput(serializers.Serializer[OnCallOverview]):
    on_call_now = serializers.ListField(child=serializers.IntegerField())
    gaps = serializers.ListField(child=serializers.DictField(), help_text="stretches with nobody on call, next 14 days")
    warnings = serializers.ListField(child=serializers.CharField(), help_text="the texts of warning_details")
    warning_details = CoverageWarningOutput(many=True)


class AlertListView(StaffAPIView):
    @extend_schema(
        parameters=[AlertListQuery], responses={200: AlertOutput(many=True)}, summary="Alerts the caller may see"
    )
    def get(self, request: Request) -> Response:
        state = self.parse_query(AlertListQuery).get("state")
        alerts = selectors.visible_alerts(self.staff_user).order_by("-severity", "created_at")
        if state is not None:
            alerts = alerts.filter(state=state)
        # many=True takes the rows; the stubs type one row (typeddjango/djangorestframework-stubs#260).
        return Response(AlertOutput(alerts, many=True).data)  # type: ignore[arg-type]


class AlertDetailView(StaffAPIView):
    @extend_schema(responses={200: AlertDetailOutput}, summary="An alert with its timeline")
    def get(self, request: Request, alert_id: int) -> Response:
        alert = selectors.alert_for(self.staff_user, alert_id)
        return Response(AlertDetailOutput(alert, context={"timeline": selectors.alert_timeline(alert)}).data)


class AlertAckView(StaffAPIView):
    @extend_schema(
        request=AckInput,
        responses={200: AlertOutput, **problem_responses(409)},
        summary="Acknowledge: stops escalation",
    )
    def post(self, request: Request, alert_id: int) -> Response:
        alert = selectors.alert_for(self.staff_user, alert_id)
        note = self.parse_body(AckInput)["note"]
        alert = services.acknowledge_alert(alert=alert, user=self.staff_user, note=note)
        return Response(AlertOutput(alert).data)


class AlertResolveView(StaffAPIView):
    @extend_schema(
        request=ResolveInput, responses={200: AlertOutput, **problem_responses(409)}, summary="Resolve with a note"
    )
    def post(self, request: Request, alert_id: int) -> Response:
        alert = selectors.alert_for(self.staff_user, alert_id)
        note = self.parse_body(ResolveInput)["note"]
        alert = services.resolve_alert(alert=alert, user=self.staff_user, note=note)
        return Response(AlertOutput(alert).data)


class PanicView(DefectorAPIView):
    @extend_schema(
        request=PanicInput,
        responses={202: None, **problem_responses(404)},
        summary="Raise a critical alert at once (404 when the device's case is gone)",
    )
    def post(self, request: Request) -> Response:
        self.parse_body(PanicInput)
        services.panic(user=self.defector_user)
        return Response(status=status.HTTP_202_ACCEPTED)


class DuressPhraseView(StaffAPIView):
    @extend_schema(
        request=DuressPhraseInput,
        responses={204: None, **problem_responses(409)},
        summary="Set the case's agreed duress phrase (staff assigned to the case)",
    )
    def put(self, request: Request, case_id: int) -> Response:
        phrase = self.parse_body(DuressPhraseInput)["phrase"]
        duress_phrases.set_duress_phrase(actor=self.staff_user, case_id=case_id, phrase=phrase)
        return Response(status=status.HTTP_204_NO_CONTENT)


# A programme's escalation policy and on-call schedule: everyone who works in the
# programme reads them, supervisors and admins change them; to anyone else the programme
# does not exist.
class ProgrammeSettingsView(StaffAPIView):
    def programme(self, programme_id: int, *, change: bool) -> Programme:
        programme = Programme.objects.filter(pk=programme_id).first()
        if programme is None or not policy.works_in_programme(self.staff_user, programme_id):
            raise Problem(status_code=404, slug="not-found", detail="No such programme.")
        if change and not policy.may_manage_programme_settings(self.staff_user, programme_id):
            raise Problem(status_code=403, slug="forbidden", detail="Only supervisors and admins may change this.")
        return programme


class EscalationPolicyView(ProgrammeSettingsView):
    @extend_schema(responses={200: PolicyOutput}, summary="The programme's escalation policy")
    def get(self, request: Request, programme_id: int) -> Response:
        programme = self.programme(programme_id, change=False)
        return Response(PolicyOutput(escalation_policies.policy_for(programme)).data)

    @extend_schema(request=PolicyInput, responses={200: PolicyOutput}, summary="Replace the escalation policy")
    def put(self, request: Request, programme_id: int) -> Response:
        programme = self.programme(programme_id, change=True)
        data = self.parse_body(PolicyInput)
        changed = escalation_policies.set_policy(
            programme=programme, steps=data["steps"], repeat=data["repeat"], actor=self.staff_user
        )
        return Response(PolicyOutput(changed).data)


class OnCallView(ProgrammeSettingsView):
    @extend_schema(responses={200: OnCallOutput}, summary="Who is on call now, and gaps in the next 14 days")
    def get(self, request: Request, programme_id: int) -> Response:
        programme = self.programme(programme_id, change=False)
        return Response(OnCallOutput(oncall_services.on_call_overview(programme)).data)


class RotationView(ProgrammeSettingsView):
    @extend_schema(
        responses={200: RotationOutput(many=True), **problem_responses(404)},
        summary="The programme's on-call rotations",
    )
    def get(self, request: Request, programme_id: int) -> Response:
        programme = self.programme(programme_id, change=False)
        rotations = oncall_services.rotations_of(programme)
        # many=True takes the rows; the stubs type one row (typeddjango/djangorestframework-stubs#260).
        return Response(RotationOutput(rotations, many=True).data)  # type: ignore[arg-type]

    @extend_schema(request=RotationInput, responses={201: CreatedOutput}, summary="Add an on-call rotation")
    def post(self, request: Request, programme_id: int) -> Response:
        programme = self.programme(programme_id, change=True)
        data = self.parse_body(RotationInput)
        rotation = oncall_services.add_rotation(programme=programme, actor=self.staff_user, **data)
        return Response(CreatedOutput(rotation).data, status=status.HTTP_201_CREATED)


class RotationDetailView(ProgrammeSettingsView):
    @extend_schema(
        request=RotationInput,
        responses={200: RotationOutput, **problem_responses(400, 403, 404)},
        summary="Change an on-call rotation",
    )
    def put(self, request: Request, programme_id: int, rotation_id: int) -> Response:
        programme = self.programme(programme_id, change=True)
        oncall_services.rotation_in(programme, rotation_id)
        data = self.parse_body(RotationInput)
        rotation = oncall_services.update_rotation(
            programme=programme, actor=self.staff_user, rotation_id=rotation_id, **data
        )
        return Response(RotationOutput(rotation).data)

    @extend_schema(
        responses={204: None, **problem_responses(403, 404)}, summary="Delete an on-call rotation and its overrides"
    )
    def delete(self, request: Request, programme_id: int, rotation_id: int) -> Response:
        programme = self.programme(programme_id, change=True)
        oncall_services.delete_rotation(programme=programme, actor=self.staff_user, rotation_id=rotation_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class OverrideView(ProgrammeSettingsView):
    @extend_schema(
        responses={200: OverrideOutput(many=True), **problem_responses(404)},
        summary="Overrides not yet over, soonest first",
    )
    def get(self, request: Request, programme_id: int) -> Response:
        programme = self.programme(programme_id, change=False)
        overrides = oncall_services.overrides_of(programme)
        # many=True takes the rows; the stubs type one row (typeddjango/djangorestframework-stubs#260).
        return Response(OverrideOutput(overrides, many=True).data)  # type: ignore[arg-type]

    @extend_schema(request=OverrideInput, responses={201: CreatedOutput}, summary="Someone covers one stretch")
    def post(self, request: Request, programme_id: int) -> Response:
        programme = self.programme(programme_id, change=True)
        data = self.parse_body(OverrideInput)
        override = oncall_services.add_override(programme=programme, actor=self.staff_user, **data)
        return Response(CreatedOutput(override).data, status=status.HTTP_201_CREATED)


class OverrideDetailView(ProgrammeSettingsView):
    @extend_schema(
        request=OverrideInput,
        responses={200: OverrideOutput, **problem_responses(400, 403, 404)},
        summary="Change an override",
    )
    def put(self, request: Request, programme_id: int, override_id: int) -> Response:
        programme = self.programme(programme_id, change=True)
        oncall_services.override_in(programme, override_id)
        data = self.parse_body(OverrideInput)
        override = oncall_services.update_override(
            programme=programme, actor=self.staff_user, override_id=override_id, **data
        )
        return Response(OverrideOutput(override).data)

    @extend_schema(responses={204: None, **problem_responses(403, 404)}, summary="Delete an override")
    def delete(self, request: Request, programme_id: int, override_id: int) -> Response:
        programme = self.programme(programme_id, change=True)
        oncall_services.delete_override(programme=programme, actor=self.staff_user, override_id=override_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
