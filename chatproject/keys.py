"""The one mechanism behind every secret a client presents: user API tokens
(users.ApiToken) and workspace API keys (workspaces.ApiKey).

A secret is 256 random bits shown once; only its SHA-256 is stored (a slow
password hash is not needed for random secrets: a leaked table is useless),
with its first characters to tell secrets apart. A credential is revoked by
stamping `revoked_at` (kept on record, never deleted), and its `last_used_at`
is written at most once a minute, so authenticated reads do not each cost a
write. The `Authorization` header is parsed here, for REST, the socket and
the seed endpoints alike.
"""

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from datetime import timedelta

from django.db import models
from django.utils import timezone

PREFIX_LENGTH = 8
LAST_USED_GRANULARITY = timedelta(minutes=1)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def prefix_of(secret: str) -> str:
    return secret[:PREFIX_LENGTH]


def revoke(credential: models.Model) -> bool:
    """Stamp `revoked_at` unless it is revoked already (the first revocation
    time is kept); True when this call revoked it."""
    now = timezone.now()
    revoked = (
        type(credential)
        .objects.filter(pk=credential.pk, revoked_at__isnull=True)
        .update(revoked_at=now)
    )
    if revoked:
        credential.revoked_at = now
    return bool(revoked)


def stamp_last_used(credential: models.Model) -> None:
    stamp_all_last_used([credential])


def stamp_all_last_used(credentials: Sequence[models.Model]) -> None:
    """Write the last-used time of the credentials (of one model) whose time
    is due, in one UPDATE: sockets that open together stamp their tokens once."""
    now = timezone.now()
    due = [
        credential
        for credential in credentials
        if credential.last_used_at is None or now - credential.last_used_at > LAST_USED_GRANULARITY
    ]
    if not due:
        return
    type(due[0]).objects.filter(pk__in=[credential.pk for credential in due]).update(
        last_used_at=now
    )
    for credential in due:
        credential.last_used_at = now


class MalformedAuthorization(ValueError):
    """An `Authorization` header of a known scheme, but not `<scheme> <credential>`."""


def authorization_credential(header: str | bytes, schemes: Iterable[str]) -> str | None:
    """The credential of an `Authorization: <scheme> <credential>` header
    whose scheme is one of `schemes` (any case); None when there is no header
    or it is of another scheme. MalformedAuthorization for a known scheme
    with no credential, more than one, or one that is not ASCII."""
    text = header.decode("latin-1") if isinstance(header, bytes) else header
    parts = text.split()
    if not parts or parts[0].lower() not in {scheme.lower() for scheme in schemes}:
        return None
    if len(parts) != 2 or not parts[1].isascii():
        raise MalformedAuthorization("Malformed Authorization header.")
    return parts[1]
