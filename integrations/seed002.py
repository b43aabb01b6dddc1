"""Seed 002 (5chat "List messages"): GET /conversations/{token}/messages?lang=

`{token}` is the conversation's access token (Conversation.access_token,
random, made when the conversation is created). Authenticated by
`Authorization: Bearer <API key secret>`; the key reads its own workspace's
conversations (a token of another workspace's conversation is a 404, as an
unknown one). Returns the conversation (14 keys), its messages, the visitor
(11 keys) and the users (17 keys each), as the seed lists them. Tags are
named in `lang` where a translation exists.

Who is who: the visitor is the conversation's first member whose role is
customer (null when it has none); the users are the other members (agents,
bots, owners and members) and the assignee. Keys for which this server has
no data (a visitor's IP, city, country; a user's theme, avatar, Google id …)
are present and null. The seed does not list its 12 message properties; this
server's are in `FiveChatMessageSerializer`.
"""

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from chatproject.openapi import error_responses
from conversations import selectors as conversation_selectors
from conversations.models import Conversation, Membership
from integrations.auth import BearerKeyAuthentication
from integrations.base import CompatView, foreign_user_id, iso, whole_conversation
from messaging import selectors
from messaging.models import Message
from messaging.typing_state import typing_user_ids
from users.models import User
from users.services import online_user_ids

# How a conversation's status is called in 5chat.
STATUSES = {Conversation.Status.OPEN: "active", Conversation.Status.CLOSED: "closed"}
LANG_MAX_LENGTH = 35  # BCP 47 tags are shorter; longer values are ignored.


class ReadMarkers:
    """Whether every member but the sender has read a message, in O(1) per
    message: only the two lowest read markers matter."""

    def __init__(self, memberships: list[Membership]) -> None:
        ranked = sorted(memberships, key=lambda m: m.last_read_seq)
        self.lowest = ranked[0] if ranked else None
        self.second = ranked[1].last_read_seq if len(ranked) > 1 else None

    def seen_by_others(self, message: Message) -> bool:
        if self.lowest is None:
            return False
        if message.sender_id == self.lowest.user_id:
            return self.second is not None and self.second >= message.seq
        return self.lowest.last_read_seq >= message.seq


def render_conversation(
    conversation: Conversation,
    *,
    visitor: User | None,
    typing: set[int] | None,
    user_ids: set[int],
    first_message_at,
    tags: list[str],
) -> dict[str, Any]:
    return {
        "id": str(conversation.pk),
        "websiteId": str(conversation.workspace_id),
        "token": conversation.access_token,
        "rating": conversation.rating,
        "assigneeId": foreign_user_id(conversation.assignee),
        "visitorId": foreign_user_id(visitor),
        "visitorTyping": None if typing is None else visitor is not None and visitor.pk in typing,
        "userTyping": None if typing is None else bool(typing & user_ids),
        "createdAt": iso(conversation.created_at),
        "status": STATUSES[conversation.status],
        "firstMessageAt": iso(first_message_at),
        "closedAt": iso(conversation.closed_at),
        "summary": conversation.summary or None,
        "tags": tags,
    }


def render_message(
    message: Message, conversation: Conversation, customers: set[int], markers: ReadMarkers
) -> dict[str, Any]:
    from_customer = message.sender_id in customers
    sender_id = foreign_user_id(message.sender)
    return {
        "id": str(message.pk),
        "conversationId": str(conversation.pk),
        "websiteId": str(conversation.workspace_id),
        "type": message.kind,
        "content": message.text,
        "visitorId": sender_id if from_customer else None,
        "userId": None if from_customer else sender_id,
        # The first of the message's attachments (their files: GET /api/attachments/{id}).
        "fileId": str(message.attachment_list[0].pk) if message.attachment_list else None,
        "seen": markers.seen_by_others(message),
        "clientTimestamp": iso(message.client_timestamp),
        "createdAt": iso(message.created_at),
        "updatedAt": iso(message.edited_at),
    }


