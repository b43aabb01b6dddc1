"""Workspaces (every conversation belongs to one) and the API keys that
integrations use to read a workspace's conversations through the seed
001-004 endpoints (integrations)."""

import secrets

from django.conf import settings
from django.db import models

DEFAULT_WORKSPACE_SLUG = "default"


class WorkspaceManager(models.Manager):
    def default(self) -> "Workspace":
        """The default workspace, where conversations go when none is named.
        Migration 0002 creates it; it is created again here if it is gone (a
        test database flushed between tests), so nothing that creates a
        conversation has to name a workspace: the one write a model default
        makes, of one fixed row. Safe under concurrency (get_or_create retries
        a lost race on the unique slug)."""
        workspace, _ = self.get_or_create(
            slug=DEFAULT_WORKSPACE_SLUG, defaults={"name": "Default workspace"}
        )
        return workspace


class Workspace(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=50, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = WorkspaceManager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_default(self) -> bool:
        return self.slug == DEFAULT_WORKSPACE_SLUG


def default_workspace_id() -> int:
    """The default of Conversation.workspace (and Tag.workspace): the default
    workspace, which the workspaces service recreates if it is gone."""
    return Workspace.objects.default().pk


class ApiKey(models.Model):
    """An integration's key to one workspace: a public id and a secret. Only
    the secret's SHA-256 is stored (chatproject.keys, as for user tokens); the secret is
    shown once, when the key is created."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, help_text="What the key is for, e.g. the integration.")
    key_id = models.CharField(
        max_length=32,
        unique=True,
        editable=False,
        help_text="The public id (seed 001's asapp-api-id).",
    )
    secret_hash = models.CharField(max_length=64, unique=True, editable=False)
    secret_prefix = models.CharField(
        max_length=8,
        editable=False,
        help_text="First characters of the secret, to tell keys apart.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.key_id})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @staticmethod
    def generate_key_id() -> str:
        return secrets.token_hex(12)
