from django.conf import settings
from django.db import models
from django.db.models.functions import Coalesce


class Conversation(models.Model):
    class Kind(models.TextChoices):
        DIRECT = "direct", "Direct"
        GROUP = "group", "Group"

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.DIRECT)
    title = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_message_at = models.DateTimeField(null=True, blank=True)
    last_seq = models.PositiveBigIntegerField(
        default=0,
        help_text="seq of the newest message; the next one gets last_seq + 1.",
    )
    last_version = models.PositiveBigIntegerField(
        default=0,
        help_text="The conversation's change counter (creates, edits, deletes).",
    )
    direct_key = models.CharField(
        max_length=64,
        unique=True,
        null=True,
        blank=True,
        editable=False,
        help_text="'<low id>:<high id>' for a direct conversation, so a pair has exactly one.",
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="conversations"
    )

    class Meta:
        indexes = [
            models.Index(
                Coalesce("last_message_at", "created_at").desc(),
                name="conversation_activity",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind="group", direct_key__isnull=True)
                | models.Q(kind="direct", direct_key__isnull=False),
                name="direct_conversations_have_a_pair_key",
            )
        ]

    def __str__(self) -> str:
        return self.title or f"{self.get_kind_display()} conversation {self.pk}"

    @staticmethod
    def direct_key_for(first_user_id: int, second_user_id: int) -> str:
        low, high = sorted((int(first_user_id), int(second_user_id)))
        return f"{low}:{high}"


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        MEMBER = "member", "Member"

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(auto_now_add=True)
    last_read_seq = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "user"], name="one_membership_per_user")
        ]
        indexes = [models.Index(fields=["user", "conversation"], name="membership_by_user")]

    def __str__(self) -> str:
        return f"{self.user} in {self.conversation}"
