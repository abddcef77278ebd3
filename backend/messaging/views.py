"""Conversations and messages over REST (thin views over messaging.services/selectors)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from backend.accounts.api_views import SignedInAPIView
from backend.input_validation import (
    MAX_DATABASE_INTEGER,
    NOT_BLANK_TEXT_PATTERN,
    QuerySerializer,
    StrictSerializer,
    TextField,
)
from backend.messaging import selectors, services
from backend.messaging.models import Conversation
from backend.messaging.rate_limits import require_send_budget
from backend.problems import problem_responses


class ConversationOutput(serializers.Serializer[Conversation]):
    id = serializers.IntegerField()
    case_id = serializers.IntegerField()
    unread = serializers.IntegerField()
    last_seq = serializers.IntegerField()


# The body's rules are services.clean_body's, which the socket shares: 1 to 4,000
# characters once trimmed (400 `body-too-long` above). The field itself only stops bodies
# far over that early (400 `validation` above 16,000).
@extend_schema_field(
    {
        "type": "string",
        "minLength": 1,
        "maxLength": services.MAX_BODY_CHARS,
        "pattern": NOT_BLANK_TEXT_PATTERN,
        "description": f"1 to {services.MAX_BODY_CHARS} characters once leading and trailing whitespace is trimmed",
    }
)
class MessageBodyField(TextField):
    pass


class SendInput(StrictSerializer):
    client_id = serializers.UUIDField()
    body = MessageBodyField(max_length=4 * services.MAX_BODY_CHARS, trim_whitespace=False)


class MessageOutput(serializers.Serializer[selectors.MessagePayload]):
    id = serializers.IntegerField()
    seq = serializers.IntegerField()
    client_id = serializers.UUIDField()
    sender = serializers.IntegerField(help_text="user id of the sender")
    body = serializers.CharField(help_text="empty if the case's content was erased")
    created_at = serializers.DateTimeField()


class MessagePageOutput(serializers.Serializer[selectors.MessagePage]):
    results = MessageOutput(many=True)
    has_more = serializers.BooleanField()
    content_shredded = serializers.BooleanField(help_text="the case was crypto-shredded: no body can be read")


class ReadInput(StrictSerializer):
    up_to_seq = serializers.IntegerField(min_value=0, max_value=MAX_DATABASE_INTEGER)


class MessagesQuery(QuerySerializer):
    # selectors.messages_after checks the same ranges for the socket's sync; here they are
    # checked first so that the schema states them.
    after_seq = serializers.IntegerField(
        required=False,
        default=0,
        min_value=0,
        max_value=MAX_DATABASE_INTEGER,
        error_messages={"invalid": "Must be an integer.", "min_value": "Must be 0 or more."},
        help_text="return messages after this sequence number",
    )
    limit = serializers.IntegerField(
        required=False,
        default=100,
        min_value=1,
        max_value=selectors.MAX_PAGE,
        error_messages={
            "invalid": "Must be an integer.",
            "min_value": f"Must be 1 to {selectors.MAX_PAGE}.",
            "max_value": f"Must be 1 to {selectors.MAX_PAGE}.",
        },
        help_text=f"1 to {selectors.MAX_PAGE}, default 100",
    )


class ConversationListView(SignedInAPIView):
    @extend_schema(responses={200: ConversationOutput(many=True)}, summary="The caller's conversations")
    def get(self, request: Request) -> Response:
        conversations = selectors.conversations_for(self.caller)
        # many=True takes the rows; the stubs type one row (typeddjango/djangorestframework-stubs#260).
        return Response(ConversationOutput(conversations, many=True).data)  # type: ignore[arg-type]


class MessagesView(SignedInAPIView):
    @extend_schema(
        parameters=[MessagesQuery], responses={200: MessagePageOutput}, summary="Messages after a cursor, in order"
    )
    def get(self, request: Request, conversation_id: int) -> Response:
        conversation = selectors.conversation_for(self.caller, conversation_id)
        query = self.parse_query(MessagesQuery)
        page = selectors.messages_after(self.caller, conversation, after_seq=query["after_seq"], limit=query["limit"])
        return Response(MessagePageOutput(page).data)

    @extend_schema(
        request=SendInput,
        responses={201: MessageOutput, 200: MessageOutput, **problem_responses(409, 429)},
        summary="Send a message (idempotent per client_id)",
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        conversation = selectors.conversation_for(self.caller, conversation_id)
        data = self.parse_body(SendInput)
        require_send_budget(user=self.caller, device=self.calling_device)
        result = services.send_message(
            sender=self.caller,
            sender_device=self.calling_device,
            conversation=conversation,
            client_id=data["client_id"],
            body=data["body"],
        )
        return Response(
            MessageOutput(selectors.message_payload(result.message, result.body)).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class ReadView(SignedInAPIView):
    @extend_schema(request=ReadInput, responses={204: None}, summary="Mark messages read up to a sequence number")
    def post(self, request: Request, conversation_id: int) -> Response:
        conversation = selectors.conversation_for(self.caller, conversation_id)
        up_to_seq = self.parse_body(ReadInput)["up_to_seq"]
        services.mark_read(user=self.caller, conversation=conversation, up_to_seq=up_to_seq)
        return Response(status=status.HTTP_204_NO_CONTENT)
