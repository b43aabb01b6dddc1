from django.conf import settings
from django.db import models

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
    deleted_at = models.DateTimeField(null=True, blank=True)

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
