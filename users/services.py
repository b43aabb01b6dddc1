"""Writes to users and their API tokens."""

import os
import socket
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from django.contrib.auth import authenticate, logout, update_session_auth_hash
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import connection, connections, router, transaction
from django.db.models import Count, Expression, F
from django.db.models.expressions import Col
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_noop

from chatproject import keys
from chatproject.errors import Invalid
from users import credentials
from users.models import ApiToken, SocketConnection, User
from users.usernames import look_alike_pattern, stored_username

SERVER_ID = f"{socket.gethostname()}:{os.getpid()}"
PRESENCE_HEARTBEAT = timedelta(seconds=30)
PRESENCE_TIMEOUT = 3 * PRESENCE_HEARTBEAT


@transaction.atomic
def register_user(*, username: str, password: str, display_name: str = "") -> User:
    """Create an account, the one place every sign-up goes through (the API,
    the page, seed_demo). The username is stored NFKC-normalised and refused
    when it is taken or looks like a taken one (users.usernames). Raises
    Invalid with `username`, `display_name` or `password`."""
    user = User(username=stored_username(username), display_name=display_name)
    try:
        user.full_clean(exclude=["password"], validate_unique=False)
    except ValidationError as exc:
        raise Invalid(exc.message_dict) from exc
    if User.objects.filter(username__regex=look_alike_pattern(user.username)).exists():
        # In English in the API; the sign-up page translates it (users.forms.add_service_errors).
        raise Invalid(
            {"username": [gettext_noop("That username is taken (or one that looks like it).")]}
        )
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise Invalid({"password": exc.messages}) from exc
    user.set_password(password)
    user.save()
    return user


def issue_token(user: User, *, name: str = "") -> tuple[ApiToken, str]:
    """A new token for the user; the plain key is returned once and never stored."""
    key = keys.new_secret()
    token = ApiToken.objects.create(
        user=user, key_hash=keys.hash_secret(key), prefix=keys.prefix_of(key), name=name
    )
    return token, key


def token_for_credentials(
    request: HttpRequest | None, *, username: str, password: str, name: str = ""
) -> tuple[ApiToken, str] | None:
    user = authenticate(request, username=username, password=password)
    if user is None or not user.is_active:
        return None
    return issue_token(user, name=name)


@transaction.atomic
def revoke_token(token: ApiToken) -> None:
    """Revoke the token; the sockets opened with it close (users.credentials)."""
    if keys.revoke(token):
        credentials.close_token_sockets(user_id=token.user_id, token_id=token.pk)


def tokens_of(user: User):
    """The user's tokens, newest first, revoked ones included (keys are never stored)."""
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-pk")


def revoke_token_of(user: User, token_id: int) -> ApiToken | None:
    """Revoke one of the user's tokens and return it; None when the user has no
    token with that id (another user's token is the same as none). Revoking
    twice keeps the first revocation time."""
    token = ApiToken.objects.filter(pk=token_id, user=user).first()
    if token is None:
        return None
    revoke_token(token)
    token.refresh_from_db(fields=["revoked_at"])
    return token


@transaction.atomic
def rotate_token(token: ApiToken) -> tuple[ApiToken, str] | None:
    """Revoke `token` and issue its successor (same user, same name); the new
    key is returned once. None when `token` is already revoked (e.g. by a
    concurrent rotation): a token never gets two successors."""
    if not keys.revoke(token):
        return None
    credentials.close_token_sockets(user_id=token.user_id, token_id=token.pk)
    return issue_token(token.user, name=token.name)


def log_out(request: HttpRequest) -> None:
    """End the request's session; the sockets opened with it close."""
    user_id, session_key = request.user.pk, request.session.session_key
    with transaction.atomic():
        logout(request)
        if user_id is not None and session_key:
            credentials.close_session_sockets(user_id=user_id, session_key=session_key)


@transaction.atomic
def change_password(
    *, user: User, password: str | None, request: HttpRequest | None = None
) -> User:
    """Set (or, with None, make unusable) the user's password. Every other
    session is signed out and its sockets close; the request's own session,
    when it is the user's, stays signed in (Django's session-hash rule)."""
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    user.save(update_fields=["password"])
    kept = None
    if request is not None and request.user.pk == user.pk:
        update_session_auth_hash(request, user)
        kept = request.session.session_key
    credentials.close_other_session_sockets(user_id=user.pk, kept_session_key=kept)
    return user


