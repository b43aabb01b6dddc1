"""Seed 004 (Odyssey "Get Chat Messages"):
GET /api/chat/messages?workspaceId=&conversationId=

Authenticated by the `x-api-key` header (an API key's secret) and the
`userId` header (the user making the request: their external id, or this
server's id; they must be a member of the conversation). The header names
are the product's (developer.odysseyai.ai). Returns `{"data": [...]}`: every
message that is not deleted, oldest first (no paging is documented). Errors
are exactly as documented: 400 `{"error": "..."}` (missing parameters or
header), 403 `{"error": {"message"}}` (a missing or wrong API key, or a key
of another workspace), 404 `{"error": {"message"}}` (conversation not found
in the workspace, or not the user's), 500 `{"message"}` (anything
unexpected, logged; also the database being down).
"""

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

from chatproject.errors import ApiError
from chatproject.ids import parse_id
from conversations import selectors as conversation_selectors
from conversations.models import Conversation
from integrations.auth import XApiKeyAuthentication
from integrations.base import CompatView, foreign_user_id, iso, text_with_files, whole_conversation
from messaging.models import Message

USER_ID_HEADER = "userId"


def message_type(message: Message) -> str:
    """query: asked by a person (a deleted user too); response: answered by a
    bot or the system (`kind`, not a missing sender, makes a system message)."""
    if message.kind == Message.Kind.SYSTEM or (
        message.sender is not None and message.sender.is_bot
    ):
        return "response"
    return "query"


def render_message(message: Message, conversation: Conversation) -> dict[str, Any]:
    return {
        "query": text_with_files(message),
        "type": message_type(message),
        "queryresponseid": str(message.pk),
        "createdat": iso(message.created_at),
        "name": conversation.title or None,
        "ownerid": foreign_user_id(conversation.created_by),
        # This server has no follow-up suggestions or source snippets.
        "followUps": [],
        "sourceSnips": [],
    }


# Schema ----------------------------------------------------------------------


class OdysseySnippetSerializer(serializers.Serializer):
    id = serializers.CharField()
    text = serializers.CharField()


class OdysseyMessageSerializer(serializers.Serializer):
    query = serializers.CharField(help_text="The message's text.")
    type = serializers.ChoiceField(
        choices=["query", "response"], help_text="query from a person, response from a bot."
    )
    queryresponseid = serializers.CharField(help_text="The message's id.")
    createdat = serializers.DateTimeField()
    name = serializers.CharField(allow_null=True, help_text="The conversation's title.")
    ownerid = serializers.CharField(allow_null=True, help_text="Who created the conversation.")
    followUps = OdysseySnippetSerializer(many=True, help_text="Always empty here.")
    sourceSnips = OdysseySnippetSerializer(many=True, help_text="Always empty here.")


class OdysseyMessagesSerializer(serializers.Serializer):
    data = OdysseyMessageSerializer(many=True)


OdysseyBadRequest = inline_serializer(
    name="OdysseyBadRequest", fields={"error": serializers.CharField()}
)
OdysseyError = inline_serializer(
    name="OdysseyError",
    fields={
        "error": inline_serializer(
            name="OdysseyErrorMessage", fields={"message": serializers.CharField()}
        )
    },
)
OdysseyServerError = inline_serializer(
    name="OdysseyServerError", fields={"message": serializers.CharField()}
)


def required(name: str, value: str | None) -> str:
    if not value or not value.strip():
        raise ApiError(400, "bad_request", f"{name} is required.")
    return value.strip()


class OdysseyMessagesView(CompatView):
    authentication_classes = [XApiKeyAuthentication]

    @extend_schema(
        operation_id="seed004_get_chat_messages",
        summary="Get chat messages (seed 004, Odyssey)",
        description="Every message of the conversation that is not deleted, oldest first. "
        "Authenticate with `x-api-key: <API key secret>` and name the user making the request "
        "in `userId` (their external id, or their id here); the user must be a member of the "
        'conversation. Errors are shaped as documented: 400 `{"error": "..."}`, 403 and 404 '
        '`{"error": {"message": "..."}}`, 500 `{"message": "..."}`.',
        tags=["Seed 004 (Odyssey)"],
        parameters=[
            OpenApiParameter("workspaceId", str, required=True, description="The workspace's id."),
            OpenApiParameter(
                "conversationId", str, required=True, description="The conversation's id."
            ),
            OpenApiParameter(
                USER_ID_HEADER,
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="The user making the request: their external id, or their id here.",
            ),
        ],
        responses={
            200: OpenApiResponse(OdysseyMessagesSerializer, "The conversation's messages"),
            400: OpenApiResponse(OdysseyBadRequest, "Invalid query parameters"),
            403: OpenApiResponse(OdysseyError, "Invalid API key"),
            404: OpenApiResponse(OdysseyError, "Conversation or workspace not found"),
            429: OpenApiResponse(OdysseyError, "Too many requests"),
            500: OpenApiResponse(OdysseyServerError, "Internal server error"),
        },
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        workspace_id = required("workspaceId", params.get("workspaceId"))
        conversation_id = required("conversationId", params.get("conversationId"))
        user_id = required(f"The {USER_ID_HEADER} header", request.headers.get("userId"))
        if parse_id(workspace_id) != request.user.workspace.pk:
            raise PermissionDenied("Invalid API key for this workspace.")
        conversation = conversation_selectors.conversation_for_integration(
            pk=parse_id(conversation_id), workspace=request.user.workspace
        )
        if conversation is None:
            raise NotFound("Conversation not found.")
        if conversation_selectors.member_by_foreign_id(conversation.pk, user_id) is None:
            raise NotFound("Conversation not found for this user.")
        messages = whole_conversation(conversation.pk)
        return Response({"data": [render_message(message, conversation) for message in messages]})

    def seed_error(self, status: int, envelope: dict) -> tuple[int, Any]:
        message = envelope["error"]["message"]
        if status >= 500:
            return 500, {"message": message}
        if status == 400:
            return 400, {"error": message}
        if status == 422:
            # Too many messages to return at once: the request cannot be served as asked.
            return 400, {"error": message}
        return status, {"error": {"message": message}}
