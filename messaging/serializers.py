import functools
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from chatproject.ids import IdField
from conversations.models import Conversation
from conversations.serializers import ConversationSerializer
from messaging.models import Attachment, Message

REPLY_EXCERPT_LENGTH = 140


class ExcerptField(serializers.CharField):
    """The start of a text, at most REPLY_EXCERPT_LENGTH characters."""

    def to_representation(self, value: str) -> str:
        return super().to_representation(value)[:REPLY_EXCERPT_LENGTH]


class RepliedMessageSerializer(serializers.Serializer):
    """The message a reply answers, as the reply quotes it when read: its
    current text (a deleted one quotes nothing)."""

    id = serializers.CharField(read_only=True)
    seq = serializers.IntegerField(read_only=True)
    sender = serializers.CharField(source="sender_id", read_only=True, allow_null=True)
    excerpt = ExcerptField(
        source="text",
        read_only=True,
        help_text=f"The first {REPLY_EXCERPT_LENGTH} characters of its text; empty when deleted.",
    )
    deleted = serializers.BooleanField(source="is_deleted", read_only=True)


class ReactionSerializer(serializers.Serializer):
    """One emoji's reactions on a message (the OpenAPI shape of `reactions`)."""

    emoji = serializers.CharField()
    count = serializers.IntegerField()
    users = serializers.ListField(
        child=serializers.CharField(), help_text="Who reacted with it, first first."
    )
    me = serializers.BooleanField(
        required=False,
        help_text="Whether you reacted with it. REST only: a live frame is encoded once for "
        "every member and leaves it out (it is whether your id is in `users`).",
    )


def reaction_summaries(message: Message) -> list[dict]:
    """The message's reactions by emoji, in order of first use (Reaction's
    ordering). Uses the rows messaging.selectors.messages_queryset prefetches
    into `reaction_rows` (send_message sets none on a new message), else one query."""
    rows = getattr(message, "reaction_rows", None)
    summaries: dict[str, dict] = {}
    for reaction in message.reactions.all() if rows is None else rows:
        summary = summaries.setdefault(
            reaction.emoji, {"emoji": reaction.emoji, "count": 0, "users": []}
        )
        summary["count"] += 1
        summary["users"].append(str(reaction.user_id))
    return list(summaries.values())


def with_me(reactions: list[dict], viewer_id: int) -> list[dict]:
    """The reactions as `viewer_id` sees them over REST: with `me`."""
    viewer = str(viewer_id)
    return [{**reaction, "me": viewer in reaction["users"]} for reaction in reactions]


class AttachmentSerializer(serializers.Serializer):
    """An uploaded file, as the upload answers and as a message carries it.
    Its URLs are paths on this server, for members (and, unsent, for its uploader)."""

    id = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True, help_text="The uploaded name, made safe.")
    size = serializers.IntegerField(read_only=True, help_text="Bytes.")
    contentType = serializers.CharField(
        source="content_type",
        read_only=True,
        help_text="Decided from the content, not from the name or the upload's header.",
    )
    width = serializers.IntegerField(read_only=True, allow_null=True, help_text="Images only.")
    height = serializers.IntegerField(read_only=True, allow_null=True, help_text="Images only.")
    url = serializers.SerializerMethodField(
        help_text="The file (images inline, others as a download)."
    )
    thumbnailUrl = serializers.SerializerMethodField(
        help_text="Images only: at most 400 by 400 pixels, WebP."
    )

    def get_url(self, attachment: Attachment) -> str:
        return reverse("attachment-file", args=[attachment.pk])

    def get_thumbnailUrl(self, attachment: Attachment) -> str | None:
        if not attachment.is_image:
            return None
        return reverse("attachment-thumbnail", args=[attachment.pk])


# A message's attachments as MessageSerializer.to_representation writes them:
# one serializer for every message (self.fields would build all of a
# serializer's fields again for each page).
ATTACHMENT_LIST = AttachmentSerializer(many=True, read_only=True)


def attachment_ids_field() -> serializers.ListField:
    """`attachments` of a send (POST /api/messages and the socket's message.send)."""
    return serializers.ListField(
        child=IdField(),
        required=False,
        default=list,
        max_length=settings.CHAT_ATTACHMENTS_PER_MESSAGE,
        help_text="Ids of my uploads to this conversation (POST "
        "/api/conversations/{conversationId}/attachments) not sent yet, at most "
        f"{settings.CHAT_ATTACHMENTS_PER_MESSAGE}, in the order to show them; with any, "
        "`text` may be empty.",
    )