UNCHANGED = None


@transaction.atomic
def update_profile(
    *,
    user: User,
    display_name: str | None = UNCHANGED,
    theme: str | None = UNCHANGED,
    language: str | None = UNCHANGED,
) -> User:
    """Change the user's own display name and preferences (the profile page,
    PATCH /api/users/me); an argument left out (None) is kept. The display
    name is stripped ("" shows the username). Raises Invalid with
    `display_name`, `theme` or `language`."""
    changes = {"display_name": display_name, "theme": theme, "language": language}
    changes = {name: value for name, value in changes.items() if value is not UNCHANGED}
    if "display_name" in changes:
        changes["display_name"] = changes["display_name"].strip()
    previous = {name: getattr(user, name) for name in changes}
    for name, value in changes.items():
        setattr(user, name, value)
    try:
        user.clean_fields(exclude=[f.name for f in User._meta.fields if f.name not in changes])
    except ValidationError as exc:
        for name, value in previous.items():  # the caller's object stays as it was
            setattr(user, name, value)
        raise Invalid(exc.message_dict) from exc
    if changes:
        user.save(update_fields=list(changes))
    return user


def sign_out_everywhere(*, user: User, request: HttpRequest | None = None) -> None:
    """End every session of the user, this request's too: the session epoch
    goes up, so each session's stored hash no longer matches
    (User._get_session_auth_hash) and Django signs it out on its next
    request; every socket opened with a session closes (4401). API tokens
    are not sessions: they, and their sockets, keep working."""
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(session_epoch=F("session_epoch") + 1)
        user.refresh_from_db(fields=["session_epoch"])
        credentials.close_other_session_sockets(user_id=user.pk, kept_session_key=None)
        if request is not None and request.user.pk == user.pk:
            logout(request)


@transaction.atomic
def save_user_account(*, user: User, was_active: bool | None) -> User:
    """Save an account edited in the admin. Deactivating it closes all its
    sockets (its sessions and tokens stop working at once)."""
    user.save()
    if was_active and not user.is_active:
        credentials.close_all_sockets(user_id=user.pk)
    return user


@transaction.atomic
def deactivate_user(*, user: User) -> User:
    user.is_active = False
    return save_user_account(user=user, was_active=True)


@transaction.atomic
def delete_user(*, user: User) -> None:
    """Delete the account: its messages stay, shown as from a deleted user;
    its sockets close."""
    user_id = user.pk
    user.delete()
    credentials.close_all_sockets(user_id=user_id)


def user_for_token_key(
    key: str, *, annotations: Mapping[str, Expression] | None = None
) -> tuple[User, ApiToken] | None:
    """The active user a key belongs to. The last-used time is written at most
    once a minute, so authenticated reads do not each cost a write. Each of
    `annotations` (expressions on the token's row) is read by the same query,
    as an attribute of the token: what a request needs to know about its
    user besides who it is (a membership) costs no query of its own."""
    return users_for_token_keys([key], annotations=annotations)[0]


def users_for_token_keys(
    token_keys: Sequence[str], *, annotations: Mapping[str, Expression] | None = None
) -> list[tuple[User, ApiToken] | None]:
    """user_for_token_key of each key, in one SELECT and at most one UPDATE
    whatever their number (sockets opening together: realtime.handshake)."""
    hashes = [keys.hash_secret(key) for key in token_keys]
    tokens = {
        token.key_hash: token
        for token in unrevoked_tokens(set(hashes), annotations or {})
        if token.user.is_active
    }
    found = [tokens.get(key_hash) for key_hash in hashes]
    keys.stamp_all_last_used(list(tokens.values()))
    return [(token.user, token) if token else None for token in found]


def token_user_id_column() -> str:
    """The SQL of the token's user id in user_for_token_key's query, for
    annotations written out as SQL (conversations.selectors.is_member)."""
    quote = connection.ops.quote_name
    return f"{quote(ApiToken._meta.db_table)}.{quote(ApiToken._meta.get_field('user').column)}"


@cache
def token_columns() -> tuple[list[Col], list[Col]]:
    """The columns of an ApiToken and of a User, as unrevoked_tokens selects them."""
    return (
        [field.get_col(ApiToken._meta.db_table) for field in ApiToken._meta.concrete_fields],
        [field.get_col(User._meta.db_table) for field in User._meta.concrete_fields],
    )


