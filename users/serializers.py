from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from users.models import ApiToken, User

USER_DIRECTORY_LIMIT = 200


class UserSerializer(serializers.ModelSerializer):
    """A user as the viewer sees them: `lastSeenAt` only for the users in the
    context's `last_seen_visible` (the viewer and who shares a conversation
    with them: conversations.selectors.last_seen_visible_ids), null for the rest."""

    id = serializers.CharField(read_only=True)
    displayName = serializers.CharField(source="name", read_only=True)
    isBot = serializers.BooleanField(source="is_bot", read_only=True)
    lastSeenAt = serializers.SerializerMethodField(
        help_text="When the user was last online; null while they are, when they never were, "
        "or when you share no conversation with them."
    )

    class Meta:
        model = User
        fields = ["id", "username", "displayName", "isBot", "lastSeenAt"]
        read_only_fields = fields

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_lastSeenAt(self, user: User) -> str | None:
        if user.last_seen_at is None or user.pk not in self.context.get("last_seen_visible", ()):
            return None
        return serializers.DateTimeField().to_representation(user.last_seen_at)


class CurrentUserSerializer(UserSerializer):
    """The signed-in user (GET and PATCH /api/users/me): a user as others
    see them, plus their own preferences."""

    theme = serializers.ChoiceField(choices=User.Theme.choices, read_only=True)
    language = serializers.ChoiceField(
        choices=User.Language.choices,
        read_only=True,
        help_text='The pages\' language; "" follows the browser (Accept-Language).',
    )

    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "theme", "language"]
        read_only_fields = fields


class ProfileUpdateSerializer(serializers.Serializer):
    """PATCH /api/users/me: any of these; what is left out is kept. Whether
    the values are valid is users.services.update_profile's to say."""

    displayName = serializers.CharField(
        max_length=150,
        required=False,
        allow_blank=True,
        help_text='Shown instead of the username; "" shows the username.',
    )
    theme = serializers.CharField(
        required=False, help_text='"system" (the browser\'s), "light" or "dark".'
    )
    language = serializers.CharField(
        required=False, allow_blank=True, help_text='"en", "pl", or "" (the browser\'s).'
    )


class DirectoryEntrySerializer(UserSerializer):
    """A user of the directory: also whether they are online (annotated by
    the directory's query from users.services.live_sockets)."""

    online = serializers.BooleanField(
        read_only=True, help_text="Whether any socket of theirs is open."
    )

    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "online"]
        read_only_fields = fields


class SignUpSerializer(serializers.Serializer):
    """The request's shape; what makes a valid account (a free, normalised
    username, a strong password) is users.services.register_user's to say."""

    username = serializers.RegexField(r"^[\w.@+-]{1,150}$", max_length=150)
    password = serializers.CharField(write_only=True, max_length=128, trim_whitespace=False)
    displayName = serializers.CharField(
        max_length=150, required=False, allow_blank=True, default=""
    )


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)
    name = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text="A label for the token, e.g. the device it is for.",
    )


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="The key; shown once, store it.")
    tokenPrefix = serializers.CharField(help_text="First characters of the key.")
    user = UserSerializer()


class UserSearchSerializer(serializers.Serializer):
    """The user directory's query. A CharField, so a NUL character is a 400
    (PostgreSQL cannot compare text with one: it was a 500)."""

    search = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Matches username or display name (case-insensitive); an exact username "
        "comes first.",
    )
    limit = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=USER_DIRECTORY_LIMIT,
        default=USER_DIRECTORY_LIMIT,
        help_text=f"At most this many users (1 to {USER_DIRECTORY_LIMIT}).",
    )


class ApiTokenSerializer(serializers.ModelSerializer):
    """One of my API tokens, as listed: never the key (only its hash is stored)."""

    id = serializers.CharField(read_only=True)
    prefix = serializers.CharField(read_only=True, help_text="First characters of the key.")
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    lastUsedAt = serializers.DateTimeField(source="last_used_at", read_only=True, allow_null=True)
    revokedAt = serializers.DateTimeField(
        source="revoked_at",
        read_only=True,
        allow_null=True,
        help_text="Set once the token is revoked; it no longer authenticates.",
    )

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "createdAt", "lastUsedAt", "revokedAt"]
        read_only_fields = fields
