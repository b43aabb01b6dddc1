"""Live events of conversations and messages: the frames, built next to the
services, handed to the bus (chatproject/bus.py, the only code that talks to
the channel layer).

Services call the `publish_*` functions inside their transaction; each one
defers the send with `transaction.on_commit`, so nothing is announced that
was not stored, and a rollback announces nothing.
"""

from collections.abc import Iterable
from typing import Any

from chatproject.bus import (
    EVENT_HANDLER,
    conversation_group,
    encode,
    layer_slot,
    publish_async,
    publish_now,
    publish_on_commit,
    user_group,
)
from conversations.models import Conversation, Membership
from messaging.models import Message

__all__ = [
    "EVENT_HANDLER",
    "conversation_group",
    "encode",
    "layer_slot",
    "publish_async",
    "publish_now",
    "publish_on_commit",
    "user_group",
]


def message_frame(event_type: str, message: Message) -> dict[str, Any]:
    from messaging.serializers import MessageSerializer

    return {
        "type": event_type,
        "conversationId": str(message.conversation_id),
        "seq": message.seq,
        "version": message.version,
        "message": MessageSerializer(message).data,
    }


def change_type(message: Message) -> str:
    """The event a message's latest change amounts to, for replaying changes."""
    if message.deleted_at is not None:
        return "message.deleted"
    if message.edited_at is not None:
        return "message.updated"
    return "message.new"


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


def publish_membership_removed(membership: Membership) -> None:
    """To the removed user's sockets only: they leave the conversation's
    group and forget it (an internal event, never forwarded to the client)."""
    frame = {
        "type": "membership.removed",
        "conversationId": str(membership.conversation_id),
        "userId": str(membership.user_id),
    }
    publish_on_commit([user_group(membership.user_id)], frame)


def publish_read(membership: Membership) -> None:
    frame = {
        "type": "read",
        "conversationId": str(membership.conversation_id),
        "userId": str(membership.user_id),
        "seq": membership.last_read_seq,
    }
    publish_on_commit([conversation_group(membership.conversation_id)], frame)


async def publish_presence(
    user_id: int, conversation_ids: Iterable[int], *, online: bool, last_seen_at
) -> None:
    """A user came online or went offline: told to every conversation they are in."""
    frame = presence_frame(user_id, online=online, last_seen_at=last_seen_at)
    await publish_async([conversation_group(cid) for cid in conversation_ids], frame)


def presence_frame(user_id: int, *, online: bool, last_seen_at) -> dict[str, Any]:
    return {
        "type": "presence",
        "userId": str(user_id),
        "online": online,
        "lastSeenAt": last_seen_at.isoformat().replace("+00:00", "Z") if last_seen_at else None,
    }


async def publish_typing(conversation_id: int, user_id: int, *, active: bool) -> None:
    """Typing goes straight to the conversation's sockets, and is kept for a
    few seconds in the cache (messaging/typing_state.py, never the database)
    for readers such as seed 002's visitorTyping/userTyping."""
    from messaging.typing_state import record_typing

    await record_typing(conversation_id, user_id, active=active)
    frame = {
        "type": "typing",
        "conversationId": str(conversation_id),
        "userId": str(user_id),
        "active": active,
    }
    await publish_async([conversation_group(conversation_id)], frame)


def online_presence_frames(conversation_ids: list[int]) -> list[dict[str, Any]]:
    """`presence` frames for the online members of these conversations, sent
    to a socket when it connects."""
    from users.services import live_sockets

    member_ids = Membership.objects.filter(conversation_id__in=conversation_ids).values("user_id")
    online = live_sockets().filter(user_id__in=member_ids).values_list("user_id", flat=True)
    return [
        presence_frame(user_id, online=True, last_seen_at=None) for user_id in sorted(set(online))
    ]


def publish_conversation_deleted(conversation_id: int, member_ids: Iterable[int]) -> None:
    """To each member's sockets: the conversation is gone (they leave its group)."""
    frame = {"type": "conversation.deleted", "conversationId": str(conversation_id)}
    publish_on_commit([user_group(user_id) for user_id in member_ids], frame)
