"""Live events: the only place that names channel-layer groups, builds event
frames and talks to the channel layer.

Services call the `publish_*` functions inside their transaction; each one
defers the send with `transaction.on_commit`, so nothing is announced that
was not stored, and a rollback announces nothing. A frame is JSON-encoded
once here, not once per recipient. Publishing never fails the write: if the
layer is down the error is logged and clients catch up with `sinceVersion`.
"""

import asyncio
import json
import logging
from collections.abc import Iterable
from typing import Any
from weakref import WeakKeyDictionary

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


def encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"))


# Channel-layer calls in flight per process. redis-py's pool refuses a
# 101st connection ("Too many connections") rather than wait: thousands of
# sockets closing at once (each leaving its groups) or a burst of publishes
# would fail instead of queueing.
LAYER_CALLS = 50
layer_slots: "WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]" = WeakKeyDictionary()


def layer_slot() -> asyncio.Semaphore:
    """The running loop's gate for channel-layer calls: `async with layer_slot():`."""
    loop = asyncio.get_running_loop()
    if loop not in layer_slots:
        layer_slots[loop] = asyncio.Semaphore(LAYER_CALLS)
    return layer_slots[loop]


async def publish_async(groups: Iterable[str], frame: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    event = {
        "type": EVENT_HANDLER,
        "frame": encode(frame),
        "frameType": frame["type"],
        "conversationId": frame.get("conversationId") or frame.get("conversation", {}).get("id"),
        "userId": frame.get("userId"),
        # Message events go out to each socket in version order (messaging/ordering.py).
        "version": frame.get("version"),
    }
    groups = list(groups)
    for index, group in enumerate(groups):
        try:
            async with layer_slot():
                await layer.group_send(group, event)
        except Exception as exc:
            if not (isinstance(exc, OSError) or type(exc).__module__.startswith("redis")):
                logger.exception("Live publish of %s to %s failed", frame.get("type"), group)
                continue
            # Redis is down: one line, not a traceback per message, and the
            # remaining groups are not tried (each would cost a retry).
            logger.error(
                "Live publish of %s to %s failed (%s: %s); %d more group(s) skipped; "
                "clients catch up with sync",
                frame.get("type"),
                group,
                type(exc).__name__,
                exc,
                len(groups) - index - 1,
            )
            return


def publish_now(groups: Iterable[str], frame: dict[str, Any]) -> None:
    """Publish from sync code, waiting for the group_send. Handing it to the
    serving loop without waiting was tried: past ~100 sends/s per process
    the unawaited publishes piled up on the loop, reached Redis out of order,
    and the reorder fills (messaging/ordering.py) collapsed delivery to
    seconds (README "Performance")."""
    async_to_sync(publish_async)(list(groups), frame)


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
