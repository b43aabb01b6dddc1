"""Live events: the only place that names channel-layer groups, builds event
frames and talks to the channel layer.

Services call the `publish_*` functions inside their transaction; each one
defers the send with `transaction.on_commit`, so nothing is announced that
was not stored, and a rollback announces nothing. A frame is JSON-encoded
once here, not once per recipient. Publishing never fails the write: if the
layer is down the error is logged and clients catch up with `sinceVersion`.
"""

import json
import logging
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from conversations.models import Conversation, Membership
from messaging.models import Message

logger = logging.getLogger("messaging.events")

EVENT_HANDLER = "chat.event"


def user_group(user_id: int) -> str:
    """Every socket of a user joins this group (conversation.new, presence)."""
    return f"user.{user_id}"


def conversation_group(conversation_id: int) -> str:
    """Every socket of every member joins this group: one group_send per event."""
    return f"conversation.{conversation_id}"


def publish_now(groups: Iterable[str], frame: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    event = {"type": EVENT_HANDLER, "frame": json.dumps(frame, separators=(",", ":"))}
    for group in groups:
        try:
            async_to_sync(layer.group_send)(group, event)
        except Exception:
            logger.exception("Live publish of %s to %s failed", frame.get("type"), group)


def publish_on_commit(groups: Iterable[str], frame: dict[str, Any]) -> None:
    groups = list(groups)
    transaction.on_commit(lambda: publish_now(groups, frame))


def message_frame(event_type: str, message: Message) -> dict[str, Any]:
    from messaging.serializers import MessageSerializer

    return {
        "type": event_type,
        "conversationId": str(message.conversation_id),
        "seq": message.seq,
        "version": message.version,
        "message": MessageSerializer(message).data,
    }


def publish_message_created(message: Message) -> None:
    publish_on_commit(
        [conversation_group(message.conversation_id)],
        message_frame("message.new", message),
    )


def publish_message_updated(message: Message) -> None:
    publish_on_commit(
        [conversation_group(message.conversation_id)],
        message_frame("message.updated", message),
    )


def publish_message_deleted(message: Message) -> None:
    publish_on_commit(
        [conversation_group(message.conversation_id)],
        message_frame("message.deleted", message),
    )


def publish_conversation_created(conversation: Conversation, member_ids: list[int]) -> None:
    from conversations.serializers import ConversationSerializer

    frame = {
        "type": "conversation.new",
        "conversation": ConversationSerializer(conversation).data,
    }
    publish_on_commit([user_group(user_id) for user_id in member_ids], frame)


def publish_read(membership: Membership) -> None:
    frame = {
        "type": "read",
        "conversationId": str(membership.conversation_id),
        "userId": str(membership.user_id),
        "seq": membership.last_read_seq,
    }
    publish_on_commit([conversation_group(membership.conversation_id)], frame)
