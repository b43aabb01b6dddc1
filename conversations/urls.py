from django.urls import path

import chatproject.converters  # noqa: F401  (registers the <id:…> converter)
from conversations.api import ConversationViewSet

urlpatterns = [
    path(
        "conversations",
        ConversationViewSet.as_view({"get": "list", "post": "create"}),
        name="conversation-list",
    ),
    path(
        "conversations/find/<id:firstUserId>/<id:secondUserId>",
        ConversationViewSet.as_view({"get": "find"}),
        name="conversation-find",
    ),
    path(
        "conversations/<id:userId>",
        ConversationViewSet.as_view({"get": "for_user"}),
        name="conversation-for-user",
    ),
    path(
        "conversations/<id:conversationId>/read",
        ConversationViewSet.as_view({"post": "mark_read"}),
        name="conversation-read",
    ),
    path(
        "conversations/<id:conversationId>/close",
        ConversationViewSet.as_view({"post": "close"}),
        name="conversation-close",
    ),
    path(
        "conversations/<id:conversationId>/reopen",
        ConversationViewSet.as_view({"post": "reopen"}),
        name="conversation-reopen",
    ),
    path(
        "conversations/<id:conversationId>/details",
        ConversationViewSet.as_view({"get": "details", "patch": "rename"}),
        name="conversation-details",
    ),
    path(
        "conversations/<id:conversationId>/members",
        ConversationViewSet.as_view({"post": "add_members"}),
        name="conversation-members",
    ),
    path(
        "conversations/<id:conversationId>/members/<id:userId>",
        ConversationViewSet.as_view({"delete": "remove_member"}),
        name="conversation-member",
    ),
    path(
        "conversations/<id:conversationId>/membership",
        ConversationViewSet.as_view({"patch": "membership"}),
        name="conversation-membership",
    ),
]
