from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

SESSION_EPOCH_SALT = "users.models.User.session_epoch"


class User(AbstractUser):
    class Theme(models.TextChoices):
        SYSTEM = "system", pgettext_lazy("theme", "System")
        LIGHT = "light", _("Light")
        DARK = "dark", _("Dark")

    class Language(models.TextChoices):
        BROWSER = "", _("From the browser")
        ENGLISH = "en", "English"
        POLISH = "pl", "Polski"

    display_name = models.CharField(max_length=150, blank=True)
    is_bot = models.BooleanField(default=False)
    external_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    theme = models.CharField(max_length=6, choices=Theme.choices, default=Theme.SYSTEM)
    language = models.CharField(
        max_length=8,
        choices=Language.choices,
        default=Language.BROWSER,
        blank=True,
        help_text="The pages' language; empty: the browser's (Accept-Language).",
    )
    session_epoch = models.PositiveIntegerField(
        default=0,
        help_text='Raised by "sign out everywhere": every session signed in before is refused.',
    )

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.username

    @property
    def name(self) -> str:
        return self.display_name or self.get_full_name() or self.username

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        """Django's session hash (of the password), with the session epoch
        mixed in: a session stores the hash it was signed in with, and Django
        signs it out on its next request once the hash differs, so raising
        the epoch ends every session at once (users.services.sign_out_everywhere).
        Epoch 0 keeps Django's hash: sessions from before the field existed
        stay valid. Django's get_session_auth_hash and its SECRET_KEY_FALLBACKS
        variant both call this."""
        password_hash = super()._get_session_auth_hash(secret=secret)
        if not self.session_epoch:
            return password_hash
        return salted_hmac(
            SESSION_EPOCH_SALT,
            f"{password_hash}:{self.session_epoch}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()


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
