"""Live events of messages: one frame per change, built once with the REST
message shape and handed to the bus (chatproject/bus.py) after the commit.
The sender's `message.ack` reuses the same frame's message."""

from functools import cache
from typing import Any

from chatproject import bus
from messaging.models import Message
from messaging.serializers import MessageSerializer, with_me

CREATED, UPDATED, DELETED = "message.new", "message.updated", "message.deleted"
MESSAGE_EVENTS = (CREATED, UPDATED, DELETED)


@cache
def frame_serializer() -> MessageSerializer:
    """One MessageSerializer for every frame. DRF builds a ModelSerializer's
    fields (model introspection, deep copies) for each instance: 0.4 ms a
    message, where representing one with fields built once takes 0.02 ms, on
    the process's one sync thread that every send queues on. Its
    to_representation only reads them, and frames have no viewer context."""
    return MessageSerializer()


def message_frame(event_type: str, message: Message) -> dict[str, Any]:
    return {
        "type": event_type,
        "conversationId": str(message.conversation_id),
        "seq": message.seq,
        "version": message.version,
        "message": frame_serializer().to_representation(message),
    }


def change_type(message: Message) -> str:
    """The event a message's latest change amounts to, for replaying changes.
    A reaction is no edit: a message with reactions was updated (one whose
    reactions were all taken back again replays as `message.new`, which a
    client applies by id like any replay)."""
    if message.deleted_at is not None:
        return DELETED
    if message.edited_at is not None or getattr(message, "reaction_rows", None):
        return UPDATED
    return CREATED


def publish_message_change(message: Message, event_type: str) -> None:
    """Publish the change after the commit. The frame stays on the message,
    so that the answer to its sender (the REST response, the socket's ack)
    reuses its serialized message: one serialization per change."""
    message.published_frame = message_frame(event_type, message)
    bus.publish_on_commit(
        [bus.conversation_group(message.conversation_id)], message.published_frame
    )


def represented(message: Message, viewer_id: int | None = None) -> dict[str, Any]:
    """The message in the REST shape: the one its change was published with,
    or serialized now (a message read back, e.g. a retried send). With
    `viewer_id` (REST), its reactions say which are the viewer's (`me`)."""
    frame = getattr(message, "published_frame", None)
    if frame is None:
        return MessageSerializer(message, context={"viewer_id": viewer_id}).data
    if viewer_id is None:
        return frame["message"]
    return {**frame["message"], "reactions": with_me(frame["message"]["reactions"], viewer_id)}


def ack_frame(message: Message, client_message_id: str | None) -> dict[str, Any]:
    """The socket's answer to its sender's `message.send`: the message as it
    was published (or stored first, for a retried clientMessageId)."""
    represented_message = represented(message)
    return {
        "type": "message.ack",
        "clientMessageId": client_message_id,
        "conversationId": represented_message["conversationId"],
        "seq": message.seq,
        "version": message.version,
        "message": represented_message,
    }
