"""The seed endpoints, at their documented paths (included at the root by
chatproject/urls.py). Path values are matched loosely (`path`) so that any
value reaches the view and gets the seed's own 404, not a Django page."""

from django.urls import path, register_converter

from integrations.seed001 import AsappMessagesView
from integrations.seed002 import FiveChatMessagesView
from integrations.seed003 import BotujMessagesView
from integrations.seed004 import OdysseyMessagesView


class AnyConverter:
    """Django's `path` converter is `.+`, and `.` does not match a newline: a
    value with one got Django's HTML 404 (found by chatproject/tests/test_fuzz_api.py).
    This one matches any non-empty value."""

    regex = r"[\s\S]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(AnyConverter, "any")


urlpatterns = [
    path(
        "conversation/v1/conversations/<any:conversationId>/messages",
        AsappMessagesView.as_view(),
        name="seed001-messages",
    ),
    path(
        "conversations/<any:token>/messages",
        FiveChatMessagesView.as_view(),
        name="seed002-messages",
    ),
    path(
        "v1/api/conversation-messages/<any:id>",
        BotujMessagesView.as_view(),
        name="seed003-messages",
    ),
    path("api/chat/messages", OdysseyMessagesView.as_view(), name="seed004-messages"),
]
