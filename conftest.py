"""Fixtures shared by every app's tests.

Tests that need a service (Redis) use it when it is reachable and skip with
the reason otherwise; with CHAT_REQUIRE_SERVICES=1 (as .ci/run sets) such a
skip is a failure, so CI always runs everything.
"""

import copy
import os
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest
from asgiref.sync import SyncToAsync
from django.db import connections
from rest_framework.test import APIClient

from chatproject import throttling
from realtime import hops
from tests.support.api import client_for
from tests.support.factories import ConversationFactory, UserFactory
from tests.support.services import require_chromium, require_service, tcp_reachable
from tests.support.throttling import Clock

# The slow tiers, one folder each under tests/: a test's folder gives it its
# marker, so `make test-fast` (-m "not e2e and not faults and not integration")
# leaves them out and a new module there is never in the fast tier by mistake.
TIERS = ("e2e", "faults", "integration")
TESTS = Path(__file__).resolve().parent / "tests"


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for tier in TIERS:
            if item.path.is_relative_to(TESTS / tier):
                item.add_marker(tier)


@pytest.fixture
def redis_url() -> str:
    """REDIS_URL, or the local default; skips when Redis cannot be reached."""
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    parsed = urlparse(url)
    if not tcp_reachable(parsed.hostname or "127.0.0.1", parsed.port or 6379):
        require_service("Redis", f"nothing answers at {url}; set REDIS_URL")
    return url


@pytest.fixture
def postgres_url() -> str:
    """A PostgreSQL server for tests that start their own processes: the
    DATABASE_URL's server when it is PostgreSQL, else the local default."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        url = "postgres://postgres@127.0.0.1:5432/postgres"
    parsed = urlparse(url)
    if not tcp_reachable(parsed.hostname or "127.0.0.1", parsed.port or 5432):
        require_service("PostgreSQL", f"nothing answers at {url}; set DATABASE_URL")
    return url


@pytest.fixture
def chromium_path() -> str:
    return require_chromium()


@pytest.fixture(autouse=True)
def fresh_rate_limits(settings):
    """Each test starts with empty rate-limit counters: a cache key prefix of
    its own. Not cache.clear(): on Redis that is FLUSHDB, which would also
    wipe the channel layer of every server and test run sharing the database.
    The limits themselves are the defaults, which the suite stays under;
    throttling tests lower them with the `settings` fixture."""
    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["KEY_PREFIX"] = f"test-{uuid.uuid4().hex}"
    settings.CACHES = caches


@pytest.fixture(autouse=True)
def in_memory_channel_layer(settings):
    """Each test gets a fresh in-memory layer unless it asks for Redis itself."""
    from channels.layers import channel_layers

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def outsider(db):
    return UserFactory()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def user_client(user) -> APIClient:
    return client_for(user)


@pytest.fixture
def other_client(other_user) -> APIClient:
    return client_for(other_user)


@pytest.fixture
def outsider_client(outsider) -> APIClient:
    return client_for(outsider)


@pytest.fixture
def direct_conversation(user, other_user):
    return ConversationFactory(members=[user, other_user])


@pytest.fixture
def admin_client(client, db):
    """A client signed in as a new superuser (also `client.admin_user`);
    replaces pytest-django's, whose "admin" user bypasses the factories."""
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    client.admin_user = admin
    return client


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """The rate limiter's clock, which the test moves on (clock.advance)."""
    clock = Clock()
    monkeypatch.setattr(throttling, "now", clock)
    return clock


@pytest.fixture(scope="session", autouse=True)
def close_connections_of_the_async_thread(django_db_setup, django_db_blocker):
    """Close the database connections that async tests opened on asgiref's
    thread for thread-sensitive code (database_sync_to_async keeps a
    connection there between calls) and on the socket send threads
    (realtime.hops) before the test database is dropped:
    PostgreSQL refuses to drop a database with a session still on it."""
    yield
    with django_db_blocker.unblock():
        SyncToAsync.single_thread_executor.submit(connections.close_all).result()
        hops.close_send_thread_connections()
