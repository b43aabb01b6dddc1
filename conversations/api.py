from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from chatproject import throttling
from chatproject.openapi import error_responses
from conversations import selectors, services
from conversations.serializers import (
    CreateConversationSerializer,
    MarkReadSerializer,
    ReadStateSerializer,
)
from messaging import services as messaging_services
from messaging.selectors import with_last_messages
from messaging.serializers import MemberConversationSerializer


class ConversationViewSet(viewsets.ViewSet):
    """Conversations of the signed-in user. Only members see a conversation."""

    def render(self, conversations, **kwargs) -> Response:
        many = isinstance(conversations, list)
        with_last_messages(conversations if many else [conversations])
        return Response(MemberConversationSerializer(conversations, many=many).data, **kwargs)

    @extend_schema(
        summary="Create a conversation",
        description='Body: `{"users": ["1","2"]}`, the seed\'s '
        '`{"users": [{"senderId": "1"}, {"receiverId": "2"}]}`, or '
        '`{"senderId": "1", "receiverId": "2"}`. The caller is always a member and a '
        "`senderId` must be the caller. Two users make a direct conversation, unique per pair: "
        "201 when created, 200 when it already existed. More users make a group (201). "
        "Creates are limited per user (429 `throttled` with `Retry-After`).",
        request=CreateConversationSerializer,
        responses={
            201: MemberConversationSerializer,
            200: OpenApiResponse(MemberConversationSerializer, "The existing direct conversation"),
            **error_responses(400, 401, 403, 429),
        },
    )
    def create(self, request: Request) -> Response:
        serializer = CreateConversationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if any(sender_id != request.user.pk for sender_id in data["sender_ids"]):
            raise PermissionDenied("senderId must be your own user id.")
        throttling.limit_conversation_create(request.user.pk)
        conversation, created = services.create_conversation(
            creator=request.user,
            member_ids=data["member_ids"],
            title=data["title"],
            kind=data.get("kind"),
        )
        conversation = selectors.conversation_for_member(request.user, conversation.pk)
        return self.render(
            conversation,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        operation_id="conversations_mine",
        summary="My conversations",
        description="The signed-in user's conversations, most recent activity first, with unread "
        "counts and the last message.",
        responses={
            200: MemberConversationSerializer(many=True),
            **error_responses(401),
        },
    )
    def list(self, request: Request) -> Response:
        return self.render(selectors.conversations_for_user(request.user))

    @extend_schema(
        operation_id="conversations_for_user",
        summary="A user's conversations",
        description="Most recent activity first. A user can list only their own: another "
        "`userId` is 403; a `userId` that is not an id (digits) is 404.",
        responses={
            200: MemberConversationSerializer(many=True),
            **error_responses(401, 403, 404),
        },
    )
    def for_user(self, request: Request, userId: int) -> Response:
        if userId != request.user.pk:
            raise PermissionDenied("You can list only your own conversations.")
        return self.render(selectors.conversations_for_user(request.user))

    @extend_schema(
        summary="The direct conversation between two users",
        description="The caller must be one of the two users (403 otherwise); "
        "404 if they have none, or the caller was removed from it (creating it again "
        "re-adds them).",
        responses={200: MemberConversationSerializer, **error_responses(401, 403, 404)},
    )
    def find(self, request: Request, firstUserId: int, secondUserId: int) -> Response:
        if request.user.pk not in (firstUserId, secondUserId):
            raise PermissionDenied("You can look up only your own direct conversations.")
        return self.render(
            selectors.direct_conversation_between(request.user, firstUserId, secondUserId)
        )

    def set_status(self, request: Request, conversation_id: int, change) -> Response:
        membership = selectors.membership_for(request.user, conversation_id)
        change(membership.conversation, actor=request.user)
        return self.render(selectors.conversation_for_member(request.user, conversation_id))

    @extend_schema(
        summary="Close a conversation",
        description="Any member may close it: `status` becomes `closed`, `closedAt` is "
        'stamped and a system message ("Conversation closed by …") reaches the members like '
        "any message. Closing a closed conversation changes nothing. Members can still write "
        "to a closed conversation.",
        request=None,
        responses={200: MemberConversationSerializer, **error_responses(401, 403, 404)},
    )
    def close(self, request: Request, conversationId: int) -> Response:
        return self.set_status(request, conversationId, messaging_services.close_conversation)

    @extend_schema(
        summary="Reopen a conversation",
        description="Any member may reopen a closed conversation (`closedAt` is cleared, with a "
        "system message); reopening an open one changes nothing.",
        request=None,
        responses={200: MemberConversationSerializer, **error_responses(401, 403, 404)},
    )
    def reopen(self, request: Request, conversationId: int) -> Response:
        return self.set_status(request, conversationId, messaging_services.reopen_conversation)

    @extend_schema(
        summary="Mark a conversation read",
        description="Moves the caller's read marker forward to `seq` (never back); members "
        "are told with a live `read` event.",
        request=MarkReadSerializer,
        responses={200: ReadStateSerializer, **error_responses(400, 401, 403, 404)},
    )
    def mark_read(self, request: Request, conversationId: int) -> Response:
        serializer = MarkReadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = selectors.membership_for(request.user, conversationId)
        last_seq = membership.conversation.last_seq
        membership = services.mark_read(
            membership=membership, seq=serializer.validated_data.get("seq", last_seq)
        )
        body = {
            "conversationId": str(conversationId),
            "lastReadSeq": membership.last_read_seq,
            "unreadCount": max(last_seq - membership.last_read_seq, 0),
        }
        return Response(body)
