from django.urls import path, register_converter

from chatproject.converters import IdConverter
from conversations.api import ConversationViewSet

register_converter(IdConverter, "id")

urlpatterns = [
    path(
        "conversations",
        ConversationViewSet.as_view({"get": "list", "post": "create"}),
        name="conversation-list",
    ),
    path(
        "conversations/find/<id:first_user_id>/<id:second_user_id>",
        ConversationViewSet.as_view({"get": "find"}),
        name="conversation-find",
    ),
    path(
        "conversations/<id:user_id>",
        ConversationViewSet.as_view({"get": "for_user"}),
        name="conversation-for-user",
    ),
    path(
        "conversations/<id:conversation_id>/read",
        ConversationViewSet.as_view({"post": "mark_read"}),
        name="conversation-read",
    ),
]
