from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone


class User(AbstractUser):
    display_name = models.CharField(max_length=150, blank=True)
    is_bot = models.BooleanField(default=False)
    external_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.username

    @property
    def name(self) -> str:
        return self.display_name or self.get_full_name() or self.username


class ApiToken(models.Model):
    """An API token. Only its hash is stored; the key is shown once
    (chatproject.keys: the mechanism it shares with workspace API keys)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(
        max_length=8, help_text="First characters of the key, to tell tokens apart."
    )
    name = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"


class SocketConnection(models.Model):
    """One open WebSocket. A user is online while any of theirs is open, on
    any process: the rows are shared through the database."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="socket_connections"
    )
    channel_name = models.CharField(max_length=200, unique=True)
    server = models.CharField(max_length=200, help_text="host:pid of the process holding it")
    connected_at = models.DateTimeField(auto_now_add=True)
    seen_at = models.DateTimeField(
        default=timezone.now, db_index=True, help_text="Last heartbeat of its process."
    )

    def __str__(self) -> str:
        return f"{self.user} on {self.channel_name}"
