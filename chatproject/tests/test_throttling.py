"""Rate limits (chatproject/throttling.py): the limiter itself, REST sends,
and sign-up, token and login attempts per address and per username. The
socket's limits are in realtime/tests/test_consumer_throttling.py.

Time is the limiter's clock, replaced by `clock` (throttling.now), so that
windows and Retry-After values are exact and nothing sleeps."""

import json
import os
import random
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from chatproject import throttling
from chatproject.throttling import LocalLimiter, Rate, parse_rate
from messaging.models import Message
from tests.support.api import assert_error, post_message
from tests.support.factories import TEST_PASSWORD, UserFactory
from tests.support.throttling import set_rates
from users.models import User

ROOT = Path(__file__).resolve().parent.parent.parent
STRONG_PASSWORD = "plum-orbit-lantern-42"
LOGIN_URL = "/accounts/login/"


def retry_after(response) -> int:
    """The Retry-After header, which must be the envelope's retryAfterSeconds."""
    error = assert_error(response, 429, "throttled")
    seconds = int(response["Retry-After"])
    assert error["details"] == {"retryAfterSeconds": seconds}
    assert seconds >= 1
    return seconds


# Rates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("60/min", Rate(60, 60)),
        ("10/5min", Rate(10, 300)),
        ("3/s", Rate(3, 1)),
        ("3/sec", Rate(3, 1)),
        ("2/hours", Rate(2, 3600)),
        (" 5 / 2 H ", Rate(5, 7200)),
        ("1000/day", Rate(1000, 86400)),
        ("off", None),
        ("", None),
    ],
)
def test_rates_parse(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize(
    "text", ["60", "60/ms", "0/min", "x/min", "5/0min", "-1/min", "5/fortnight"]
)
def test_bad_rates_are_a_configuration_error(text):
    with pytest.raises(ImproperlyConfigured):
        parse_rate(text)


def test_a_scope_without_a_rate_is_a_configuration_error(settings):
    settings.CHAT_RATE_LIMITS = {"message.send": "1/min"}
    with pytest.raises(ImproperlyConfigured, match=r"auth\.ip"):
        throttling.hit("auth.ip", "127.0.0.1")


def test_a_scope_set_off_is_not_limited(settings, clock):
    set_rates(settings, {"message.send": "off"})
    assert all(throttling.hit("message.send", "1") is None for _ in range(1000))


def test_defaults_and_environment_variables():
    """Each limit is read from its variable; REDIS_URL selects the Redis cache
    under the deployment's prefix."""
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        "print(json.dumps([settings.CHAT_RATE_LIMITS, settings.CACHES['default'], "
        "settings.CHAT_TRUSTED_PROXIES]))"
    )
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CHAT_", "REDIS_URL", "CHANNEL_LAYER_"))
    }
    base |= {"DJANGO_SETTINGS_MODULE": "chatproject.settings", "PYTHONWARNINGS": "ignore"}

    def settings_with(**env: str) -> list:
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env={**base, **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return json.loads(result.stdout)

    rates, cache, proxies = settings_with()
    assert rates == {
        "message.send": "60/min",
        "auth.ip": "20/min",
        "auth.username": "10/min",
        "socket.frames": "600/min",
        "conversation.create": "20/min",
        "reaction.add": "120/min",
        "search": "60/min",
        "attachment.upload": "30/min",
    }
    assert cache["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"
    assert proxies == 0

    rates, cache, proxies = settings_with(
        CHAT_RATE_MESSAGE_SEND="5/s",
        CHAT_RATE_AUTH_IP="7/h",
        CHAT_RATE_AUTH_USERNAME="off",
        CHAT_RATE_SOCKET_FRAMES="9/min",
        CHAT_RATE_CONVERSATION_CREATE="4/h",
        CHAT_RATE_REACTION_ADD="8/h",
        CHAT_RATE_SEARCH="9/h",
        CHAT_RATE_ATTACHMENT_UPLOAD="3/min",
        CHAT_TRUSTED_PROXIES="2",
        REDIS_URL="redis://127.0.0.1:6379/3",
        CHANNEL_LAYER_PREFIX="blue",
    )
    assert rates == {
        "message.send": "5/s",
        "auth.ip": "7/h",
        "auth.username": "off",
        "socket.frames": "9/min",
        "conversation.create": "4/h",
        "reaction.add": "8/h",
        "search": "9/h",
        "attachment.upload": "3/min",
    }
    assert cache["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert cache["LOCATION"] == "redis://127.0.0.1:6379/3"
    assert cache["KEY_PREFIX"] == "blue"
    assert proxies == 2


# The limiter ---------------------------------------------------------------------------


def test_the_rate_is_allowed_then_refused_hits_do_not_count(settings, clock):
    set_rates(settings, {"message.send": "3/min"})
    assert [throttling.hit("message.send", "7") for _ in range(3)] == [None, None, None]

    # The next fits once the window slides far enough that the 3 of this
    # minute weigh 2: 60 s to the next window plus a third of it.
    waits = [throttling.hit("message.send", "7") for _ in range(5)]
    assert waits == [pytest.approx(80)] * 5

    clock.advance(79)
    assert throttling.hit("message.send", "7") == pytest.approx(1)
    clock.advance(1)
    # Had the refused hits counted, the previous minute would weigh 8 x 2/3 now.
    assert throttling.hit("message.send", "7") is None
    assert throttling.hit("message.send", "7") is not None


def test_keys_and_scopes_have_their_own_budgets(settings, clock):
    set_rates(settings, {"message.send": "1/min", "auth.ip": "1/min"})
    assert throttling.hit("message.send", "1") is None
    assert throttling.hit("message.send", "1") is not None
    assert throttling.hit("message.send", "2") is None
    assert throttling.hit("auth.ip", "1") is None


def test_the_wait_is_exact_and_no_window_holds_more_than_the_rate(settings, clock):
    """A random walk of hits: whenever one is refused, a hit just before its
    wait is up is refused too, and one right after is allowed."""
    set_rates(settings, {"message.send": "5/10s"})
    rng = random.Random(20240601)
    allowed_per_window: dict[int, int] = {}
    refused = 0
    for _ in range(400):
        clock.advance(rng.choice([0, 0, 0, 0.1, 0.5, 1.7, 3, 9.9, 10, 25]))
        wait = throttling.hit("message.send", "walker")
        if wait is None:
            window = int(clock.time // 10)
            allowed_per_window[window] = allowed_per_window.get(window, 0) + 1
            continue
        refused += 1
        assert wait > 0
        start = clock.time
        if wait > 0.01:
            clock.time = start + wait - 0.01
            assert throttling.hit("message.send", "walker") is not None, (start, wait)
        clock.time = start + wait + 1e-6
        assert throttling.hit("message.send", "walker") is None, (start, wait)
        window = int(clock.time // 10)
        allowed_per_window[window] = allowed_per_window.get(window, 0) + 1
    assert refused > 20  # the walk did test refusals
    assert max(allowed_per_window.values()) <= 5


def test_local_limiter_decides_as_the_cache_limiter(settings, clock):
    set_rates(settings, {"socket.frames": "4/5s"})
    local = LocalLimiter(parse_rate("4/5s"))
    rng = random.Random(99)
    for _ in range(300):
        clock.advance(rng.choice([0, 0, 0.3, 1, 2.5, 5, 12]))
        shared = throttling.hit("socket.frames", "same")
        mine = local.hit()
        assert (shared is None) == (mine is None)
        if shared is not None:
            assert mine == pytest.approx(shared)


def test_forgive_takes_back_one_hit(settings, clock):
    set_rates(settings, {"auth.username": "2/min"})
    assert throttling.hit("auth.username", "ann") is None
    throttling.forgive("auth.username", "ann")
    assert throttling.hit("auth.username", "ann") is None
    assert throttling.hit("auth.username", "ann") is None
    assert throttling.hit("auth.username", "ann") is not None
    # Nothing to take back leaves nothing below zero.
    throttling.forgive("auth.username", "bob")
    assert throttling.hit("auth.username", "bob") is None
    throttling.forgive("auth.username", "bob")
    throttling.forgive("auth.username", "bob")
    assert throttling.hit("auth.username", "bob") is None
    assert throttling.hit("auth.username", "bob") is None
    assert throttling.hit("auth.username", "bob") is not None


def redis_cache(settings, redis_url: str) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
        }
    }


@pytest.mark.parametrize("backend", ["locmem", "redis"])
def test_concurrent_hits_never_exceed_the_rate(settings, clock, backend, request):
    """Hits from many threads (each with its own cache connection, as
    processes have) at once: exactly the rate gets through."""
    if backend == "redis":
        redis_cache(settings, request.getfixturevalue("redis_url"))
    set_rates(settings, {"auth.ip": "15/min"})
    barrier = threading.Barrier(40)
    results: list[float | None] = []

    def attempt() -> None:
        barrier.wait(timeout=10)
        results.append(throttling.hit("auth.ip", "203.0.113.9"))

    threads = [threading.Thread(target=attempt) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 40
    assert results.count(None) == 15


def test_a_cache_that_is_down_lets_requests_through(settings, clock, caplog):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    set_rates(settings, {"message.send": "1/min"})
    assert [throttling.hit("message.send", "1") for _ in range(3)] == [None, None, None]
    assert "the cache failed" in caplog.text


# Client addresses ---------------------------------------------------------------------


def request_from(remote_addr: str, forwarded_for: str | None = None):
    extra = {"REMOTE_ADDR": remote_addr}
    if forwarded_for is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return RequestFactory().post("/api/auth/token", **extra)


def test_the_address_is_remote_addr_and_forwarded_for_is_ignored_by_default(settings):
    settings.CHAT_TRUSTED_PROXIES = 0
    assert throttling.client_ip(request_from("198.51.100.7", "203.0.113.1")) == "198.51.100.7"


def test_behind_trusted_proxies_the_address_is_the_one_they_appended(settings):
    settings.CHAT_TRUSTED_PROXIES = 1
    request = request_from("10.0.0.2", "1.2.3.4, 203.0.113.5")
    assert throttling.client_ip(request) == "203.0.113.5"
    settings.CHAT_TRUSTED_PROXIES = 2
    request = request_from("10.0.0.2", "1.2.3.4, 203.0.113.5, 10.0.0.1")
    assert throttling.client_ip(request) == "203.0.113.5"
    # Fewer entries than proxies: the header is not what the proxies write.
    assert throttling.client_ip(request_from("10.0.0.2", "1.2.3.4")) == "10.0.0.2"


def test_ipv6_addresses_count_per_64():
    first = throttling.client_ip(request_from("2001:db8:1:2::1"))
    second = throttling.client_ip(request_from("2001:db8:1:2:ffff::9"))
    other = throttling.client_ip(request_from("2001:db8:1:3::1"))
    assert first == second == "2001:db8:1:2::/64"
    assert other != first
    assert throttling.client_ip(request_from("::ffff:192.0.2.1")) == "192.0.2.1"


# REST sends -----------------------------------------------------------------------------


def test_sends_over_the_limit_are_429_with_retry_after_and_store_nothing(
    settings, clock, user_client, user, direct_conversation
):
    set_rates(settings, {"message.send": "3/min"})
    for number in range(3):
        response = post_message(user_client, direct_conversation, user, f"m{number}")
        assert response.status_code == 200, response.content

    response = post_message(user_client, direct_conversation, user, "one too many")

    assert retry_after(response) == 80
    error = response.json()["error"]
    assert "Too many messages" in error["message"]
    assert list(
        Message.objects.filter(conversation=direct_conversation).values_list("text", flat=True)
    ) == ["m0", "m1", "m2"]


def test_the_send_budget_is_per_user(
    settings, clock, user_client, user, other_client, other_user, direct_conversation
):
    set_rates(settings, {"message.send": "1/min"})
    assert post_message(user_client, direct_conversation, user, "a").status_code == 200
    assert post_message(user_client, direct_conversation, user, "b").status_code == 429
    assert post_message(other_client, direct_conversation, other_user, "c").status_code == 200


def test_sending_resumes_after_retry_after(settings, clock, user_client, user, direct_conversation):
    set_rates(settings, {"message.send": "2/min"})
    for text in ("a", "b"):
        assert post_message(user_client, direct_conversation, user, text).status_code == 200
    wait = retry_after(post_message(user_client, direct_conversation, user, "c"))

    clock.advance(wait - 1)
    assert post_message(user_client, direct_conversation, user, "c").status_code == 429
    clock.advance(1)
    response = post_message(user_client, direct_conversation, user, "c")
    assert response.status_code == 200
    assert response.json()["text"] == "c"


def test_the_default_send_limit_allows_a_busy_minute(clock, user_client, user, direct_conversation):
    for number in range(60):
        response = post_message(user_client, direct_conversation, user, f"m{number}")
        assert response.status_code == 200, number
    assert post_message(user_client, direct_conversation, user, "61st").status_code == 429


# Tokens and sign-up -----------------------------------------------------------------------


def token(client: APIClient, username: str, password: str, address: str = "127.0.0.1"):
    return client.post(
        "/api/auth/token",
        {"username": username, "password": password},
        format="json",
        REMOTE_ADDR=address,
    )


def sign_up(client: APIClient, username: str, address: str = "127.0.0.1"):
    return client.post(
        "/api/auth/signup",
        {"username": username, "password": STRONG_PASSWORD, "displayName": username},
        format="json",
        REMOTE_ADDR=address,
    )


def test_failed_token_attempts_lock_the_username_whatever_the_password(
    settings, clock, api_client, user
):
    set_rates(settings, {"auth.ip": "100/min", "auth.username": "3/min"})
    for _ in range(3):
        assert token(api_client, user.username, "guess").status_code == 401

    locked = token(api_client, user.username, TEST_PASSWORD)
    wait = retry_after(locked)
    assert "failed sign-in attempts" in locked.json()["error"]["message"]
    # Another spelling of the same name shares its budget.
    assert token(api_client, user.username.upper(), TEST_PASSWORD).status_code == 429
    # Others signing in from the same address are not locked out.
    someone = UserFactory()
    assert token(api_client, someone.username, TEST_PASSWORD).status_code == 200

    clock.advance(wait)
    assert token(api_client, user.username, TEST_PASSWORD).status_code == 200


def test_successful_token_requests_do_not_count_against_the_username(
    settings, clock, api_client, user
):
    set_rates(settings, {"auth.ip": "100/min", "auth.username": "2/min"})
    for _ in range(6):
        assert token(api_client, user.username, TEST_PASSWORD).status_code == 200
    assert token(api_client, user.username, "guess").status_code == 401
    assert token(api_client, user.username, "guess").status_code == 401
    assert token(api_client, user.username, TEST_PASSWORD).status_code == 429


def test_the_username_limit_holds_across_addresses(settings, clock, api_client, user):
    set_rates(settings, {"auth.ip": "100/min", "auth.username": "3/min"})
    for number in range(3):
        assert token(api_client, user.username, "guess", f"198.51.100.{number}").status_code == 401
    assert token(api_client, user.username, "guess", "198.51.100.99").status_code == 429


def test_every_attempt_counts_against_the_address(settings, clock, api_client, user):
    set_rates(settings, {"auth.ip": "3/min", "auth.username": "100/min"})
    assert token(api_client, user.username, TEST_PASSWORD).status_code == 200
    assert token(api_client, user.username, "guess").status_code == 401
    assert sign_up(api_client, "newcomer").status_code == 201

    refused = token(api_client, user.username, TEST_PASSWORD)
    retry_after(refused)
    assert "from your address" in refused.json()["error"]["message"]
    # A forged X-Forwarded-For does not make a new address ...
    forged = api_client.post(
        "/api/auth/token",
        {"username": user.username, "password": TEST_PASSWORD},
        format="json",
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR="192.0.2.44",
    )
    assert forged.status_code == 429
    # ... a real one does.
    assert token(api_client, user.username, TEST_PASSWORD, "192.0.2.44").status_code == 200


def test_behind_a_trusted_proxy_addresses_come_from_forwarded_for(
    settings, clock, api_client, user
):
    settings.CHAT_TRUSTED_PROXIES = 1
    set_rates(settings, {"auth.ip": "2/min", "auth.username": "100/min"})

    def via_proxy(client_chain: str):
        return api_client.post(
            "/api/auth/token",
            {"username": user.username, "password": TEST_PASSWORD},
            format="json",
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=client_chain,
        )

    assert via_proxy("203.0.113.5").status_code == 200
    assert via_proxy("forged-1, 203.0.113.5").status_code == 200
    assert via_proxy("forged-2, 203.0.113.5").status_code == 429
    assert via_proxy("203.0.113.6").status_code == 200


def test_sign_up_is_limited_per_address(settings, clock, api_client, db):
    set_rates(settings, {"auth.ip": "3/min"})
    for number in range(3):
        assert sign_up(api_client, f"person{number}").status_code == 201

    retry_after(sign_up(api_client, "person3"))
    assert not User.objects.filter(username="person3").exists()
    assert sign_up(api_client, "person3", "192.0.2.1").status_code == 201


def test_failed_sign_ups_for_a_username_are_limited(settings, clock, api_client, user):
    set_rates(settings, {"auth.ip": "100/min", "auth.username": "2/min"})
    for _ in range(2):
        assert sign_up(api_client, user.username).status_code == 400
    retry_after(sign_up(api_client, user.username))
    # Successful sign-ups are forgiven: they do not use up a name's budget.
    assert sign_up(api_client, "fresh").status_code == 201
    assert throttling.hit("auth.username", "fresh") is None
    assert throttling.hit("auth.username", "fresh") is None


def test_the_default_auth_limits(clock, api_client, db):
    """20 attempts a minute per address, 10 failures per username."""
    users = [UserFactory() for _ in range(20)]
    for person in users[:19]:
        assert token(api_client, person.username, TEST_PASSWORD).status_code == 200
    assert token(api_client, users[19].username, "typo").status_code == 401
    assert token(api_client, users[19].username, TEST_PASSWORD).status_code == 429

    for number in range(10):
        assert token(api_client, users[0].username, "guess", f"192.0.2.{number}").status_code == 401
    assert token(api_client, users[0].username, TEST_PASSWORD, "192.0.2.200").status_code == 429


# The login page ------------------------------------------------------------------------------


def login(client: Client, username: str, password: str, address: str = "127.0.0.1"):
    return client.post(LOGIN_URL, {"username": username, "password": password}, REMOTE_ADDR=address)


def test_the_login_page_locks_a_username_after_failed_attempts(settings, clock, user):
    set_rates(settings, {"auth.ip": "100/min", "auth.username": "3/min"})
    client = Client()
    for _ in range(3):
        response = login(client, user.username, "guess")
        assert response.status_code == 200
        assert "Too many" not in response.content.decode()

    locked = login(client, user.username, TEST_PASSWORD)

    assert locked.status_code == 429
    wait = int(locked["Retry-After"])
    assert wait == 80
    html = locked.content.decode()
    assert 'class="form-error"' in html
    assert "Too many failed sign-in attempts" in html
    assert f"Expected available in {wait} seconds" in html
    assert "_auth_user_id" not in client.session

    clock.advance(wait)
    response = login(client, user.username, TEST_PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_successful_logins_do_not_count_against_the_username(settings, clock, user):
    set_rates(settings, {"auth.ip": "100/min", "auth.username": "2/min"})
    for _ in range(4):
        assert login(Client(), user.username, TEST_PASSWORD).status_code == 302
    assert login(Client(), user.username, "guess").status_code == 200
    assert login(Client(), user.username, "guess").status_code == 200
    assert login(Client(), user.username, TEST_PASSWORD).status_code == 429


def test_the_login_page_limits_attempts_per_address(settings, clock, user):
    set_rates(settings, {"auth.ip": "2/min", "auth.username": "100/min"})
    client = Client()
    assert login(client, "nobody", "guess").status_code == 200
    assert login(client, "someone", "guess").status_code == 200
    assert login(client, user.username, TEST_PASSWORD).status_code == 429
    assert "_auth_user_id" not in client.session
    assert login(Client(), user.username, TEST_PASSWORD, "192.0.2.8").status_code == 302


def test_the_login_page_and_the_token_endpoint_share_the_budgets(settings, clock, api_client, user):
    set_rates(settings, {"auth.ip": "100/min", "auth.username": "3/min"})
    assert login(Client(), user.username, "guess").status_code == 200
    assert login(Client(), user.username, "guess").status_code == 200
    assert token(api_client, user.username, "guess").status_code == 401
    assert token(api_client, user.username, TEST_PASSWORD).status_code == 429
    assert login(Client(), user.username, TEST_PASSWORD).status_code == 429


def test_sign_up_page_shares_the_per_address_limit(db, client, settings):
    settings.CHAT_RATE_LIMITS = {**settings.CHAT_RATE_LIMITS, "auth.ip": "2/min"}
    for number in range(2):
        response = client.post(
            "/accounts/signup/",
            {"username": f"page{number}", "password1": "x", "password2": "y"},
        )
        assert response.status_code == 200
    response = client.post(
        "/accounts/signup/",
        {
            "username": "page9",
            "display_name": "",
            "password1": "a-long-enough-passphrase",
            "password2": "a-long-enough-passphrase",
        },
    )
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert "Too many sign-in attempts" in response.content.decode()
    assert not User.objects.filter(username="page9").exists()


def test_redis_caches_of_a_process_share_one_connection_pool():
    """Django makes a RedisCache per request under ASGI; with ProcessConnectionPool
    they all draw on one pool instead of connecting to Redis each time.
    No Redis is needed: building a pool does not connect."""
    from django.core.cache.backends.redis import RedisCache

    def pool_of(location: str, timeout: float):
        options = {"pool_class": throttling.ProcessConnectionPool, "socket_timeout": timeout}
        return RedisCache(location, {"OPTIONS": options})._cache._get_connection_pool(write=True)

    first = pool_of("redis://127.0.0.1:6399/9", 0.5)
    assert pool_of("redis://127.0.0.1:6399/9", 0.5) is first
    assert pool_of("redis://127.0.0.1:6399/8", 0.5) is not first
    assert pool_of("redis://127.0.0.1:6399/9", 0.25) is not first
