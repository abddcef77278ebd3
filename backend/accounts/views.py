"""Device enrollment, token refresh, staff phones, and device revocation (thin views)."""

from __future__ import annotations

import uuid
from dataclasses import asdict

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from backend.accounts import services
from backend.accounts.api_views import PublicAPIView, SignedInAPIView
from backend.accounts.models import Device
from backend.accounts.throttles import EnrollmentAddressThrottle, EnrollmentGlobalThrottle, StaffLoginThrottle
from backend.cases import policy
from backend.cases.models import Case
from backend.input_validation import StrictSerializer


class DeviceInput(StrictSerializer):
    name = serializers.CharField(max_length=100)
    platform = serializers.ChoiceField(choices=Device.Platform.choices)
    signing_key = serializers.CharField(max_length=64, help_text="base64 of a 32-byte Ed25519 public key")
    box_key = serializers.CharField(max_length=64, help_text="base64 of a 32-byte X25519 public key")
    push_token = serializers.CharField(max_length=4096, required=False, allow_blank=True, default="")


class EnrollInput(StrictSerializer):
    code = serializers.CharField(max_length=64)
    device = DeviceInput()


class StaffDeviceInput(StrictSerializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=1024, trim_whitespace=False)
    otp = serializers.RegexField(r"^\d{6,8}$", help_text="the current TOTP code")
    device = DeviceInput()


class RefreshInput(StrictSerializer):
    device_id = serializers.UUIDField()
    refresh_token = serializers.CharField(max_length=200)
    timestamp = serializers.CharField(max_length=20, help_text="Unix seconds, as signed")
    signature = serializers.CharField(max_length=200, help_text="base64 Ed25519 over refresh_token + '.' + timestamp")


class TokenOutput(serializers.Serializer):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    expires_in = serializers.IntegerField()


class EnrolledOutput(TokenOutput):
    device_id = serializers.UUIDField()
    role = serializers.ChoiceField(choices=["defector", "staff"])
    case_id = serializers.IntegerField(allow_null=True)


class RevokeInput(StrictSerializer):
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class MeOutput(serializers.Serializer):
    user_id = serializers.IntegerField()
    role = serializers.ChoiceField(choices=["defector", "staff"])
    device_id = serializers.UUIDField(allow_null=True)
    case_id = serializers.IntegerField(allow_null=True)


def _enrolled(device: Device, tokens: services.TokenPair, case: Case | None) -> dict[str, object]:
    return EnrolledOutput(
        {**asdict(tokens), "device_id": device.pk, "role": device.user.kind, "case_id": case.pk if case else None}
    ).data


class EnrollView(PublicAPIView):
    throttle_classes = [EnrollmentAddressThrottle, EnrollmentGlobalThrottle]

    @extend_schema(
        request=EnrollInput, responses={201: EnrolledOutput}, summary="Enroll the defector's app with a code"
    )
    def post(self, request: Request) -> Response:
        data = self.parse_body(EnrollInput)
        device, pair, case = services.enroll_device(code=data["code"], keys=services.DeviceKeys(**data["device"]))
        return Response(_enrolled(device, pair, case), status=status.HTTP_201_CREATED)


class StaffDeviceView(PublicAPIView):
    throttle_classes = [StaffLoginThrottle]

    @extend_schema(request=StaffDeviceInput, responses={201: EnrolledOutput}, summary="Enroll a staff phone")
    def post(self, request: Request) -> Response:
        data = self.parse_body(StaffDeviceInput)
        device, pair = services.enroll_staff_device(
            username=data["username"],
            password=data["password"],
            otp=data["otp"],
            keys=services.DeviceKeys(**data["device"]),
        )
        return Response(_enrolled(device, pair, None), status=status.HTTP_201_CREATED)


class RefreshView(PublicAPIView):
    @extend_schema(request=RefreshInput, responses={200: TokenOutput}, summary="Rotate a device's tokens")
    def post(self, request: Request) -> Response:
        data = self.parse_body(RefreshInput)
        pair = services.refresh_tokens(
            device_id=str(data["device_id"]),
            refresh_token=data["refresh_token"],
            timestamp=data["timestamp"],
            signature=data["signature"],
        )
        return Response(TokenOutput(pair).data)


class MeView(SignedInAPIView):
    @extend_schema(responses={200: MeOutput}, summary="Who the caller is")
    def get(self, request: Request) -> Response:
        user = self.caller
        device = self.calling_device
        case = policy.case_of_defector(user.pk)
        return Response(
            MeOutput(
                {
                    "user_id": user.pk,
                    "role": user.kind,
                    "device_id": device.pk if device else None,
                    "case_id": case.pk if case else None,
                }
            ).data
        )


class DeviceRevokeView(SignedInAPIView):
    @extend_schema(request=RevokeInput, responses={204: None}, summary="Revoke a device at once")
    def post(self, request: Request, device_id: uuid.UUID) -> Response:
        reason = self.parse_body(RevokeInput)["reason"]
        device = policy.device_for(self.caller, device_id)
        services.revoke_device(device=device, actor=self.caller, reason=reason)
        return Response(status=status.HTTP_204_NO_CONTENT)