@dataclass(frozen=True)
class TokenStatement:
    """unrevoked_tokens' statement for `database` without its annotations:
    the select list of token_columns, the tables, and Django's converters of
    those columns (by position)."""

    columns_sql: str
    tables_sql: str
    converters: dict
    token_names: list[str]
    user_names: list[str]


@cache
def token_statement(database: str) -> TokenStatement:
    """Compiled once per process: compiling the 30-odd columns and finding
    their converters for every request was a tenth of a history page's time
    in its request thread (docs/performance.md "History pages")."""
    compiler = ApiToken.objects.all().query.get_compiler(database)
    token_columns_, user_columns = token_columns()
    quote = connections[database].ops.quote_name
    tokens, users = quote(ApiToken._meta.db_table), quote(User._meta.db_table)
    user_key = quote(ApiToken._meta.get_field("user").column)
    return TokenStatement(
        columns_sql=", ".join(
            compiler.compile(column)[0] for column in [*token_columns_, *user_columns]
        ),
        tables_sql=f"{tokens} INNER JOIN {users} ON {tokens}.{user_key} = {users}.{quote('id')}",
        converters=compiler.get_converters([*token_columns_, *user_columns]),
        token_names=[column.target.attname for column in token_columns_],
        user_names=[column.target.attname for column in user_columns],
    )


def unrevoked_tokens(hashes: set[str], annotations: Mapping[str, Expression]) -> list[ApiToken]:
    """The unrevoked tokens with these key hashes, each with its user as
    select_related("user") reads them and the annotations as attributes: one
    statement, written out from the models' fields. The same query through the
    ORM (built, compiled and turned into models for every request) cost about
    as much CPU as the rest of a history page's authentication and membership
    together (docs/performance.md "History pages")."""
    database = router.db_for_read(ApiToken)
    statement = token_statement(database)
    query = ApiToken.objects.all().query
    compiler = query.get_compiler(database)
    token_names, user_names = statement.token_names, statement.user_names
    extra = [
        annotation.resolve_expression(query, allow_joins=False)
        for annotation in annotations.values()
    ]
    compiled_extra = [compiler.compile(expression) for expression in extra]
    quote = connections[database].ops.quote_name
    tokens = quote(ApiToken._meta.db_table)
    sql = (
        f"SELECT {', '.join([statement.columns_sql, *(sql for sql, _ in compiled_extra)])} "
        f"FROM {statement.tables_sql} "
        f"WHERE {tokens}.{quote('key_hash')} IN ({', '.join(['%s'] * len(hashes))}) "
        f"AND {tokens}.{quote('revoked_at')} IS NULL"
    )
    params = [param for _, extra_params in compiled_extra for param in extra_params]
    with connections[database].cursor() as cursor:
        cursor.execute(sql, [*params, *hashes])
        rows = cursor.fetchall()
    converters = dict(statement.converters)
    if extra:
        offset = len(token_names) + len(user_names)
        converters |= {
            offset + position: found for position, found in compiler.get_converters(extra).items()
        }
    if converters:
        rows = list(compiler.apply_converters(rows, converters))
    found = []
    for row in rows:
        token = ApiToken.from_db(database, token_names, row[: len(token_names)])
        token.user = User.from_db(
            database, user_names, row[len(token_names) : len(token_names) + len(user_names)]
        )
        for name, value in zip(annotations, row[len(token_names) + len(user_names) :], strict=True):
            setattr(token, name, value)
        found.append(token)
    return found


def live_sockets():
    """Sockets whose process has reported within PRESENCE_TIMEOUT: rows left by
    a process that died without closing them stop counting after that."""
    return SocketConnection.objects.filter(seen_at__gte=timezone.now() - PRESENCE_TIMEOUT)


def lock_users(user_ids: Iterable[int]) -> None:
    """Lock the users' rows (in id order: two processes locking overlapping
    sets never deadlock), so that sockets of a user opening and closing at
    once on several processes agree on whether the user is online."""
    list(User.objects.select_for_update().filter(pk__in=user_ids).order_by("pk").values("pk"))


