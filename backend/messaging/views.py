"""Conversations and messages over REST (thin views over messaging.services/selectors)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.models import Device
from backend.input_validation import StrictSerializer, TextField
from backend.messaging import selectors, services
from backend.messaging.rate_limits import require_send_budget
from backend.problems import Problem


class ConversationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    case_id = serializers.IntegerField()
    unread = serializers.IntegerField()
    last_seq = serializers.IntegerField()


class SendInput(StrictSerializer):
    client_id = serializers.UUIDField()
    body = TextField(max_length=16000, trim_whitespace=False, allow_blank=True)


class MessageOutput(serializers.Serializer):
    id = serializers.IntegerField()
    seq = serializers.IntegerField()
    client_id = serializers.UUIDField()
    sender = serializers.IntegerField(help_text="user id of the sender")
    body = serializers.CharField(help_text="empty if the case's content was erased")
    created_at = serializers.DateTimeField()


class MessagePageOutput(serializers.Serializer):
    results = MessageOutput(many=True)
    has_more = serializers.BooleanField()


class ReadInput(StrictSerializer):
    up_to_seq = serializers.IntegerField(min_value=0)


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise Problem(status_code=400, slug="validation", detail="Must be an integer.", field=name) from None


def _device(request: Request) -> Device | None:
    return request.auth if isinstance(request.auth, Device) else None


class ConversationListView(APIView):
    @extend_schema(responses={200: ConversationOutput(many=True)}, summary="The caller's conversations")
    def get(self, request: Request) -> Response:
        return Response(selectors.conversations_for(request.user))


class MessagesView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("after_seq", int, description="return messages after this sequence number"),
            OpenApiParameter("limit", int, description=f"1 to {selectors.MAX_PAGE}, default 100"),
        ],
        responses={200: MessagePageOutput},
        summary="Messages after a cursor, in order",
    )
    def get(self, request: Request, conversation_id: int) -> Response:
        conversation = selectors.conversation_for(request.user, conversation_id)
        page = selectors.messages_after(
            request.user,
            conversation,
            after_seq=_int_param(request, "after_seq", 0),
            limit=_int_param(request, "limit", 100),
        )
        return Response({"results": page.results, "has_more": page.has_more})

    @extend_schema(
        request=SendInput,
        responses={201: MessageOutput, 200: MessageOutput},
        summary="Send a message (idempotent per client_id)",
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        conversation = selectors.conversation_for(request.user, conversation_id)
        data = SendInput(data=request.data)
        data.is_valid(raise_exception=True)
        require_send_budget(user=request.user, device=_device(request))
        result = services.send_message(
            sender=request.user,
            sender_device=_device(request),
            conversation=conversation,
            client_id=data.validated_data["client_id"],
            body=data.validated_data["body"],
        )
        return Response(
            selectors.message_payload(result.message, result.body),
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class ReadView(APIView):
    @extend_schema(request=ReadInput, responses={204: None}, summary="Mark messages read up to a sequence number")
    def post(self, request: Request, conversation_id: int) -> Response:
        conversation = selectors.conversation_for(request.user, conversation_id)
        data = ReadInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.mark_read(user=request.user, conversation=conversation, up_to_seq=data.validated_data["up_to_seq"])
        return Response(status=status.HTTP_204_NO_CONTENT)