def optional_str(value: object) -> str | None:
    return None if value is None else str(value)


def iso_datetime(value: datetime | None) -> str | None:
    """As DRF's DateTimeField writes it: ISO 8601 in the current time zone, UTC as Z."""
    if value is None:
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    text = timezone.localtime(value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class MessageSerializer(serializers.ModelSerializer):
    """The message shape of the REST API and of every live event. With
    `viewer_id` in the context (REST) each reaction says whether it is the
    viewer's (`me`); live frames are built without it. Expects messages read
    with messaging.selectors.messages_queryset (or returned by
    messaging.services): with the original replied to and `mention_list`."""

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
    reactions = serializers.SerializerMethodField(
        help_text="Reactions by emoji, in order of first use."
    )
    editCount = serializers.IntegerField(
        source="edit_count",
        read_only=True,
        help_text="How many times it was edited: its history (GET …/history) has one version more.",
    )
    replyTo = RepliedMessageSerializer(
        source="reply_to",
        read_only=True,
        allow_null=True,
        help_text="The message this one answers, or null.",
    )
    mentions = serializers.SerializerMethodField(
        help_text="Ids of the members mentioned (@username) in the text."
    )
    attachments = AttachmentSerializer(
        source="attachment_list",
        many=True,
        read_only=True,
        help_text="Its files, in their order (none on a deleted message).",
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
            "reactions",
            "editCount",
            "replyTo",
            "mentions",
            "attachments",
        ]
        read_only_fields = fields

    def to_representation(self, message: Message) -> dict:
        """What the declared fields give, field for field and in their order
        (the schema is built from them; messaging/tests check the shape), written
        out: DRF's field-by-field loop was a fifth of a history page's time
        (docs/performance.md "History pages")."""
        reply_to = message.reply_to
        return {
            "id": str(message.pk),
            "conversationId": str(message.conversation_id),
            "sender": optional_str(message.sender_id),
            "text": str(message.text),
            "kind": str(message.kind),
            "seq": int(message.seq),
            "version": int(message.version),
            "createdAt": iso_datetime(message.created_at),
            "editedAt": iso_datetime(message.edited_at),
            "deletedAt": iso_datetime(message.deleted_at),
            "clientMessageId": optional_str(message.client_message_id),
            "clientTimestamp": iso_datetime(message.client_timestamp),
            "reactions": self.get_reactions(message),
            "editCount": int(message.edit_count),
            "replyTo": None
            if reply_to is None
            else {
                "id": str(reply_to.pk),
                "seq": int(reply_to.seq),
                "sender": optional_str(reply_to.sender_id),
                "excerpt": str(reply_to.text)[:REPLY_EXCERPT_LENGTH],
                "deleted": bool(reply_to.is_deleted),
            },
            "mentions": self.get_mentions(message),
            "attachments": ATTACHMENT_LIST.to_representation(message.attachment_list),
        }

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_mentions(self, message: Message) -> list[str]:
        return [str(mention.user_id) for mention in message.mention_list]

    @extend_schema_field(ReactionSerializer(many=True))
    def get_reactions(self, message: Message) -> list[dict]:
        reactions = reaction_summaries(message)
        viewer_id = self.context.get("viewer_id")
        return reactions if viewer_id is None else with_me(reactions, viewer_id)


def message_json_sql(quote, message: str, replied: str) -> str:
    """MessageSerializer.to_representation's shape built by PostgreSQL: a JSON
    text expression over the messages table under alias `message`, with the
    original it replies to LEFT JOINed under `replied`. What a message keeps
    in rows of its own (reactions, mentions, attachments) is written as []:
    the reader renders a message that has any through MessageSerializer
    (messaging.selectors.rendered_rows). Timestamps as iso_datetime writes
    them (TIME_ZONE is UTC). The history page built this way takes a third
    of the CPU of building models and serializing them (docs/performance.md
    "History pages"); messaging/tests/test_rendered_pages.py holds the two
    to the same output."""
    field = Message._meta.get_field

    def column(alias: str, name: str) -> str:
        return f"{quote(alias)}.{quote(field(name).column)}"

    def text(alias: str, name: str) -> str:
        return f"({column(alias, name)})::text"

    def timestamp(name: str) -> str:
        value = column(message, name)
        utc = f"({value} AT TIME ZONE 'UTC')"
        return (
            f"CASE WHEN {value} IS NULL THEN NULL "
            f"WHEN date_part('microseconds', {value})::integer %% 1000000 = 0 "
            f"""THEN to_char({utc}, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') """
            f"""ELSE to_char({utc}, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') END"""
        )

    replied_id = column(replied, "id")
    reply_to = (
        f"CASE WHEN {replied_id} IS NULL THEN NULL ELSE json_build_object("
        f"'id', {text(replied, 'id')}, 'seq', {column(replied, 'seq')}, "
        f"'sender', {text(replied, 'sender')}, "
        f"'excerpt', left({column(replied, 'text')}, {REPLY_EXCERPT_LENGTH}), "
        f"'deleted', {column(replied, 'deleted_at')} IS NOT NULL) END"
    )
    fields = {
        "id": text(message, "id"),
        "conversationId": text(message, "conversation"),
        "sender": text(message, "sender"),
        "text": column(message, "text"),
        "kind": column(message, "kind"),
        "seq": column(message, "seq"),
        "version": column(message, "version"),
        "createdAt": timestamp("created_at"),
        "editedAt": timestamp("edited_at"),
        "deletedAt": timestamp("deleted_at"),
        "clientMessageId": column(message, "client_message_id"),
        "clientTimestamp": timestamp("client_timestamp"),
        "reactions": "'[]'::json",
        "editCount": column(message, "edit_count"),
        "replyTo": reply_to,
        "mentions": "'[]'::json",
        "attachments": "'[]'::json",
    }
    pairs = ", ".join(f"'{name}', {expression}" for name, expression in fields.items())
    return f"json_build_object({pairs})::text"


class SendMessageSerializer(serializers.Serializer):
    conversationId = IdField()
    sender = IdField(help_text="Must be the signed-in user's id.")
    text = serializers.CharField(
        trim_whitespace=False,
        allow_blank=True,
        help_text="At most CHAT_MESSAGE_MAX_LENGTH characters (4000); empty only with attachments.",
    )
    clientMessageId = serializers.CharField(
        required=False,
        allow_null=True,
        max_length=64,
        help_text="Makes the send idempotent: a retry with the same id returns the first message.",
    )
    clientTimestamp = serializers.DateTimeField(required=False, allow_null=True)
    replyTo = IdField(
        required=False,
        allow_null=True,
        help_text="The id of the message this one answers, in the same conversation.",
    )
    attachments = attachment_ids_field()


class EditMessageSerializer(serializers.Serializer):
    text = serializers.CharField(trim_whitespace=False)


class AddReactionSerializer(serializers.Serializer):
    emoji = serializers.CharField(
        trim_whitespace=False,
        help_text="One emoji (one grapheme cluster of Unicode's emoji, or ✓), at most 64 bytes.",
    )


class MessageVersionSerializer(serializers.Serializer):
    """One version of a message's text (messaging.selectors.MessageVersion)."""

    text = serializers.CharField(read_only=True)
    at = serializers.DateTimeField(read_only=True, help_text="When the text was written.")
    by = serializers.CharField(
        source="by_id",
        read_only=True,
        allow_null=True,
        help_text="Who wrote it (null for a deleted user).",
    )


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
    (with_details) and `last_message` and `unread_mentions` (with_last_messages)."""

    name = serializers.CharField(
        source="name_for_viewer",
        read_only=True,
        help_text="The title, or else the other members' names (yours in a conversation "
        "with yourself).",
    )
    muted = serializers.SerializerMethodField(help_text="Whether you muted the conversation.")
    lastReadSeq = serializers.SerializerMethodField()
    unreadCount = serializers.SerializerMethodField()
    unreadMentions = serializers.IntegerField(
        source="unread_mentions",
        read_only=True,
        help_text="How many unread messages mention you.",
    )
    lastMessage = MessageSerializer(source="last_message", read_only=True, allow_null=True)

    class Meta(ConversationSerializer.Meta):
        fields = [
            *ConversationSerializer.Meta.fields,
            "name",
            "muted",
            "lastReadSeq",
            "unreadCount",
            "unreadMentions",
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


@functools.cache
def shared_validator(serializer_class: type[serializers.Serializer]) -> serializers.Serializer:
    """One instance of a request serializer, its fields built once."""
    return serializer_class()


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    """What `serializer_class(data=data).is_valid(raise_exception=True)` gives
    (its validated data, or the same ValidationError with the fields' errors),
    through one shared instance per class: DRF builds a serializer's fields,
    a deep copy of the declared ones, for every instance, which was most of a
    REST send's validation (docs/performance.md "REST send"). Validation keeps
    no state on the serializer, so one instance serves every request's thread
    (as realtime.frames' serve every socket)."""
    return shared_validator(serializer_class).run_validation(data)
