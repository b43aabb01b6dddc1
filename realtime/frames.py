"""The WebSocket frames, as serializers: the consumer validates client frames
with them, and the AsyncAPI document (realtime/asyncapi.py) describes every
frame from them, with the message and conversation shapes of the REST API."""

import functools
from typing import Any

from rest_framework import serializers

from chatproject.ids import IdField
from conversations.serializers import ConversationSerializer
from messaging.serializers import MessageSerializer, attachment_ids_field

# Client → server -----------------------------------------------------------


class MessageSendFrame(serializers.Serializer):
    conversationId = IdField()
    text = serializers.CharField(
        trim_whitespace=False, allow_blank=True, help_text="Empty only with attachments."
    )
    clientMessageId = serializers.CharField(
        max_length=64,
        required=False,
        allow_null=True,
        help_text="Echoed in message.ack; a retry with the same id stores nothing new.",
    )
    clientTimestamp = serializers.DateTimeField(required=False, allow_null=True)
    replyTo = IdField(
        required=False,
        allow_null=True,
        help_text="The id of the message this one answers, in the same conversation "
        "(else an error frame: code validation_error, details.fields.replyTo).",
    )
    attachments = attachment_ids_field()


class ReactionFrame(serializers.Serializer):
    """reaction.add / reaction.remove: add or take back my emoji on a message
    (as POST and DELETE /api/messages/{conversationId}/{messageId}/reactions).
    A change reaches every member, this socket too, as `message.updated`;
    one that changes nothing (added already, or none to remove) sends
    nothing; a refusal is an `error` frame naming it."""

    conversationId = IdField()
    messageId = IdField()
    emoji = serializers.CharField(
        trim_whitespace=False,
        help_text="One emoji (one grapheme cluster of Unicode's emoji, or ✓), at most 64 bytes.",
    )


class TypingFrame(serializers.Serializer):
    conversationId = IdField()
    active = serializers.BooleanField()


class ReadFrame(serializers.Serializer):
    conversationId = IdField()
    seq = serializers.IntegerField(min_value=0, max_value=2**62)


class SyncFrame(serializers.Serializer):
    conversationId = IdField()
    sinceVersion = serializers.IntegerField(min_value=0, max_value=2**62)


CLIENT_FRAMES = {
    "message.send": MessageSendFrame,
    "typing": TypingFrame,
    "read": ReadFrame,
    "sync": SyncFrame,
    "reaction.add": ReactionFrame,
    "reaction.remove": ReactionFrame,
}


@functools.cache
def frame_validator(frame_type: str) -> serializers.Serializer:
    """One serializer per client frame type, its fields built once. DRF
    builds a serializer's fields (a deep copy of the declared ones) for each
    instance: a serializer per frame was a quarter of the event loop's time
    at 280 sends/s (py-spy, docs/performance.md "Socket send path")."""
    return CLIENT_FRAMES[frame_type]()


def validated_frame(frame: dict[str, Any]) -> dict[str, Any]:
    """The frame's validated data; a ValidationError (with the fields'
    errors, as `is_valid(raise_exception=True)` raises it) if it is not
    valid. Validation keeps no state on the serializer and never awaits, so
    one instance serves every socket of the loop."""
    return frame_validator(frame["type"]).run_validation(frame)


# Server → client -----------------------------------------------------------


class MessageEventFrame(serializers.Serializer):
    type = serializers.CharField()
    conversationId = serializers.CharField()
    seq = serializers.IntegerField()
    version = serializers.IntegerField()
    message = MessageSerializer()


class MessageAckFrame(MessageEventFrame):
    clientMessageId = serializers.CharField(allow_null=True)


class TypingEventFrame(serializers.Serializer):
    type = serializers.CharField()
    conversationId = serializers.CharField()
    userId = serializers.CharField()
    active = serializers.BooleanField()


class ReadEventFrame(serializers.Serializer):
    type = serializers.CharField()
    conversationId = serializers.CharField()
    userId = serializers.CharField()
    seq = serializers.IntegerField()


class PresenceFrame(serializers.Serializer):
    type = serializers.CharField()
    userId = serializers.CharField()
    online = serializers.BooleanField()
    lastSeenAt = serializers.DateTimeField(allow_null=True)


class ConversationNewFrame(serializers.Serializer):
    type = serializers.CharField()
    conversation = ConversationSerializer()


class ConversationUpdatedFrame(ConversationNewFrame):
    """A conversation's title or members changed: to its members' sockets."""


class ConversationDeletedFrame(serializers.Serializer):
    """The conversation was deleted (by an admin): forget it."""

    type = serializers.CharField()
    conversationId = serializers.CharField()


class ConversationRemovedFrame(ConversationDeletedFrame):
    """You left the conversation or were removed from it: forget it (no more of its events)."""


class MembershipUpdatedFrame(ConversationDeletedFrame):
    """Your own setting of a conversation changed (on any of your sockets)."""

    muted = serializers.BooleanField()


class SyncDoneFrame(serializers.Serializer):
    type = serializers.CharField()
    conversationId = serializers.CharField()


class SyncNeededFrame(serializers.Serializer):
    """Live events of this conversation reached the socket too late
    (CHAT_LIVE_MAX_DELAY_SECONDS after their commit: the server or Redis is
    behind) and were not sent: `sync` from the version you hold. Sent once
    until that sync; the later live events come as usual."""

    type = serializers.CharField()
    conversationId = serializers.CharField()


class ErrorFrame(serializers.Serializer):
    type = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()
    status = serializers.IntegerField(help_text="The HTTP status the same error has over REST.")
    details = serializers.DictField(required=False)
    frameType = serializers.CharField(required=False, help_text="type of the frame it answers")
    clientMessageId = serializers.CharField(required=False)
    conversationId = serializers.CharField(required=False)


SERVER_FRAMES = {
    "message.new": MessageEventFrame,
    "message.updated": MessageEventFrame,
    "message.deleted": MessageEventFrame,
    "message.ack": MessageAckFrame,
    "typing": TypingEventFrame,
    "read": ReadEventFrame,
    "presence": PresenceFrame,
    "conversation.new": ConversationNewFrame,
    "conversation.updated": ConversationUpdatedFrame,
    "conversation.deleted": ConversationDeletedFrame,
    "conversation.removed": ConversationRemovedFrame,
    "membership.updated": MembershipUpdatedFrame,
    "sync.done": SyncDoneFrame,
    "sync.needed": SyncNeededFrame,
    "error": ErrorFrame,
}
