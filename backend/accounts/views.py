"""Staff phones and token refresh (thin views). Enrolling the defector's app with a code,
``/me`` (which names the caller's case) and revoking a device need the case and its
access policy: ``cases.device_views``."""

from __future__ import annotations

import uuid
from typing import TypedDict, TypeVar

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from backend.accounts import services
from backend.accounts.api_views import PublicAPIView
from backend.accounts.models import Device
from backend.accounts.throttles import LoginHeldBackError
from backend.input_validation import StrictSerializer
from backend.problems import problem_responses

# Standard base64 (padded) of exactly 32 and 64 bytes: what services._decode_b64 takes.
BASE64_32_BYTES = r"^[A-Za-z0-9+/]{43}=\Z"
BASE64_64_BYTES = r"^[A-Za-z0-9+/]{86}==\Z"


def _public_key_field(algorithm: str) -> serializers.RegexField:
    return serializers.RegexField(
        BASE64_32_BYTES,
        trim_whitespace=False,
        error_messages={"invalid": "Must be base64 of 32 bytes."},
        help_text=f"base64 of a 32-byte {algorithm} public key",
    )


class DeviceInput(StrictSerializer):
    name = serializers.CharField(max_length=100)
    platform = serializers.ChoiceField(choices=Device.Platform.choices)
    signing_key = _public_key_field("Ed25519")
    box_key = _public_key_field("X25519")
    push_token = serializers.CharField(max_length=4096, required=False, allow_blank=True, default="")


class StaffDeviceInput(StrictSerializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=1024, trim_whitespace=False)
    otp = serializers.RegexField(r"^\d{6,8}$", help_text="the current TOTP code")
    device = DeviceInput()


class RefreshInput(StrictSerializer):
    device_id = serializers.UUIDField()
    refresh_token = serializers.CharField(max_length=200)
    timestamp = serializers.RegexField(
        r"^[0-9]{1,20}\Z",
        trim_whitespace=False,
        error_messages={"invalid": "Must be Unix seconds (decimal digits)."},
        help_text="Unix seconds in decimal digits, as signed",
    )
    signature = serializers.RegexField(
        BASE64_64_BYTES,
        trim_whitespace=False,
        error_messages={"invalid": "Must be base64 of 64 bytes."},
        help_text="base64 Ed25519 over refresh_token + '.' + timestamp",
    )


class Enrolment(TypedDict):
    access_token: str
    refresh_token: str
    expires_in: int
    device_id: uuid.UUID
    role: str
    case_id: int | None


# A refresh answers with the tokens alone, an enrollment with the tokens and who enrolled.
_WithTokens = TypeVar("_WithTokens", services.TokenPair, Enrolment)


class _TokenFields(serializers.Serializer[_WithTokens]):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    expires_in = serializers.IntegerField()


class TokenOutput(_TokenFields[services.TokenPair]):
    pass


class EnrolledOutput(_TokenFields[Enrolment]):
    device_id = serializers.UUIDField()
    role = serializers.ChoiceField(choices=["defector", "staff"])
    case_id = serializers.IntegerField(allow_null=True)


def enrolled_output(device: Device, tokens: services.TokenPair, case_id: int | None) -> dict[str, object]:
    """The body of a successful enrollment (``EnrolledOutput``)."""
    enrolment = Enrolment(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
        device_id=device.pk,
        role=device.user.kind,
        case_id=case_id,
    )
    return EnrolledOutput(enrolment).data


class StaffDeviceView(PublicAPIView):
    carries_secrets = True

    # Held back per account and per address by services.staff_login, as the inbox's login.
    @extend_schema(
        request=StaffDeviceInput,
        responses={201: EnrolledOutput, **problem_responses(401, 429)},
        summary="Enroll a staff phone",
    )
    def post(self, request: Request) -> Response:
        data = self.parse_body(StaffDeviceInput)
        try:
            device, pair = services.enroll_staff_device(
                username=data["username"],
                password=data["password"],
                otp=data["otp"],
                keys=services.DeviceKeys(**data["device"]),
                address=request.META.get("REMOTE_ADDR", ""),
            )
        except LoginHeldBackError as held:
            raise exceptions.Throttled(wait=held.retry_after) from None
        return Response(enrolled_output(device, pair, None), status=status.HTTP_201_CREATED)


class RefreshView(PublicAPIView):
    carries_secrets = True

    @extend_schema(
        request=RefreshInput, responses={200: TokenOutput, **problem_responses(401)}, summary="Rotate a device's tokens"
    )
    def post(self, request: Request) -> Response:
        data = self.parse_body(RefreshInput)
        pair = services.refresh_tokens(
            device_id=str(data["device_id"]),
            refresh_token=data["refresh_token"],
            timestamp=data["timestamp"],
            signature=data["signature"],
        )
        return Response(TokenOutput(pair).data)
