"""Alerts (and the panic button that raises one), escalation policies and on-call
schedules over REST (thin views)."""

from __future__ import annotations

from zoneinfo import available_timezones

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.models import Programme, StaffRole
from backend.accounts.permissions import IsDefector, IsStaffMember
from backend.cases import policy
from backend.crisis import escalation_policies, oncall_services, selectors, services
from backend.crisis.models import POLICY_ACTIONS, Alert, StepAction
from backend.crisis.severity import Severity
from backend.input_validation import StrictSerializer
from backend.problems import Problem


class AlertOutput(serializers.Serializer):
    id = serializers.IntegerField()
    case_id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Alert.Kind.values)
    severity = serializers.ChoiceField(choices=[s.value for s in Severity])
    state = serializers.ChoiceField(choices=Alert.State.choices)
    categories = serializers.ListField(child=serializers.CharField())
    trigger_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    acknowledged_by = serializers.IntegerField(allow_null=True)
    resolved_by = serializers.IntegerField(allow_null=True)


class TimelineItem(serializers.Serializer):
    at = serializers.DateTimeField()
    event = serializers.CharField()
    actor = serializers.IntegerField(allow_null=True)
    detail = serializers.DictField()


class AlertDetailOutput(AlertOutput):
    resolution_note = serializers.CharField()
    timeline = TimelineItem(many=True)


class PanicInput(StrictSerializer):
    """An empty object: the request itself is the signal."""


class AckInput(StrictSerializer):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ResolveInput(StrictSerializer):
    note = serializers.CharField(max_length=4000)


class StepInput(StrictSerializer):
    action = serializers.ChoiceField(choices=[a.value for a in POLICY_ACTIONS])
    minutes = serializers.IntegerField(min_value=1, max_value=240, required=False)

    def validate(self, attrs: dict) -> dict:
        if attrs["action"] == StepAction.WAIT and "minutes" not in attrs:
            raise serializers.ValidationError({"minutes": ["A wait step needs minutes."]})
        return attrs


class PolicyInput(StrictSerializer):
    steps = StepInput(many=True, allow_empty=False)
    repeat = serializers.IntegerField(min_value=1, max_value=20)


class PolicyOutput(serializers.Serializer):
    steps = serializers.ListField(child=serializers.DictField())
    repeat = serializers.IntegerField()


class RotationInput(StrictSerializer):
    name = serializers.CharField(max_length=100)
    members = serializers.ListField(child=serializers.IntegerField(), allow_empty=False)
    start_date = serializers.DateField()
    handoff_time = serializers.TimeField()
    shift_days = serializers.IntegerField(min_value=1, max_value=28)
    timezone = serializers.CharField(max_length=64)

    def validate_timezone(self, value: str) -> str:
        if value not in available_timezones():
            raise serializers.ValidationError("Not an IANA time zone.")
        return value


class OverrideInput(StrictSerializer):
    rotation = serializers.IntegerField()
    user = serializers.IntegerField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()

    def validate(self, attrs: dict) -> dict:
        if attrs["ends_at"] <= attrs["starts_at"]:
            raise serializers.ValidationError({"ends_at": ["Must be after starts_at."]})
        return attrs


class OnCallOutput(serializers.Serializer):
    on_call_now = serializers.ListField(child=serializers.IntegerField())
    gaps = serializers.ListField(child=serializers.DictField(), help_text="stretches with nobody on call, next 14 days")
    warnings = serializers.ListField(child=serializers.CharField())


