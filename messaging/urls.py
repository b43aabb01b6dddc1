from django.urls import path

import chatproject.converters  # noqa: F401  (registers the <id:…> converter)
from messaging.api import AttachmentViewSet, MessageViewSet

urlpatterns = [
    path("messages", MessageViewSet.as_view({"post": "create"}), name="message-send"),
    path(
        "messages/<id:conversationId>",
        MessageViewSet.as_view({"get": "history"}),
        name="message-history",
    ),
    path(
        "messages/<id:conversationId>/<id:messageId>",
        MessageViewSet.as_view({"patch": "partial_update", "delete": "destroy"}),
        name="message-detail",
    ),
    path(
        "messages/<id:conversationId>/<id:messageId>/history",
        MessageViewSet.as_view({"get": "edit_history"}),
        name="message-history-versions",
    ),
    path(
        "messages/<id:conversationId>/<id:messageId>/reactions",
        MessageViewSet.as_view({"post": "add_reaction"}),
        name="message-reactions",
    ),
    path(
        "messages/<id:conversationId>/<id:messageId>/reactions/<str:emoji>",
        MessageViewSet.as_view({"delete": "remove_reaction"}),
        name="message-reaction",
    ),
    path(
        "conversations/<id:conversationId>/attachments",
        AttachmentViewSet.as_view({"post": "upload"}),
        name="attachment-upload",
    ),
    path(
        "attachments/<id:attachmentId>",
        AttachmentViewSet.as_view({"get": "file"}),
        name="attachment-file",
    ),
    path(
        "attachments/<id:attachmentId>/thumbnail",
        AttachmentViewSet.as_view({"get": "thumbnail"}),
        name="attachment-thumbnail",
    ),
]
