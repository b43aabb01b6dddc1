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
]
