from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from chatproject import throttling
from chatproject.openapi import error_responses
from conversations import selectors, services
from conversations.serializers import (
    AddMembersSerializer,
    CreateConversationSerializer,
    MarkReadSerializer,
    MembershipChangeSerializer,
    MembershipStateSerializer,
    ReadStateSerializer,
    RenameGroupSerializer,
)
from messaging import services as messaging_services
from messaging.selectors import with_last_messages
from messaging.serializers import MemberConversationSerializer


class ConversationViewSet(viewsets.ViewSet):
    """Conversations of the signed-in user. Only members see a conversation."""

    def render(self, conversations, **kwargs) -> Response:
        many = isinstance(conversations, list)
        with_last_messages(conversations if many else [conversations])
        serializer = MemberConversationSerializer(
            conversations, many=many, context={"viewer_id": self.request.user.pk}
        )
        return Response(serializer.data, **kwargs)

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

    def change_group(self, request: Request, conversation_id: int, body, change) -> Response:
        """A group change of messaging.services by a member, with the body's
        fields as its arguments; answered with the caller's row."""
        serializer = body(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = selectors.membership_for(request.user, conversation_id)
        change(
            actor=request.user, conversation=membership.conversation, **serializer.validated_data
        )
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

    @extend_schema(
        operation_id="conversation_details",
        summary="One of my conversations",
        description="The conversation as in my list (name, members, mute, unread count, last "
        "message). 403 for a conversation I am not a member of, 404 for none.",
        responses={200: MemberConversationSerializer, **error_responses(401, 403, 404)},
    )
    def details(self, request: Request, conversationId: int) -> Response:
        return self.render(selectors.conversation_for_member(request.user, conversationId))

    @extend_schema(
        summary="Rename a group",
        description="Any member may rename a group; the title is trimmed, made one line "
        "(NFC) and has 1 to 200 characters. Posts the system message "
        "'<name> renamed the group to “<title>”.' and sends `conversation.updated` to the "
        "members' sockets. A direct conversation has no title to set (400). The same title "
        "again changes nothing.",
        request=RenameGroupSerializer,
        responses={200: MemberConversationSerializer, **error_responses(400, 401, 403, 404)},
    )
    def rename(self, request: Request, conversationId: int) -> Response:
        return self.change_group(
            request, conversationId, RenameGroupSerializer, messaging_services.rename_group
        )

    @extend_schema(
        summary="Add people to a group",
        description="Any member may add active users to a group (at most CHAT_GROUP_MAX_MEMBERS "
        "members in all). Users who are members already are skipped; unknown or inactive ids "
        "are 400, and so is a direct conversation. Posts '<name> added <names>.'; the new "
        "members' sockets get `conversation.new`, the members' `conversation.updated`.",
        request=AddMembersSerializer,
        responses={200: MemberConversationSerializer, **error_responses(400, 401, 403, 404)},
    )
    def add_members(self, request: Request, conversationId: int) -> Response:
        return self.change_group(
            request, conversationId, AddMembersSerializer, messaging_services.add_group_members
        )

    @extend_schema(
        summary="Leave a group, or remove a member",
        description="With my own user id: I leave the group ('<name> left.'); any member may. "
        "With another member's id: only an owner or agent of the group may remove them "
        "(403 otherwise; '<name> removed <name>.'). The removed user's sockets get "
        "`conversation.removed` and no more of its events; the members' get "
        "`conversation.updated`. Direct conversations are not left (400). 404 when the user "
        "is not a member. The last member to leave leaves the group in place.",
        request=None,
        responses={204: None, **error_responses(400, 401, 403, 404)},
    )
    def remove_member(self, request: Request, conversationId: int, userId: int) -> Response:
        membership = selectors.membership_for(request.user, conversationId)
        messaging_services.remove_group_member(
            actor=request.user, conversation=membership.conversation, user_id=userId
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Mute or unmute a conversation",
        description="My own setting: a muted conversation raises no notification and no tab "
        "title count in the web app (its unread badge stays). A change reaches my own "
        "sockets as `membership.updated`.",
        request=MembershipChangeSerializer,
        responses={200: MembershipStateSerializer, **error_responses(400, 401, 403, 404)},
    )
    def membership(self, request: Request, conversationId: int) -> Response:
        serializer = MembershipChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.set_muted(
            membership=selectors.membership_for(request.user, conversationId),
            muted=serializer.validated_data["muted"],
        )
        body = {
            "conversationId": str(conversationId),
            "muted": membership.muted,
            "lastReadSeq": membership.last_read_seq,
        }
        return Response(body)
