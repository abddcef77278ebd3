"""Device enrollment, token refresh, staff phones, and device revocation (thin views)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts import services
from backend.accounts.models import Device, User
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


def _enrolled(device: Device, pair: services.TokenPair, case: Case | None) -> dict[str, object]:
    return {
        "device_id": str(device.pk),
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "expires_in": pair.expires_in,
        "role": device.user.kind,
        "case_id": case.pk if case else None,
    }


def _parse(serializer_class: type[StrictSerializer], request: Request) -> StrictSerializer:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer


class EnrollView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [EnrollmentAddressThrottle, EnrollmentGlobalThrottle]

    @extend_schema(
        request=EnrollInput, responses={201: EnrolledOutput}, summary="Enroll the defector's app with a code"
    )
    def post(self, request: Request) -> Response:
        data = _parse(EnrollInput, request).validated_data
        device, pair, case = services.enroll_device(code=data["code"], keys=services.DeviceKeys(**data["device"]))
        return Response(_enrolled(device, pair, case), status=status.HTTP_201_CREATED)


class StaffDeviceView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [StaffLoginThrottle]

    @extend_schema(request=StaffDeviceInput, responses={201: EnrolledOutput}, summary="Enroll a staff phone")
    def post(self, request: Request) -> Response:
        data = _parse(StaffDeviceInput, request).validated_data
        device, pair = services.enroll_staff_device(
            username=data["username"],
            password=data["password"],
            otp=data["otp"],
            keys=services.DeviceKeys(**data["device"]),
        )
        return Response(_enrolled(device, pair, None), status=status.HTTP_201_CREATED)


class RefreshView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=RefreshInput, responses={200: TokenOutput}, summary="Rotate a device's tokens")
    def post(self, request: Request) -> Response:
        data = _parse(RefreshInput, request).validated_data
        pair = services.refresh_tokens(
            device_id=str(data["device_id"]),
            refresh_token=data["refresh_token"],
            timestamp=data["timestamp"],
            signature=data["signature"],
        )
        return Response(
            {"access_token": pair.access_token, "refresh_token": pair.refresh_token, "expires_in": pair.expires_in}
        )


class MeView(APIView):
    @extend_schema(responses={200: MeOutput}, summary="Who the caller is")
    def get(self, request: Request) -> Response:
        user: User = request.user
        device = request.auth if isinstance(request.auth, Device) else None
        case = policy.case_of_defector(user.pk)
        return Response(
            {
                "user_id": user.pk,
                "role": user.kind,
                "device_id": str(device.pk) if device else None,
                "case_id": case.pk if case else None,
            }
        )


class DeviceRevokeView(APIView):
    @extend_schema(request=RevokeInput, responses={204: None}, summary="Revoke a device at once")
    def post(self, request: Request, device_id: str) -> Response:
        reason = _parse(RevokeInput, request).validated_data["reason"]
        device = policy.device_for(request.user, device_id)
        services.revoke_device(device=device, actor=request.user, reason=reason)
        return Response(status=status.HTTP_204_NO_CONTENT)
