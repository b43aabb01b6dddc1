from django.urls import path

import chatproject.converters  # noqa: F401  (registers the <id:…> converter)
from messaging.api import MessageViewSet

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
]
