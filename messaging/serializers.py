import re

from django.conf import settings
from rest_framework import serializers

from messaging.models import Message


class MessageSerializer(serializers.ModelSerializer):
    """The message shape of the REST API and of every live event."""

    # Every field is declared: a field ModelSerializer builds from the model
    # is rebuilt for each instance, scanning the model's constraints, which
    # was the costliest part of serializing a sent message (README
    # "Performance"; 0.2 ms a message now).
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


ID_PATTERN = re.compile(r"^[0-9]{1,18}$")


def parse_id(value: str | None) -> int | None:
    """A database id written as digits (1 to 18 ASCII ones, around spaces), or
    None for anything else ("²", "-1", a number too big for the database's
    integer): an id that cannot exist is "not found", never a query."""
    value = (value or "").strip()
    return int(value) if ID_PATTERN.fullmatch(value) else None


class IdField(serializers.RegexField):
    """An id as the API writes it: a string of digits (a JSON number is accepted too)."""

    def __init__(self, **kwargs):
        super().__init__(ID_PATTERN.pattern, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, int) and not isinstance(data, bool):
            data = str(data)
        if not isinstance(data, str):
            self.fail("invalid")
        value = super().to_internal_value(data)
        # The regex validator runs only after this method, so check it here
        # before int(): "abc" must be a 400, not a ValueError (500).
        if not ID_PATTERN.match(value):
            self.fail("invalid")
        return int(value)


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

    def validate(self, attrs: dict) -> dict:
        given = [name for name in ("before", "after", "sinceVersion") if name in attrs]
        if len(given) > 1:
            raise serializers.ValidationError(
                f"Use one of before, after, sinceVersion, not {given}."
            )
        return attrs
