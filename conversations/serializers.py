from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chatproject.ids import IdField
from conversations.models import Conversation, Membership


class MemberSerializer(serializers.Serializer):
    """One member of a conversation: a membership with its user."""

    id = serializers.CharField(source="user_id", read_only=True, help_text="The user's id.")
    name = serializers.CharField(
        source="user.name", read_only=True, help_text="Display name, or else the username."
    )
    username = serializers.CharField(source="user.username", read_only=True)
    role = serializers.ChoiceField(choices=Membership.Role.choices, read_only=True)


class ConversationSerializer(serializers.ModelSerializer):
    """A conversation as every member sees it (and as live events carry it).
    Expects the members set by conversations.selectors (`member_list`, `member_ids`)."""

    id = serializers.CharField(read_only=True)
    users = serializers.SerializerMethodField(help_text="Ids of the members.")
    members = MemberSerializer(
        source="member_list", many=True, read_only=True, help_text="The members, in join order."
    )
    createdBy = serializers.CharField(source="created_by_id", read_only=True, allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    lastMessageAt = serializers.DateTimeField(
        source="last_message_at", read_only=True, allow_null=True
    )
    lastSeq = serializers.IntegerField(source="last_seq", read_only=True)
    lastVersion = serializers.IntegerField(source="last_version", read_only=True)
    workspaceId = serializers.CharField(source="workspace_id", read_only=True)
    closedAt = serializers.DateTimeField(source="closed_at", read_only=True, allow_null=True)
    assigneeId = serializers.CharField(source="assignee_id", read_only=True, allow_null=True)
    rating = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Conversation
        fields = [
            "id",
            "users",
            "members",
            "kind",
            "title",
            "createdBy",
            "createdAt",
            "lastMessageAt",
            "lastSeq",
            "lastVersion",
            "workspaceId",
            "status",
            "closedAt",
            "assigneeId",
            "rating",
            "summary",
        ]
        read_only_fields = fields

    def get_users(self, conversation: Conversation) -> list[str]:
        return [str(user_id) for user_id in conversation.member_ids]


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "pattern": "^[0-9]+$", "description": "A user id"},
            {
                "type": "object",
                "description": 'The seed\'s form: {"senderId": id} or {"receiverId": id}',
                "properties": {
                    "senderId": {"type": "string"},
                    "receiverId": {"type": "string"},
                },
            },
        ]
    }
)
class ParticipantField(serializers.Field):
    """One entry of `users`: an id, or the seed's {"senderId"} / {"receiverId"} object."""

    # Braces doubled: DRF's fail() runs str.format on the message.
    default_error_messages = {"invalid": 'Expected a user id or {{"senderId"/"receiverId": id}}.'}

    def to_internal_value(self, data) -> dict:
        if isinstance(data, dict):
            roles = {key: data[key] for key in ("senderId", "receiverId") if key in data}
            if len(roles) != 1 or len(data) != 1:
                self.fail("invalid")
            role, value = next(iter(roles.items()))
            return {"id": IdField().run_validation(value), "role": role}
        return {"id": IdField().run_validation(data), "role": None}

    def to_representation(self, value):
        return value


class CreateConversationSerializer(serializers.Serializer):
    """Accepts `{"users": ["1","2"]}`, the seed's
    `{"users": [{"senderId": "1"}, {"receiverId": "2"}]}` and
    `{"senderId": "1", "receiverId": "2"}`. The caller is always a member."""

    users = serializers.ListField(child=ParticipantField(), required=False, max_length=1000)
    senderId = IdField(required=False, help_text="Must be the signed-in user's id.")
    receiverId = IdField(required=False)
    title = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    kind = serializers.ChoiceField(
        choices=Conversation.Kind.choices,
        required=False,
        help_text="Defaults to direct for two users and group for more.",
    )

    def validate(self, attrs: dict) -> dict:
        participants = list(attrs.get("users", []))
        if "senderId" in attrs:
            participants.append({"id": attrs["senderId"], "role": "senderId"})
        if "receiverId" in attrs:
            participants.append({"id": attrs["receiverId"], "role": "receiverId"})
        if not participants:
            raise serializers.ValidationError({"users": ["List the users of the conversation."]})
        attrs["member_ids"] = [participant["id"] for participant in participants]
        attrs["sender_ids"] = [p["id"] for p in participants if p["role"] == "senderId"]
        return attrs


class MarkReadSerializer(serializers.Serializer):
    seq = serializers.IntegerField(
        min_value=0,
        max_value=2**62,
        required=False,
        help_text="Read up to this seq; omitted: up to the newest message.",
    )


class RenameGroupSerializer(serializers.Serializer):
    title = serializers.CharField(
        trim_whitespace=False,
        allow_blank=True,
        help_text="The group's new title: trimmed, one line, 1 to 200 characters.",
    )


class AddMembersSerializer(serializers.Serializer):
    users = serializers.ListField(
        child=IdField(),
        min_length=1,
        max_length=1000,
        source="user_ids",
        help_text="Ids of the users to add; those already members are left as they are.",
    )


class MembershipChangeSerializer(serializers.Serializer):
    muted = serializers.BooleanField(
        help_text="Muted: the conversation raises no notification and no title count."
    )


class MembershipStateSerializer(serializers.Serializer):
    conversationId = serializers.CharField()
    muted = serializers.BooleanField()
    lastReadSeq = serializers.IntegerField()


class ReadStateSerializer(serializers.Serializer):
    conversationId = serializers.CharField()
    lastReadSeq = serializers.IntegerField()
    unreadCount = serializers.IntegerField()
