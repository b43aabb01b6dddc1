"""Django's PostgreSQL backend (`ENGINE = "chatproject.postgres"`), whose
connection pool checks a connection it hands out without a round trip to
PostgreSQL unless the connection has something to read.

With CONN_HEALTH_CHECKS Django has psycopg's pool run an empty query on every
connection it hands out, so that one PostgreSQL has closed while it sat in
the pool (a restart, an administrator's pg_terminate_backend, a proxy
resetting it) is replaced instead of failing a request. That is a round trip
on every request and every socket frame: an eighth of a history page's time
in its request thread (docs/performance.md "History pages"). An idle
connection in autocommit has nothing to read, so a readable socket is one
the server has closed or written to (its goodbye, a notice); only then is the
empty query run, which replaces a dead connection as before. A connection
that stopped answering without closing (a dropped network) is not detected
by either check: its query fails after DATABASE_CONNECT_TIMEOUT
(tcp_user_timeout) as before."""

import select

import psycopg
from django.db.backends.postgresql import base
from psycopg_pool import ConnectionPool


def check_pooled_connection(connection: psycopg.Connection) -> None:
    """The pool's check on checkout: raises for a connection that cannot serve."""
    readable, _, _ = select.select([connection.fileno()], [], [], 0)
    if readable:
        ConnectionPool.check_connection(connection)


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self) -> ConnectionPool | None:
        pool = super().pool
        # Django makes the pool with psycopg's own check and offers no
        # option to choose another (passing `check` in the pool's options
        # gives it twice).
        if pool is not None and pool._check is ConnectionPool.check_connection:
            pool._check = check_pooled_connection
        return pool
