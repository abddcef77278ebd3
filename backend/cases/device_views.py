"""The device endpoints that need the case (thin views): enrolling the defector's app with
a one-time code, ``/me`` (which names the caller's case), a phone's update of its own
push token and name (audited under the defector's case), and revoking a device (the
access policy decides who may). Staff phones and token refresh are ``accounts.views``."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar, TypedDict

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from backend.accounts import services as account_services
from backend.accounts.api_views import PublicAPIView, SignedInAPIView
from backend.accounts.models import Device
from backend.accounts.throttles import DeviceUpdateThrottle
from backend.accounts.views import DeviceInput, EnrolledOutput, enrolled_output
from backend.cases import enrollment, policy
from backend.cases.throttles import EnrollmentAddressThrottle, note_wrong_enrollment_code
from backend.input_validation import StrictSerializer, TextField
from backend.problems import Problem


class EnrollInput(StrictSerializer):
    code = serializers.CharField(max_length=64)
    device = DeviceInput()

    rules_beyond_schema: ClassVar[dict[str, str]] = {
        "code": "a code issued for an open case, unused and unexpired (400 enrollment-code-* or case-closed)"
    }


class RevokeInput(StrictSerializer):
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class OwnDeviceInput(StrictSerializer):
    push_token = TextField(
        max_length=4096,
        required=False,
        allow_blank=True,
        validators=[RegexValidator(r"^[!-~]+\Z", message="Printable ASCII without spaces only.")],
        help_text="the app's current Firebase installation ID; empty for no push",
    )
    name = TextField(max_length=100, required=False)

    schema_rules: ClassVar[dict[str, Any]] = {"minProperties": 1}

    def validate(self, attrs: dict[str, str]) -> dict[str, str]:
        if not attrs:
            raise serializers.ValidationError("Give push_token, name or both.")
        return attrs


class OwnDeviceOutput(serializers.Serializer[Device]):
    id = serializers.UUIDField()
    name = serializers.CharField()
    platform = serializers.CharField()
    push_enabled = serializers.SerializerMethodField(help_text="whether the device has a push token")
    created_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField(allow_null=True)

    def get_push_enabled(self, device: Device) -> bool:
        return bool(device.push_token)


class Me(TypedDict):
    user_id: int
    role: str
    device_id: uuid.UUID | None
    case_id: int | None


class MeOutput(serializers.Serializer[Me]):
    user_id = serializers.IntegerField()
    role = serializers.ChoiceField(choices=["defector", "staff"])
    device_id = serializers.UUIDField(allow_null=True)
    case_id = serializers.IntegerField(allow_null=True)


class EnrollView(PublicAPIView):
    carries_secrets = True

    throttle_classes = [EnrollmentAddressThrottle]

    @extend_schema(
        request=EnrollInput, responses={201: EnrolledOutput}, summary="Enroll the defector's app with a code"
    )
    def post(self, request: Request) -> Response:
        data = self.parse_body(EnrollInput)
        try:
            device, pair, case = enrollment.enroll_device(
                code=data["code"], keys=account_services.DeviceKeys(**data["device"])
            )
        except Problem as problem:
            if problem.slug == "enrollment-code-invalid":
                note_wrong_enrollment_code()
            raise
        return Response(enrolled_output(device, pair, case.pk), status=status.HTTP_201_CREATED)


class MeView(SignedInAPIView):
    @extend_schema(responses={200: MeOutput}, summary="Who the caller is")
    def get(self, request: Request) -> Response:
        user = self.caller
        device = self.calling_device
        case = policy.case_of_defector(user.pk)
        return Response(
            MeOutput(
                Me(
                    user_id=user.pk,
                    role=user.kind,
                    device_id=device.pk if device else None,
                    case_id=case.pk if case else None,
                )
            ).data
        )


class DeviceRevokeView(SignedInAPIView):
    @extend_schema(request=RevokeInput, responses={204: None}, summary="Revoke a device at once")
    def post(self, request: Request, device_id: uuid.UUID) -> Response:
        reason = self.parse_body(RevokeInput)["reason"]
        device = policy.device_for(self.caller, device_id)
        account_services.revoke_device(device=device, actor=self.caller, reason=reason)
        return Response(status=status.HTTP_204_NO_CONTENT)


class OwnDeviceView(SignedInAPIView):
    throttle_classes = [DeviceUpdateThrottle]

    @extend_schema(
        request=OwnDeviceInput, responses={200: OwnDeviceOutput}, summary="The calling phone's push token and name"
    )
    def put(self, request: Request) -> Response:
        device = self.calling_device
        if device is None:
            raise Problem(status_code=403, slug="forbidden", detail="Only an enrolled phone can update itself.")
        data = self.parse_body(OwnDeviceInput)
        case = policy.case_of_defector(self.caller.pk)
        updated = account_services.update_device(
            device=device, push_token=data.get("push_token"), name=data.get("name"), case_id=case.pk if case else None
        )
        return Response(OwnDeviceOutput(updated).data)
