"""What an open socket was authenticated with, and whether that still holds.

A socket is only as valid as its credential (docs/websocket.md): the token
it was opened with, or the browser session whose cookie it carried. When a
credential changes, the service that changed it publishes a
`credential.revoked` event to the user's group (`publish_revoked`); every
socket of the user, on every process, reads it and closes with 4401 when it
names the socket's credential. The event is internal: never forwarded to a
client. Between the change and the close, `is_valid` (checked in the same
database hop as each frame's work) refuses any frame.

Session keys never travel on the bus: an event names a session by a digest.
"""

import hashlib
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.db import connections, router
from django.utils.crypto import constant_time_compare
from django.utils.module_loading import import_string

from chatproject import bus
from users.models import ApiToken, User

CLOSE_CREDENTIAL_REVOKED = 4401
REVOKED = "credential.revoked"


def session_digest(session_key: str | None) -> str:
    return hashlib.sha256((session_key or "").encode()).hexdigest()[:32]


def session_store(session_key: str | None):
    engine = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    return engine(session_key)


@dataclass(frozen=True)
class SocketCredential:
    """A socket's credential: a token (`token_id`) or a session (its key)."""

    user_id: int
    token_id: int | None = None
    session_key: str | None = None

    @property
    def session_id(self) -> str | None:
        return session_digest(self.session_key) if self.session_key else None

    def revoked_by(self, event: dict[str, Any]) -> bool:
        """Whether a `credential.revoked` frame names this credential."""
        if event.get("all"):
            return True
        if self.token_id is not None:
            return event.get("tokenId") == str(self.token_id)
        if "sessionsExcept" in event:
            return self.session_id != event["sessionsExcept"]
        return self.session_id is not None and event.get("sessionId") == self.session_id

    def is_valid(self) -> bool:
        """Read from the database now: the token unrevoked, or the session
        still signed in as this user with the same password; the user active.
        Runs in sync code (a consumer's database hop)."""
        if self.token_id is not None:
            return token_still_valid(self.token_id, self.user_id)
        if not self.session_key:
            return False
        data = session_store(self.session_key).load()
        if data.get(SESSION_KEY) != str(self.user_id):
            return False
        user = (
            User.objects.filter(pk=self.user_id, is_active=True)
            .only("password", "session_epoch")
            .first()
        )
        return user is not None and constant_time_compare(
            data.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash()
        )


@cache
def valid_token_statement(database: str) -> str:
    """Whether a token is unrevoked and its user active, written out from the
    models' fields: the same filter through the ORM (built and compiled for
    each frame a token's socket sends) was a seventh of the socket send
    path's CPU (docs/performance.md "Socket send path")."""
    quote = connections[database].ops.quote_name
    tokens, users = quote(ApiToken._meta.db_table), quote(User._meta.db_table)

    def column(table: str, model, name: str) -> str:
        return f"{table}.{quote(model._meta.get_field(name).column)}"

    return (
        f"SELECT 1 FROM {tokens} INNER JOIN {users} "
        f"ON {column(tokens, ApiToken, 'user')} = {column(users, User, 'id')} "
        f"WHERE {column(tokens, ApiToken, 'id')} = %s AND {column(tokens, ApiToken, 'user')} = %s "
        f"AND {column(tokens, ApiToken, 'revoked_at')} IS NULL "
        f"AND {column(users, User, 'is_active')} LIMIT 1"
    )


def token_still_valid(token_id: int, user_id: int) -> bool:
    database = router.db_for_read(ApiToken)
    with connections[database].cursor() as cursor:
        cursor.execute(valid_token_statement(database), [token_id, user_id])
        return cursor.fetchone() is not None


def credential_for_scope(scope: dict[str, Any]) -> SocketCredential:
    """The credential of an authenticated handshake (after the auth
    middleware): the token if one was used, else the session."""
    user = scope["user"]
    token_id = scope.get("auth_token_id")
    if token_id is not None:
        return SocketCredential(user_id=user.pk, token_id=token_id)
    session = scope.get("session")
    if session is None or not session.session_key:
        return SocketCredential(user_id=user.pk)
    return SocketCredential(user_id=user.pk, session_key=session.session_key)


def publish_revoked(user_id: int, **selector: Any) -> None:
    frame = {"type": REVOKED, "userId": str(user_id), **selector}
    bus.publish_to_users_on_commit([user_id], frame)


def close_token_sockets(*, user_id: int, token_id: int) -> None:
    """After the commit: the token was revoked or rotated."""
    publish_revoked(user_id, tokenId=str(token_id))


def close_session_sockets(*, user_id: int, session_key: str) -> None:
    """After the commit: the session was logged out."""
    publish_revoked(user_id, sessionId=session_digest(session_key))


def close_other_session_sockets(*, user_id: int, kept_session_key: str | None) -> None:
    """After the commit: the password changed. Every session but the one it
    was changed in (none, when an admin changed it) is signed out, as
    Django's session-hash check signs them out; tokens stay valid."""
    publish_revoked(
        user_id, sessionsExcept=session_digest(kept_session_key) if kept_session_key else ""
    )


def close_all_sockets(*, user_id: int) -> None:
    """After the commit: the user was deactivated or deleted."""
    publish_revoked(user_id, all=True)