def sockets_opened(
    *, sockets: Sequence[tuple[int, str]], max_per_user: int | None = None
) -> list[bool | None]:
    """Record open sockets, (user id, channel name) each, in one transaction
    of a few statements whatever their number (a process records the
    sockets that connected together at once: realtime.presence). For each
    socket: True when it made its user online, False when the user was
    online already, None when refused (the user had `max_per_user` live
    sockets already; nothing recorded)."""
    user_ids = sorted({user_id for user_id, _ in sockets})
    with transaction.atomic():
        lock_users(user_ids)
        live = Counter(
            dict(
                live_sockets()
                .filter(user_id__in=user_ids)
                .values("user_id")
                .annotate(count=Count("pk"))
                .values_list("user_id", "count")
            )
        )
        outcomes: list[bool | None] = []
        rows = []
        for user_id, channel_name in sockets:
            if max_per_user is not None and live[user_id] >= max_per_user:
                outcomes.append(None)
                continue
            outcomes.append(live[user_id] == 0)
            live[user_id] += 1
            rows.append(
                SocketConnection(user_id=user_id, channel_name=channel_name, server=SERVER_ID)
            )
        SocketConnection.objects.bulk_create(rows)
    return outcomes


def socket_opened(user: User, channel_name: str) -> bool:
    """Record an open socket; True when this makes the user online."""
    return bool(sockets_opened(sockets=[(user.pk, channel_name)])[0])


def sockets_closed(*, sockets: Sequence[tuple[int, str]]) -> list[datetime | None]:
    """Forget sockets, (user id, channel name) each, in one transaction. For
    each socket: when it was its user's last one (the last of the user's in
    `sockets`), the `last_seen_at` stamped (the user went offline), else None."""
    user_ids = sorted({user_id for user_id, _ in sockets})
    with transaction.atomic():
        lock_users(user_ids)
        SocketConnection.objects.filter(channel_name__in=[name for _, name in sockets]).delete()
        online = set(live_sockets().filter(user_id__in=user_ids).values_list("user_id", flat=True))
        went_offline = [user_id for user_id in user_ids if user_id not in online]
        now = timezone.now()
        if went_offline:
            User.objects.filter(pk__in=went_offline).update(last_seen_at=now)
    last_of_user = {user_id: index for index, (user_id, _) in enumerate(sockets)}
    return [
        now if user_id in went_offline and last_of_user[user_id] == index else None
        for index, (user_id, _) in enumerate(sockets)
    ]


def socket_closed(user: User, channel_name: str) -> datetime | None:
    """Forget a socket; when it was the user's last one, stamp and return
    `last_seen_at` (the user went offline), else None."""
    return sockets_closed(sockets=[(user.pk, channel_name)])[0]


def keep_sockets_alive(
    open_channels: set[str], server: str = SERVER_ID
) -> list[tuple[int, datetime]]:
    """Run by every server process each PRESENCE_HEARTBEAT with the channel
    names of the sockets it has open: mark those alive; forget this
    process's other rows (a socket whose close never reached the database,
    e.g. cut short when thousands closed at once) and the sockets of
    processes that stopped reporting (killed, or their host gone). Returns
    (user id, last_seen_at) of each user that this leaves with no live socket."""
    now = timezone.now()
    ours = SocketConnection.objects.filter(server=server)
    orphans = sorted(set(ours.values_list("channel_name", flat=True)) - open_channels)
    ours.update(seen_at=now)
    for start in range(0, len(orphans), 500):  # aged past the timeout: reaped below
        ours.filter(channel_name__in=orphans[start : start + 500]).update(
            seen_at=now - 2 * PRESENCE_TIMEOUT
        )
    stale = SocketConnection.objects.filter(seen_at__lt=now - PRESENCE_TIMEOUT)
    user_ids = sorted(set(stale.values_list("user_id", flat=True)))
    went_offline = []
    # A few statements per 500 users, not per user: after a process with
    # thousands of sockets died, its rows are reaped without holding the
    # sync thread of the process that reaps them for seconds.
    for start in range(0, len(user_ids), 500):
        chunk = user_ids[start : start + 500]
        with transaction.atomic():
            lock_users(chunk)
            stale.filter(user_id__in=chunk).delete()
            online = set(live_sockets().filter(user_id__in=chunk).values_list("user_id", flat=True))
            offline = [user_id for user_id in chunk if user_id not in online]
            User.objects.filter(pk__in=offline).update(last_seen_at=now)
        went_offline += [(user_id, now) for user_id in offline]
    return went_offline


def online_user_ids(user_ids: Iterable[int]) -> set[int]:
    return set(live_sockets().filter(user_id__in=list(user_ids)).values_list("user_id", flat=True))