def render_visitor(visitor: User, conversation: Conversation, online: bool) -> dict[str, Any]:
    return {
        "id": foreign_user_id(visitor),
        "name": visitor.name,
        "token": None,
        "ip": None,
        "context": None,
        "websiteId": str(conversation.workspace_id),
        "country": None,
        "city": None,
        "online": online,
        "createdAt": iso(visitor.date_joined),
        "updatedAt": None,
    }


def render_user(user: User) -> dict[str, Any]:
    return {
        "id": foreign_user_id(user),
        "name": user.name,
        "email": user.email or None,
        "theme": None,
        "language": None,
        "createdAt": iso(user.date_joined),
        "updatedAt": None,
        "avatar": None,
        "fileId": None,
        "activated": user.is_active,
        "fcmTokens": None,
        "selectedWebsiteId": None,
        "lastVisitAt": iso(user.last_seen_at),
        "googleId": None,
        "gitHubId": None,
        # Every account here signs in with a password on this server.
        "authProvider": "LOCAL",
        "emailVerified": None,
    }


# Schema ----------------------------------------------------------------------


class FiveChatConversationSerializer(serializers.Serializer):
    id = serializers.CharField()
    websiteId = serializers.CharField(help_text="The workspace's id.")
    token = serializers.CharField(help_text="The conversation's access token.")
    rating = serializers.IntegerField(allow_null=True)
    assigneeId = serializers.CharField(allow_null=True)
    visitorId = serializers.CharField(allow_null=True)
    visitorTyping = serializers.BooleanField(
        allow_null=True, help_text="The visitor is typing now (null: the typing state is unknown)."
    )
    userTyping = serializers.BooleanField(allow_null=True, help_text="A user is typing now.")
    createdAt = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=list(STATUSES.values()))
    firstMessageAt = serializers.DateTimeField(allow_null=True)
    closedAt = serializers.DateTimeField(allow_null=True)
    summary = serializers.CharField(allow_null=True)
    tags = serializers.ListField(
        child=serializers.CharField(), help_text="Tag names, in `lang` where translated."
    )


class FiveChatMessageSerializer(serializers.Serializer):
    id = serializers.CharField()
    conversationId = serializers.CharField()
    websiteId = serializers.CharField()
    type = serializers.ChoiceField(choices=Message.Kind.choices)
    content = serializers.CharField(allow_blank=True)
    visitorId = serializers.CharField(allow_null=True, help_text="Set on the visitor's messages.")
    userId = serializers.CharField(allow_null=True, help_text="Set on the users' messages.")
    fileId = serializers.CharField(
        allow_null=True,
        help_text="The id of the message's first attachment (GET /api/attachments/{id}).",
    )
    seen = serializers.BooleanField(help_text="Every other member has read the message.")
    clientTimestamp = serializers.DateTimeField(allow_null=True)
    createdAt = serializers.DateTimeField()
    updatedAt = serializers.DateTimeField(allow_null=True, help_text="When it was last edited.")


class FiveChatVisitorSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    token = serializers.CharField(allow_null=True)
    ip = serializers.CharField(allow_null=True)
    context = serializers.CharField(allow_null=True)
    websiteId = serializers.CharField()
    country = serializers.IntegerField(allow_null=True)
    city = serializers.CharField(allow_null=True)
    online = serializers.BooleanField()
    createdAt = serializers.DateTimeField()
    updatedAt = serializers.DateTimeField(allow_null=True)


class FiveChatAvatarSerializer(serializers.Serializer):
    id = serializers.CharField()
    token = serializers.CharField()
    url = serializers.CharField()
    name = serializers.CharField()
    mimeType = serializers.CharField()
    userId = serializers.CharField()
    websiteId = serializers.CharField()
    createdAt = serializers.DateTimeField()
    updatedAt = serializers.DateTimeField()


class FiveChatUserSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    email = serializers.CharField(allow_null=True)
    theme = serializers.CharField(allow_null=True)
    language = serializers.CharField(allow_null=True)
    createdAt = serializers.DateTimeField()
    updatedAt = serializers.DateTimeField(allow_null=True)
    avatar = FiveChatAvatarSerializer(allow_null=True)
    fileId = serializers.CharField(allow_null=True)
    activated = serializers.BooleanField()
    fcmTokens = serializers.CharField(allow_null=True)
    selectedWebsiteId = serializers.CharField(allow_null=True)
    lastVisitAt = serializers.DateTimeField(allow_null=True)
    googleId = serializers.CharField(allow_null=True)
    gitHubId = serializers.CharField(allow_null=True)
    authProvider = serializers.CharField()
    emailVerified = serializers.BooleanField(allow_null=True)


class FiveChatMessagesSerializer(serializers.Serializer):
    conversation = FiveChatConversationSerializer()
    messages = FiveChatMessageSerializer(many=True)
    visitor = FiveChatVisitorSerializer(allow_null=True)
    users = FiveChatUserSerializer(many=True)


class FiveChatMessagesView(CompatView):
    authentication_classes = [BearerKeyAuthentication]

    @extend_schema(
        operation_id="seed002_list_messages",
        summary="List messages (seed 002, 5chat)",
        description="The conversation named by its access token, with its messages (those not "
        "deleted, oldest first), the visitor (its customer) and the users (the other members "
        "and the assignee). Authenticate with `Authorization: Bearer <API key secret>`; a token "
        "of another workspace's conversation is a 404. A conversation with more than "
        "CHAT_COMPAT_MAX_MESSAGES messages is a 422.",
        tags=["Seed 002 (5chat)"],
        parameters=[
            OpenApiParameter(
                "token",
                {"type": "string", "minLength": 1},
                OpenApiParameter.PATH,
                description="The conversation's access token.",
            ),
            OpenApiParameter(
                "lang",
                str,
                required=False,
                description="Language code for tag translations (e.g. en, pl, de, pt-br).",
            ),
        ],
        responses={
            200: OpenApiResponse(FiveChatMessagesSerializer, "The conversation and its messages"),
            **error_responses(401, 404, 422),
        },
    )
    def get(self, request: Request, token: str) -> Response:
        conversation = conversation_selectors.conversation_with_people(
            access_token=token, workspace=request.user.workspace
        )
        if conversation is None:
            raise NotFound("Conversation not found.")
        lang = request.query_params.get("lang", "")
        messages = whole_conversation(conversation.pk)
        memberships = list(conversation.memberships.all())
        customers = [m.user for m in memberships if m.role == Membership.Role.CUSTOMER]
        visitor = customers[0] if customers else None
        users = [m.user for m in memberships if m.role != Membership.Role.CUSTOMER]
        if conversation.assignee is not None and conversation.assignee not in users:
            users.append(conversation.assignee)
        user_ids = {user.pk for user in users}
        typing = typing_user_ids(conversation.pk, {m.user_id for m in memberships} | user_ids)
        markers = ReadMarkers(memberships)
        customer_ids = {user.pk for user in customers}
        body = {
            "conversation": render_conversation(
                conversation,
                visitor=visitor,
                typing=typing,
                user_ids=user_ids,
                first_message_at=selectors.first_message_at(conversation.pk),
                tags=conversation_selectors.localized_tag_names(
                    conversation.pk, lang if len(lang) <= LANG_MAX_LENGTH else None
                ),
            ),
            "messages": [
                render_message(message, conversation, customer_ids, markers) for message in messages
            ],
            "visitor": None
            if visitor is None
            else render_visitor(visitor, conversation, bool(online_user_ids([visitor.pk]))),
            "users": [render_user(user) for user in users],
        }
        return Response(body)
