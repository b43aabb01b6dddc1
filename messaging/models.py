from django.conf import settings
from django.core.files.storage import storages
from django.core.signals import setting_changed
from django.db import models
from django.dispatch import receiver
from django.utils.functional import LazyObject, empty

from conversations.models import Conversation


class Message(models.Model):
    class Kind(models.TextChoices):
        TEXT = "text", "Text"
        SYSTEM = "system", "System"

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
        help_text="Empty for system messages.",
    )
    seq = models.PositiveBigIntegerField(help_text="1, 2, 3 … within the conversation, no gaps.")
    version = models.PositiveBigIntegerField(
        help_text="The conversation version of this message's latest change."
    )
    text = models.TextField(blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.TEXT)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    client_timestamp = models.DateTimeField(null=True, blank=True)
    client_message_id = models.CharField(max_length=64, null=True, blank=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    edit_count = models.PositiveIntegerField(
        default=0, help_text="How many times it was edited (its MessageEdit rows)."
    )
    deleted_at = models.DateTimeField(null=True, blank=True)
    reply_to = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replies",
        help_text="The message this one answers (same conversation).",
    )

    class Meta:
        ordering = ["conversation", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="one_message_per_seq"),
            models.UniqueConstraint(
                fields=["sender", "client_message_id"],
                condition=models.Q(client_message_id__isnull=False),
                name="one_message_per_client_message_id",
            ),
        ]
        indexes = [
            models.Index(fields=["conversation", "version"], name="message_by_version"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} in {self.conversation_id}"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class Mention(models.Model):
    """`user` is mentioned (`@username`) in `message`. The conversation and
    seq are copied from the message so that a conversation list counts each
    member's unread mentions in one indexed query (seq above their read mark)."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="mention_rows")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mentions"
    )
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="mentions"
    )
    seq = models.PositiveBigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "user"], name="one_mention_per_user")
        ]
        indexes = [
            models.Index(fields=["user", "conversation", "seq"], name="mention_by_user_seq"),
        ]

    def __str__(self) -> str:
        return f"@{self.user_id} in {self.message_id}"


class Reaction(models.Model):
    """One user's emoji on one message (an emoji at most once per user)."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reactions")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reactions"
    )
    emoji = models.CharField(max_length=64, help_text="One grapheme cluster.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["message", "created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["message", "user", "emoji"], name="one_reaction_per_user_emoji"
            )
        ]

    def __str__(self) -> str:
        return f"{self.emoji} by {self.user_id} on {self.message_id}"


class MessageEdit(models.Model):
    """A message's text before one edit: who edited it and when (edit history)."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="edits")
    previous_text = models.TextField()
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="message_edits",
    )
    edited_at = models.DateTimeField()

    class Meta:
        ordering = ["message", "edited_at", "pk"]

    def __str__(self) -> str:
        return f"edit of {self.message_id} at {self.edited_at}"


class AttachmentStorage(LazyObject):
    """STORAGES["attachments"] (chatproject/settings/storage.py), looked up
    when first used and again after the setting changes (as Django's
    default_storage is): a FileField holds its storage from the moment the
    model is loaded."""

    def _setup(self) -> None:
        self._wrapped = storages["attachments"]


ATTACHMENT_STORAGE = AttachmentStorage()


@receiver(setting_changed)
def forget_attachment_storage(*, setting: str, **kwargs) -> None:
    if setting == "STORAGES":
        ATTACHMENT_STORAGE._wrapped = empty


def attachment_storage() -> AttachmentStorage:
    """The attachments' storage, named by a callable so that the migrations
    do not name a backend."""
    return ATTACHMENT_STORAGE


class Attachment(models.Model):
    """A file uploaded into a conversation, then sent with one message. Until
    it is sent (`message` null) only its uploader sees it, and
    purge_attachments removes it after CHAT_ATTACHMENT_UNSENT_HOURS. The
    type is the one its content showed (messaging/files.py), not the name's."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="attachments"
    )
    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="attachments",
    )
    message = models.ForeignKey(
        Message,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="attachments",
        help_text="Empty until it is sent.",
    )
    position = models.PositiveSmallIntegerField(default=0, help_text="Its place in the message.")
    name = models.CharField(max_length=255, help_text="The uploaded file's name, made safe.")
    size = models.PositiveBigIntegerField(help_text="Bytes, as stored.")
    content_type = models.CharField(max_length=100)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    file = models.FileField(storage=attachment_storage, max_length=300)
    thumbnail = models.FileField(storage=attachment_storage, max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["message_id", "position", "pk"]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=models.Q(message__isnull=True),
                name="unsent_attachment_by_age",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_image(self) -> bool:
        return bool(self.thumbnail)