def _parse(serializer_class: type[StrictSerializer], request: Request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class AlertListView(APIView):
    permission_classes = [IsStaffMember]

    @extend_schema(
        parameters=[OpenApiParameter("state", str, enum=["open", "acknowledged", "resolved"])],
        responses={200: AlertOutput(many=True)},
        summary="Alerts the caller may see",
    )
    def get(self, request: Request) -> Response:
        alerts = selectors.visible_alerts(request.user).order_by("-severity", "created_at")
        state = request.query_params.get("state")
        if state is not None:
            if state not in Alert.State.values:
                raise Problem(status_code=400, slug="validation", detail="Unknown state.", field="state")
            alerts = alerts.filter(state=state)
        return Response(AlertOutput([selectors.alert_summary(a) for a in alerts], many=True).data)


class AlertDetailView(APIView):
    permission_classes = [IsStaffMember]

    @extend_schema(responses={200: AlertDetailOutput}, summary="An alert with its timeline")
    def get(self, request: Request, alert_id: int) -> Response:
        alert = selectors.alert_for(request.user, alert_id)
        return Response(AlertDetailOutput(selectors.alert_detail(alert)).data)


class AlertAckView(APIView):
    permission_classes = [IsStaffMember]

    @extend_schema(request=AckInput, responses={200: AlertOutput}, summary="Acknowledge: stops escalation")
    def post(self, request: Request, alert_id: int) -> Response:
        alert = selectors.alert_for(request.user, alert_id)
        note = _parse(AckInput, request)["note"]
        alert = services.acknowledge_alert(alert=alert, user=request.user, note=note)
        return Response(AlertOutput(selectors.alert_summary(alert)).data)


class AlertResolveView(APIView):
    permission_classes = [IsStaffMember]

    @extend_schema(request=ResolveInput, responses={200: AlertOutput}, summary="Resolve with a note")
    def post(self, request: Request, alert_id: int) -> Response:
        alert = selectors.alert_for(request.user, alert_id)
        note = _parse(ResolveInput, request)["note"]
        alert = services.resolve_alert(alert=alert, user=request.user, note=note)
        return Response(AlertOutput(selectors.alert_summary(alert)).data)


class PanicView(APIView):
    permission_classes = [IsDefector]

    @extend_schema(request=PanicInput, responses={202: None}, summary="Raise a critical alert at once")
    def post(self, request: Request) -> Response:
        _parse(PanicInput, request)
        services.panic(user=request.user)
        return Response(status=status.HTTP_202_ACCEPTED)


def _programme_for_supervisor(request: Request, programme_id: int, *, write: bool) -> Programme:
    programme = Programme.objects.filter(pk=programme_id).first()
    if programme is None or not policy.has_role(request.user, programme_id, *StaffRole.Role.values):
        raise Problem(status_code=404, slug="not-found", detail="No such programme.")
    if write and not policy.is_supervisor(request.user, programme_id):
        raise Problem(status_code=403, slug="forbidden", detail="Only supervisors and admins may change this.")
    return programme


class EscalationPolicyView(APIView):
    permission_classes = [IsStaffMember]

    @extend_schema(responses={200: PolicyOutput}, summary="The programme's escalation policy")
    def get(self, request: Request, programme_id: int) -> Response:
        programme = _programme_for_supervisor(request, programme_id, write=False)
        return Response(escalation_policies.policy_for(programme))

    @extend_schema(request=PolicyInput, responses={200: PolicyOutput}, summary="Replace the escalation policy")
    def put(self, request: Request, programme_id: int) -> Response:
        programme = _programme_for_supervisor(request, programme_id, write=True)
        data = _parse(PolicyInput, request)
        return Response(
            escalation_policies.set_policy(
                programme=programme, steps=data["steps"], repeat=data["repeat"], actor=request.user
            )
        )


class OnCallView(APIView):
    permission_classes = [IsStaffMember]

    @extend_schema(responses={200: OnCallOutput}, summary="Who is on call now, and gaps in the next 14 days")
    def get(self, request: Request, programme_id: int) -> Response:
        programme = _programme_for_supervisor(request, programme_id, write=False)
        return Response(oncall_services.on_call_overview(programme))


class RotationView(APIView):
    permission_classes = [IsStaffMember]

    @extend_schema(request=RotationInput, responses={201: None}, summary="Add an on-call rotation")
    def post(self, request: Request, programme_id: int) -> Response:
        programme = _programme_for_supervisor(request, programme_id, write=True)
        data = _parse(RotationInput, request)
        rotation = oncall_services.add_rotation(programme=programme, actor=request.user, **data)
        return Response({"id": rotation.pk}, status=status.HTTP_201_CREATED)


class OverrideView(APIView):
    permission_classes = [IsStaffMember]

    @extend_schema(request=OverrideInput, responses={201: None}, summary="Someone covers one stretch")
    def post(self, request: Request, programme_id: int) -> Response:
        programme = _programme_for_supervisor(request, programme_id, write=True)
        data = _parse(OverrideInput, request)
        override = oncall_services.add_override(programme=programme, actor=request.user, **data)
        return Response({"id": override.pk}, status=status.HTTP_201_CREATED)
