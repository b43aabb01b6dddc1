"""The connection pool's checkout check (chatproject.postgres): a connection
PostgreSQL closed while it sat in the pool is replaced; a live one is handed
out without a round trip."""

import select
import time

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from chatproject.postgres.base import check_pooled_connection
from chatproject.tests.test_deploy_settings import load_settings


@pytest.fixture
def pool(postgres_url):
    with ConnectionPool(
        postgres_url, min_size=1, max_size=1, check=check_pooled_connection, open=True
    ) as pool:
        pool.wait(timeout=10)
        yield pool


def backend_pid(pool: ConnectionPool) -> int:
    with pool.connection() as connection:
        return connection.info.backend_pid


def wait_until_readable(connection: psycopg.Connection, timeout: float = 5.0) -> None:
    readable, _, _ = select.select([connection.fileno()], [], [], timeout)
    assert readable, "PostgreSQL's goodbye did not reach the pooled connection"


def test_a_connection_the_server_closed_is_replaced_not_handed_out(pool, postgres_url):
    with pool.connection() as connection:
        dead_pid = connection.info.backend_pid
        idle = connection
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [dead_pid]).fetchone()[0]
    wait_until_readable(idle)

    with pool.connection() as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)
        assert connection.info.backend_pid != dead_pid


def test_a_live_connection_is_handed_out_without_a_query(pool, monkeypatch):
    queries = []
    monkeypatch.setattr(ConnectionPool, "check_connection", staticmethod(queries.append))
    first = backend_pid(pool)
    for _ in range(3):
        assert backend_pid(pool) == first
    assert queries == []


def test_a_readable_connection_is_checked_with_a_query(pool, postgres_url):
    """A connection with something to read that is not its end (a NOTIFY on a
    channel it listens to) is checked by the empty query, which reads it,
    and stays in use."""
    with pool.connection() as connection:
        pid = connection.info.backend_pid
        connection.execute("LISTEN pool_check")
        idle = connection
    with psycopg.connect(postgres_url, autocommit=True) as other:
        other.execute("NOTIFY pool_check")
    wait_until_readable(idle)
    with pool.connection() as connection:
        assert connection.info.backend_pid == pid
        assert connection.execute("SELECT 1").fetchone() == (1,)
        connection.execute("UNLISTEN *")
    deadline = time.monotonic() + 1
    while time.monotonic() < deadline:  # nothing left to read
        assert not select.select([idle.fileno()], [], [], 0)[0]
        time.sleep(0.1)


def test_a_postgresql_url_gets_the_backend_with_the_check():
    result = load_settings(
        "import django; django.setup(); from django.db import connection; "
        "from chatproject.postgres.base import check_pooled_connection; "
        "print(connection.vendor, connection.pool._check is check_pooled_connection)",
        DATABASE_URL="postgres://nobody@127.0.0.1:1/none",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["postgresql", "True"]
