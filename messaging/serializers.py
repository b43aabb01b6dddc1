from django.conf import settings
from rest_framework import serializers

from chatproject.ids import IdField
from conversations.models import Conversation
from conversations.serializers import ConversationSerializer
from messaging.models import Message


class MessageSerializer(serializers.ModelSerializer):
    """The message shape of the REST API and of every live event."""

    # Every field is declared: a field ModelSerializer builds from the model
    # is rebuilt for each instance, scanning the model's constraints, which
    # was the costliest part of serializing a sent message
    # (docs/performance.md "What the profile changed"; 0.2 ms a message now).
    id = serializers.CharField(read_only=True)
    text = serializers.CharField(read_only=True)
    kind = serializers.ChoiceField(choices=Message.Kind.choices, read_only=True)
    seq = serializers.IntegerField(
        read_only=True, help_text=Message._meta.get_field("seq").help_text
    )
    version = serializers.IntegerField(
        read_only=True, help_text=Message._meta.get_field("version").help_text
    )
    conversationId = serializers.CharField(source="conversation_id", read_only=True)
    sender = serializers.CharField(
        source="sender_id",
        read_only=True,
        allow_null=True,
        help_text="null for system messages (kind system) and for the messages of a deleted "
        "user (kind text: shown as from a deleted user)",
    )
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    editedAt = serializers.DateTimeField(source="edited_at", read_only=True, allow_null=True)
    deletedAt = serializers.DateTimeField(
        source="deleted_at",
        read_only=True,
        allow_null=True,
        help_text="Set on a deleted message (a tombstone: its text is empty).",
    )
    clientMessageId = serializers.CharField(
        source="client_message_id", read_only=True, allow_null=True
    )
    clientTimestamp = serializers.DateTimeField(
        source="client_timestamp", read_only=True, allow_null=True
    )

    class Meta:
        model = Message
        fields = [
            "id",
            "conversationId",
            "sender",
            "text",
            "kind",
            "seq",
            "version",
            "createdAt",
            "editedAt",
            "deletedAt",
            "clientMessageId",
            "clientTimestamp",
        ]
        read_only_fields = fields


class SendMessageSerializer(serializers.Serializer):
    conversationId = IdField()
    sender = IdField(help_text="Must be the signed-in user's id.")
    text = serializers.CharField(
        trim_whitespace=False,
        help_text="At most CHAT_MESSAGE_MAX_LENGTH characters (4000).",
    )
    clientMessageId = serializers.CharField(
        required=False,
        allow_null=True,
        max_length=64,
        help_text="Makes the send idempotent: a retry with the same id returns the first message.",
    )
    clientTimestamp = serializers.DateTimeField(required=False, allow_null=True)


class EditMessageSerializer(serializers.Serializer):
    text = serializers.CharField(trim_whitespace=False)


class HistoryQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=settings.CHAT_HISTORY_MAX_LIMIT,
        default=settings.CHAT_HISTORY_DEFAULT_LIMIT,
    )
    before = serializers.IntegerField(required=False, min_value=1, max_value=2**62)
    after = serializers.IntegerField(required=False, min_value=0, max_value=2**62)
    sinceVersion = serializers.IntegerField(required=False, min_value=0, max_value=2**62)
    around = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2**62,
        help_text="The page around this seq: about half of it before, the rest from it on.",
    )

    def validate(self, attrs: dict) -> dict:
        given = [name for name in ("before", "after", "sinceVersion", "around") if name in attrs]
        if len(given) > 1:
            raise serializers.ValidationError(
                f"Use one of before, after, sinceVersion, around, not {given}."
            )
        return attrs


class MemberConversationSerializer(ConversationSerializer):
    """A conversation as the signed-in member sees it: with its name on their
    screen, their read marker, mute and unread count, and the newest message.
    Expects conversations.selectors' `my_membership` and `name_for_viewer`
    (with_details) and `last_message` (with_last_messages)."""

    name = serializers.CharField(
        source="name_for_viewer",
        read_only=True,
        help_text="The title, or else the other members' names (yours in a conversation "
        "with yourself).",
    )
    muted = serializers.SerializerMethodField(help_text="Whether you muted the conversation.")
    lastReadSeq = serializers.SerializerMethodField()
    unreadCount = serializers.SerializerMethodField()
    lastMessage = MessageSerializer(source="last_message", read_only=True, allow_null=True)

    class Meta(ConversationSerializer.Meta):
        fields = [
            *ConversationSerializer.Meta.fields,
            "name",
            "muted",
            "lastReadSeq",
            "unreadCount",
            "lastMessage",
        ]
        read_only_fields = fields

    def get_lastReadSeq(self, conversation: Conversation) -> int:
        membership = conversation.my_membership
        return membership.last_read_seq if membership else 0

    def get_muted(self, conversation: Conversation) -> bool:
        membership = conversation.my_membership
        return membership.muted if membership else False

    def get_unreadCount(self, conversation: Conversation) -> int:
        return max(conversation.last_seq - self.get_lastReadSeq(conversation), 0)
