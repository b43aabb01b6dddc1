"""The staff status page and /readyz keep secrets (issue 10, item 4): no
credentials in any URL they show, the page for superusers only, the public
/readyz answers status only, and its channel-layer round trip is bounded in
time (settings.CHAT_LAYER_TIMEOUT_SECONDS) even when Redis hangs."""

import socket
import threading
import time

import pytest
from channels.layers import channel_layers

from chatproject import health
from tests.support.factories import UserFactory

SECRET = "s3cret-Pa55"
STATUS_URL = "/admin/status/"


@pytest.fixture
def superuser_client(client, db):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def redis_layer(settings, host: dict) -> None:
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [host]},
        }
    }
    channel_layers.backends.clear()


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on (connections are refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def hung_redis():
    """A TCP server that accepts connections and never answers: a Redis
    stopped with SIGSTOP looks like this to its clients."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1]
    server.close()
    for connection in accepted:
        connection.close()


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (f"redis://:{SECRET}@redis.internal:6379/0", "redis://:***@redis.internal:6379/0"),
        (f"rediss://chat:{SECRET}@redis.internal/1", "rediss://chat:***@redis.internal/1"),
        (f"redis://{SECRET}@redis.internal", "redis://***@redis.internal"),
        (
            f"redis://redis.internal/0?password={SECRET}&db=1",
            "redis://redis.internal/0?password=***&db=1",
        ),
        ("redis://redis.internal:6379/0", "redis://redis.internal:6379/0"),
    ],
)
def test_credentials_in_urls_are_masked(url, masked):
    assert health.mask_credentials(url) == masked
    assert health.mask_credentials(f"Error connecting to {url}: refused") == (
        f"Error connecting to {masked}: refused"
    )


def test_the_status_page_masks_the_redis_url_and_layer_errors(
    settings, superuser_client, closed_port
):
    url = f"redis://:{SECRET}@127.0.0.1:{closed_port}/0"
    settings.REDIS_URL = url
    redis_layer(settings, {"address": url})

    page = superuser_client.get(STATUS_URL)

    html = page.content.decode()
    assert page.status_code == 200
    assert SECRET not in html
    assert f"redis://:***@127.0.0.1:{closed_port}/0" in html
    assert "✘ failing" in html  # the details are here, on the staff page


def test_the_status_page_masks_sentinel_passwords(settings, superuser_client, closed_port):
    redis_layer(
        settings,
        {
            "sentinels": [("127.0.0.1", closed_port)],
            "master_name": "chatmaster",
            "sentinel_kwargs": {"password": SECRET, "socket_connect_timeout": 1},
            "password": f"{SECRET}-master",
        },
    )

    html = superuser_client.get(STATUS_URL).content.decode()

    assert SECRET not in html
    assert f"127.0.0.1:{closed_port}" in html and "chatmaster" in html


def test_the_status_page_is_for_superusers_only(client, db):
    client.force_login(UserFactory(is_staff=True))
    assert client.get(STATUS_URL).status_code == 403
    client.force_login(UserFactory())
    response = client.get(STATUS_URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_admin_index_links_the_status_page_for_superusers(client, superuser_client):
    assert f'href="{STATUS_URL}"' in superuser_client.get("/admin/").content.decode()
    client.force_login(UserFactory(is_staff=True))
    assert f'href="{STATUS_URL}"' not in client.get("/admin/").content.decode()


def test_the_public_readyz_answers_status_only(settings, client, db, closed_port):
    url = f"redis://:{SECRET}@127.0.0.1:{closed_port}/0"
    settings.REDIS_URL = url
    redis_layer(settings, {"address": url})

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": [{"name": "database", "ok": True}, {"name": "channel layer", "ok": False}],
    }


def test_readyz_answers_within_the_layer_timeout_when_redis_hangs(settings, client, db, hung_redis):
    settings.CHAT_LAYER_TIMEOUT_SECONDS = 0.5
    redis_layer(settings, {"address": f"redis://127.0.0.1:{hung_redis}/0"})

    started = time.monotonic()
    response = client.get("/readyz")
    elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert response.json()["checks"][1] == {"name": "channel layer", "ok": False}
    assert elapsed < 3  # unbounded, it waits for the hung server forever
