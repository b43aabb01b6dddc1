"""The database: DATABASE_URL, SQLite by default; PostgreSQL with timeouts
and a connection pool. The test database's name is a test setting
(chatproject/settings/test.py)."""

import dj_database_url

from chatproject.settings.base import BASE_DIR
from chatproject.settings.environment import env_bool, env_float, env_int, env_str

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=0,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions take the write lock at BEGIN, so concurrent
    # senders queue for it instead of failing with "database is locked"
    # when a read lock cannot be upgraded.
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend, with the pool's checkout check a poll of the socket
    # instead of a round trip (chatproject/postgres/base.py).
    DATABASES["default"]["ENGINE"] = "chatproject.postgres"
    # A database that does not answer (a dropped network, a host gone) fails a
    # request in seconds with a 503 (chatproject.errors) instead of hanging it
    # for the kernel's TCP timeout, minutes. tests/faults measure it.
    connect_timeout = env_int("DATABASE_CONNECT_TIMEOUT", 5)
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options["connect_timeout"] = connect_timeout
    # A connection that stops answering mid-query (a dropped network) fails
    # once unacknowledged data has waited this long, instead of hanging.
    options["tcp_user_timeout"] = connect_timeout * 1000
    if env_bool("DATABASE_PREPARED_STATEMENTS", True):
        # Parameters bound on the server, and a statement run a second time
        # on a connection is prepared there: PostgreSQL parses and plans it
        # once per connection instead of for every request (planning the
        # history page took longer than running it; docs/performance.md
        # "History pages"). Off (0) behind PgBouncer in transaction mode
        # before 1.21, which cannot follow a prepared statement from one
        # server connection to another.
        options["server_side_binding"] = True
        options["prepare_threshold"] = env_int("DATABASE_PREPARE_THRESHOLD", 2)
    if env_bool("DATABASE_POOL", True):
        # Under ASGI each HTTP request runs its queries in a sync thread of its
        # own (asgiref's ThreadSensitiveContext), so CONN_MAX_AGE stays 0 (a
        # persistent connection per thread would pile up); but a new
        # connection per request or socket frame costs ~4 ms,
        # the most expensive part of a send (bench/fanout.py,
        # docs/performance.md). psycopg's pool hands them out instead; with
        # CONN_HEALTH_CHECKS each is checked as it is handed out, so one that
        # died while idle (PostgreSQL restarted) is replaced, not used
        # (chatproject.postgres.base.check_pooled_connection).
        # Connections in all: up to processes x DATABASE_POOL_MAX_SIZE.
        options["pool"] = {
            "min_size": env_int("DATABASE_POOL_MIN_SIZE", 2),
            "max_size": env_int("DATABASE_POOL_MAX_SIZE", 10),
            # A request waits at most this long for a connection: with
            # PostgreSQL down it then answers 503 (docs/operations.md "Faults").
            "timeout": env_float("DATABASE_POOL_TIMEOUT", connect_timeout),
            # The pool retries a failed connect with a doubling delay until
            # this many seconds have passed, then starts over at 1 s: so it
            # reconnects within seconds of PostgreSQL coming back, however
            # long the outage was (tests/faults).
            "reconnect_timeout": env_float("DATABASE_POOL_RECONNECT_TIMEOUT", 4.0),
        }
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
