"""What the four seed modules share: the view base class (authentication,
and errors in the seed's own shape from every layer), id parsing and the
bounded read of a whole conversation."""

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from rest_framework import permissions
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from chatproject.api_errors import api_exception_handler
from chatproject.errors import ApiError, error_body
from chatproject.parsers import JSONParser
from messaging import selectors
from messaging.models import Message
from users.models import User

logger = logging.getLogger("integrations")


def foreign_user_id(user: User | None) -> str | None:
    """How seeds 002-004 name a user: the user's external id when they have
    one (so ids carried over from the other product keep working), else this
    server's id."""
    if user is None:
        return None
    return user.external_id or str(user.pk)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, as DRF writes times."""
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def text_with_files(message: Message) -> str:
    """A message's text as the seeds that have no field for files show it
    (001, 003, 004, whose text is never empty): a message sent with files
    but no words reads as the files' names."""
    if message.text or not message.attachment_list:
        return message.text
    return ", ".join(attachment.name for attachment in message.attachment_list)


def whole_conversation(conversation_id: int) -> list[Message]:
    """Every message of the conversation that is not deleted, oldest first,
    for the seeds that document no paging (001, 002, 004): one query of at
    most CHAT_COMPAT_MAX_MESSAGES + 1 rows. A longer conversation is a 422
    (each seed renders it in its own shape) rather than a response cut short."""
    limit = settings.CHAT_COMPAT_MAX_MESSAGES
    messages = selectors.visible_messages(conversation_id, limit=limit + 1)
    if len(messages) > limit:
        raise ApiError(
            422,
            "conversation_too_large",
            f"The conversation has more than {limit} messages, more than this API returns "
            "in one response; read it with GET /api/messages/{conversationId} (paged).",
            {"maxMessages": limit},
        )
    return messages


class CompatView(APIView):
    """A seed endpoint: authenticated by the seed's own scheme (an API key),
    and answering every error (authentication, validation, throttling, the
    database down, an unexpected exception) in the seed's own shape.

    Errors are first built as this server's envelope (chatproject.errors),
    which gives the status and headers (Retry-After, WWW-Authenticate);
    `seed_error` then turns it into the seed's shape. The base keeps the
    envelope, which is what seeds 002 and 003 answer with, as they document
    no error bodies of their own. The responses are JSON, so the /api/ error
    middleware leaves seed 004's alone."""

    permission_classes = [permissions.IsAuthenticated]
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]

    def get_exception_handler(self):
        return self.error_response

    def error_response(self, exc: Exception, context: dict) -> Response:
        response = api_exception_handler(exc, context)
        if response is None:
            request = context["request"]
            logger.error("Unhandled exception on %s %s", request.method, request.path, exc_info=exc)
            request_id = getattr(request, "request_id", "-")
            response = Response(error_body(request_id, 500), status=500)
        status, body = self.seed_error(response.status_code, response.data)
        response.status_code, response.data = status, body
        return response

    def seed_error(self, status: int, envelope: dict[str, Any]) -> tuple[int, Any]:
        """The status and body of an error in this seed's shape, from the envelope."""
        return status, envelope
