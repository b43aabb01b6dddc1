"""Seed 003 (botuj.pl "Conversation Messages"):
GET /v1/api/conversation-messages/{id}?page=&per_page=

Authenticated by `Authorization: Bearer <API key secret>`. A JSON array of
the conversation's messages that are not deleted, oldest first, paged as
documented: `page` (from 1, default 1) and `per_page` (default 20, at most
100); out-of-range or non-integer values are a 400. Each message:
`id` (integer), `message`, `userId` (null for system messages and deleted
users), `isUser` (false for bots and system messages; true for a deleted
user), `type` (text or system), `createdOn`. The seed documents no error
bodies, so errors are this server's envelope. A `Link` header names the
next and previous pages.
"""

from typing import Any
from urllib.parse import urlencode

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from chatproject.ids import parse_id
from chatproject.openapi import error_responses
from conversations import selectors as conversation_selectors
from integrations.auth import BearerKeyAuthentication
from integrations.base import CompatView, foreign_user_id, iso, text_with_files
from messaging import selectors
from messaging.models import Message

PER_PAGE_DEFAULT = 20
PER_PAGE_MAX = 100
PAGE_MAX = 10_000_000


def render_message(message: Message) -> dict[str, Any]:
    return {
        "id": message.pk,
        "message": text_with_files(message),
        "userId": foreign_user_id(message.sender),
        # A deleted sender (null) counts as a person: only `kind` makes a system message.
        "isUser": message.kind != Message.Kind.SYSTEM
        and not (message.sender is not None and message.sender.is_bot),
        "type": message.kind,
        "createdOn": iso(message.created_at),
    }


class BotujPageSerializer(serializers.Serializer):
    page = serializers.IntegerField(
        min_value=1, max_value=PAGE_MAX, default=1, help_text="Page number, from 1."
    )
    per_page = serializers.IntegerField(
        min_value=1,
        max_value=PER_PAGE_MAX,
        default=PER_PAGE_DEFAULT,
        help_text=f"Messages per page (at most {PER_PAGE_MAX}).",
    )


class BotujMessageSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The message's id.")
    message = serializers.CharField(help_text="The text.")
    userId = serializers.CharField(
        allow_null=True, help_text="The sender; null for system messages and deleted users."
    )
    isUser = serializers.BooleanField(help_text="From a person (false: a bot or the system).")
    type = serializers.ChoiceField(choices=Message.Kind.choices)
    createdOn = serializers.DateTimeField()


def page_link(request: Request, rel: str, page: int, per_page: int) -> str:
    url = request.build_absolute_uri(request.path)
    return f'<{url}?{urlencode({"page": page, "per_page": per_page})}>; rel="{rel}"'


class BotujMessagesView(CompatView):
    authentication_classes = [BearerKeyAuthentication]

    @extend_schema(
        operation_id="seed003_conversation_messages",
        summary="Conversation messages (seed 003, botuj)",
        description="A page of the conversation's messages (those not deleted), oldest first. "
        "Authenticate with `Authorization: Bearer <API key secret>`; another workspace's "
        "conversation is a 403, an unknown one a 404, bad `page`/`per_page` values a 400.",
        tags=["Seed 003 (botuj)"],
        parameters=[
            OpenApiParameter(
                "id", int, OpenApiParameter.PATH, description="The conversation's id."
            ),
            BotujPageSerializer,
        ],
        responses={
            200: OpenApiResponse(BotujMessageSerializer(many=True), "A page of messages"),
            **error_responses(400, 401, 403, 404),
        },
    )
    def get(self, request: Request, id: str) -> Response:
        query = BotujPageSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page, per_page = query.validated_data["page"], query.validated_data["per_page"]
        conversation = conversation_selectors.conversation_for_integration(pk=parse_id(id))
        if conversation is None:
            raise NotFound("No such conversation.")
        if conversation.workspace_id != request.user.workspace.pk:
            raise PermissionDenied("The conversation is in another workspace.")
        messages, more = selectors.visible_messages_page(
            conversation.pk, page=page, per_page=per_page
        )
        links = []
        if more:
            links.append(page_link(request, "next", page + 1, per_page))
        if page > 1:
            links.append(page_link(request, "prev", page - 1, per_page))
        headers = {"Link": ", ".join(links)} if links else {}
        return Response([render_message(message) for message in messages], headers=headers)
