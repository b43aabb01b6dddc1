"""Seed 001 (ASAPP "List messages"):
GET /conversation/v1/conversations/{conversationId}/messages

Authenticated by `asapp-api-id` and `asapp-api-secret` (a workspace API key).
Returns `{"items": [...]}`: every message of the conversation that is not
deleted, in chronological order. The seed documents no query parameters and
no paging, so there are none (a conversation over CHAT_COMPAT_MAX_MESSAGES
is a 422-01). Every error is `{"error": {"requestId", "code", "message"}}`
with the code "<status>-01".
"""

from http import HTTPStatus
from typing import Any

from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from chatproject.ids import parse_id
from conversations import selectors as conversation_selectors
from conversations.models import Membership
from integrations.auth import AsappKeyAuthentication
from integrations.base import CompatView, iso, text_with_files, whole_conversation
from messaging.models import Message

ROLES = ["agent", "customer", "system"]

# The seed's message for its default (500) error.
INTERNAL_ERROR = "Internal server error"


def sender_role(message: Message, roles: dict[int, str]) -> str:
    """system for system messages; customer for a member whose role is
    customer, and for a deleted user (their role went with their membership:
    customer does not attribute their words to the business); agent for
    everyone else who writes (agents, bots, and the members of ordinary
    conversations)."""
    if message.kind == Message.Kind.SYSTEM:
        return "system"
    if message.sender_id is None or roles.get(message.sender_id) == Membership.Role.CUSTOMER:
        return "customer"
    return "agent"


def render_message(message: Message, roles: dict[int, str]) -> dict[str, Any]:
    return {
        "text": text_with_files(message),
        "sender": {
            "role": sender_role(message, roles),
            "externalId": message.sender.external_id if message.sender else None,
        },
        "messageId": str(message.pk),
        "createdTimestamp": iso(message.created_at),
        "clientTimestamp": iso(message.client_timestamp),
    }


# Schema ----------------------------------------------------------------------


class AsappSenderSerializer(serializers.Serializer):
    role = serializers.ChoiceField(
        choices=ROLES,
        help_text="system for system messages, customer for customers (and deleted users), "
        "agent for the others.",
    )
    externalId = serializers.CharField(allow_null=True, help_text="The sender's external id.")


class AsappMessageSerializer(serializers.Serializer):
    text = serializers.CharField(min_length=1)
    sender = AsappSenderSerializer()
    messageId = serializers.CharField(min_length=1)
    createdTimestamp = serializers.DateTimeField(help_text="When the server stored the message.")
    clientTimestamp = serializers.DateTimeField(
        allow_null=True,
        help_text="When the client says it sent the message; null when it did not say.",
    )


class AsappMessagesSerializer(serializers.Serializer):
    items = AsappMessageSerializer(many=True)


AsappError = inline_serializer(
    name="AsappError",
    fields={
        "error": inline_serializer(
            name="AsappErrorDetails",
            fields={
                "requestId": serializers.CharField(help_text="Also in the X-Request-ID header."),
                "code": serializers.CharField(help_text='"<status>-01", e.g. 404-01.'),
                "message": serializers.CharField(),
            },
        )
    },
)

ERROR_STATUSES = [400, 401, 403, 404, 409, 413, 422, 429, 500, 503]


class AsappMessagesView(CompatView):
    authentication_classes = [AsappKeyAuthentication]

    @extend_schema(
        operation_id="seed001_list_messages",
        summary="List messages (seed 001, ASAPP)",
        description="Every message of the conversation that is not deleted, in chronological "
        "order, as ASAPP's List messages returns it. Authenticate with a workspace API key in "
        "`asapp-api-id` (its id) and `asapp-api-secret` (its secret); the key reads the "
        "conversations of its workspace (another workspace's conversation is 403-01, an "
        "unknown one 404-01). No query parameters and no paging, as documented; a conversation "
        "with more than CHAT_COMPAT_MAX_MESSAGES messages is 422-01.",
        tags=["Seed 001 (ASAPP)"],
        parameters=[
            OpenApiParameter(
                "conversationId",
                {"type": "string", "minLength": 1},
                OpenApiParameter.PATH,
                description="The conversation's id.",
            )
        ],
        responses={
            200: OpenApiResponse(AsappMessagesSerializer, "The conversation's messages"),
            **{
                status: OpenApiResponse(AsappError, f"{status} - {HTTPStatus(status).phrase}")
                for status in ERROR_STATUSES
            },
        },
    )
    def get(self, request: Request, conversationId: str) -> Response:
        conversation = conversation_selectors.conversation_for_integration(
            pk=parse_id(conversationId)
        )
        if conversation is None:
            raise NotFound("Not Found: no conversation with this conversationId.")
        if conversation.workspace_id != request.user.workspace.pk:
            raise PermissionDenied("Forbidden: the conversation is in another workspace.")
        messages = whole_conversation(conversation.pk)
        roles = conversation_selectors.member_roles(conversation.pk)
        return Response({"items": [render_message(message, roles) for message in messages]})

    def seed_error(self, status: int, envelope: dict) -> tuple[int, dict]:
        error = envelope["error"]
        message = INTERNAL_ERROR if status == 500 else error["message"]
        return status, {
            "error": {
                "requestId": error["requestId"],
                "code": f"{status}-01",
                "message": message,
            }
        }
