"""Fixtures shared by every app's tests.

Tests that need a service (Redis) use it when it is reachable and skip with
the reason otherwise; with CHAT_REQUIRE_SERVICES=1 (as .ci/run sets) such a
skip is a failure, so CI always runs everything.
"""

import copy
import os
import socket
import uuid
from urllib.parse import urlparse

import pytest
from rest_framework.test import APIClient

from tests.support.factories import ConversationFactory, UserFactory

REQUIRE_SERVICES = os.environ.get("CHAT_REQUIRE_SERVICES") == "1"


def require_service(name: str, reason: str) -> None:
    """Skip (or, under CHAT_REQUIRE_SERVICES=1, fail) a test whose service is missing."""
    message = f"{name} is not reachable: {reason}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} (CHAT_REQUIRE_SERVICES=1 makes this a failure)")
    pytest.skip(message)


def tcp_reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


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


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def chromium_path() -> str:
    if not os.path.exists(CHROMIUM):
        require_service("Chromium", f"{CHROMIUM} is missing; apt-get install -y chromium")
    return CHROMIUM


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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


def client_for(user) -> APIClient:
    """An API client authenticated as `user` (force_authenticate: tests of
    token and session authentication themselves live in users/tests)."""
    client = APIClient()
    client.force_authenticate(user)
    return client


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
