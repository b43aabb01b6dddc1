"""Writes to users and their API tokens."""

from datetime import timedelta

from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from users.models import ApiToken, User, hash_token

TOKEN_LAST_USED_GRANULARITY = timedelta(minutes=1)


@transaction.atomic
def register_user(*, username: str, password: str, display_name: str = "") -> User:
    """Create an account; raises django ValidationError for a weak password."""
    user = User(username=username, display_name=display_name)
    validate_password(password, user)
    user.set_password(password)
    user.save()
    return user


def issue_token(user: User, *, name: str = "") -> tuple[ApiToken, str]:
    """A new token for the user; the plain key is returned once and never stored."""
    key = ApiToken.generate_key()
    token = ApiToken.objects.create(user=user, key_hash=hash_token(key), prefix=key[:8], name=name)
    return token, key


def token_for_credentials(
    request: HttpRequest | None, *, username: str, password: str, name: str = ""
) -> tuple[ApiToken, str] | None:
    user = authenticate(request, username=username, password=password)
    if user is None or not user.is_active:
        return None
    return issue_token(user, name=name)


def revoke_token(token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def user_for_token_key(key: str) -> tuple[User, ApiToken] | None:
    """The active user a key belongs to. The last-used time is written at most
    once a minute, so authenticated reads do not each cost a write."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=hash_token(key), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > TOKEN_LAST_USED_GRANULARITY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token.user, token
