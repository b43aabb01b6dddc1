import secrets

from django.conf import settings
from django.db import models, router
from django.db.models.functions import Coalesce

from workspaces.models import default_workspace_id


def generate_access_token() -> str:
    """A conversation's access token (seed 002's `{token}`): random, unique."""
    return secrets.token_urlsafe(24)


class Tag(models.Model):
    """A label for conversations of one workspace, with a name per language
    (TagTranslation); `name` is used where no translation exists."""

    workspace = models.ForeignKey(
        "workspaces.Workspace",
        on_delete=models.CASCADE,
        related_name="tags",
        default=default_workspace_id,
    )
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="one_tag_name_per_workspace")
        ]

    def __str__(self) -> str:
        return self.name


class TagTranslation(models.Model):
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="translations")
    language = models.CharField(
        max_length=16, help_text="A language code, lower case: en, pl, de, pt-br."
    )
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["language"]
        constraints = [
            models.UniqueConstraint(fields=["tag", "language"], name="one_name_per_tag_language")
        ]

    def __str__(self) -> str:
        return f"{self.language}: {self.name}"

    @staticmethod
    def normalize_language(code: str) -> str:
        """Language codes are compared lower case with "-": pt_BR is pt-br."""
        return code.strip().lower().replace("_", "-")


class Conversation(models.Model):
    class Kind(models.TextChoices):
        DIRECT = "direct", "Direct"
        GROUP = "group", "Group"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    workspace = models.ForeignKey(
        "workspaces.Workspace",
        on_delete=models.PROTECT,
        related_name="conversations",
        default=default_workspace_id,
    )
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
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    closed_at = models.DateTimeField(null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_conversations",
        help_text="The agent looking after the conversation.",
    )
    rating = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The customer's rating of the conversation."
    )
    summary = models.TextField(blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="conversations")
    access_token = models.CharField(
        max_length=64,
        unique=True,
        default=generate_access_token,
        editable=False,
        help_text="Names the conversation in seed 002's /conversations/{token}/messages.",
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
            ),
            models.CheckConstraint(
                condition=models.Q(status="open", closed_at__isnull=True)
                | models.Q(status="closed", closed_at__isnull=False),
                name="closed_conversations_have_closed_at",
            ),
        ]

    def __str__(self) -> str:
        return self.title or f"{self.get_kind_display()} conversation {self.pk}"

    @classmethod
    def reference(cls, pk: int) -> "Conversation":
        """The conversation with this id without reading it: its other fields
        load on first access, as after `.only("id")` (a bare
        `Conversation(pk=…)` would query for its default workspace)."""
        return cls.from_db(router.db_for_read(cls), ["id"], [pk])

    @staticmethod
    def direct_key_for(first_user_id: int, second_user_id: int) -> str:
        low, high = sorted((int(first_user_id), int(second_user_id)))
        return f"{low}:{high}"


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        MEMBER = "member", "Member"
        AGENT = "agent", "Agent"
        CUSTOMER = "customer", "Customer"

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(auto_now_add=True)
    last_read_seq = models.PositiveBigIntegerField(default=0)
    muted = models.BooleanField(
        default=False,
        help_text="The member's own choice: the conversation raises no notification for them.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "user"], name="one_membership_per_user")
        ]
        indexes = [models.Index(fields=["user", "conversation"], name="membership_by_user")]

    def __str__(self) -> str:
        return f"{self.user} in {self.conversation}"
