"""The admin login is under the sign-in limits of /accounts/login/ and
POST /api/auth/token (issue 10, item 2): per address, and failed attempts
per username, one budget across every login surface."""

import pytest
from django.test import Client

from tests.support.factories import TEST_PASSWORD, UserFactory
from tests.support.throttling import set_rates

ADMIN_LOGIN_URL = "/admin/login/"


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True, is_superuser=True)


def admin_login(client: Client, username: str, password: str, address: str = "127.0.0.1"):
    return client.post(
        ADMIN_LOGIN_URL,
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=address,
    )


def test_forty_wrong_admin_passwords_lock_the_username(clock, staff):
    client = Client()
    answers = [
        admin_login(client, staff.username, "guess", f"192.0.2.{number}").status_code
        for number in range(40)
    ]
    assert answers[:10] == [200] * 10  # the default: 10 failures per username a minute
    assert set(answers[10:]) == {429}

    locked = admin_login(client, staff.username, TEST_PASSWORD, "198.51.100.1")

    assert locked.status_code == 429
    assert int(locked["Retry-After"]) >= 1
    assert "Too many failed sign-in attempts" in locked.content.decode()
    assert "_auth_user_id" not in client.session

    clock.advance(int(locked["Retry-After"]) + 60)
    signed_in = admin_login(client, staff.username, TEST_PASSWORD, "198.51.100.1")
    assert signed_in.status_code == 302
    assert client.session["_auth_user_id"] == str(staff.pk)


def test_the_admin_login_limits_attempts_per_address(settings, clock, staff):
    set_rates(settings, {"auth.ip": "2/min", "auth.username": "100/min"})
    client = Client()
    assert admin_login(client, "nobody", "guess").status_code == 200
    assert admin_login(client, "someone", "guess").status_code == 200
    assert admin_login(client, staff.username, TEST_PASSWORD).status_code == 429
    assert admin_login(Client(), staff.username, TEST_PASSWORD, "192.0.2.8").status_code == 302


def test_failures_elsewhere_count_toward_the_admin_login(settings, clock, api_client, staff):
    set_rates(settings, {"auth.ip": "100/min", "auth.username": "3/min"})
    page = Client().post("/accounts/login/", {"username": staff.username, "password": "guess"})
    assert page.status_code == 200
    token = api_client.post(
        "/api/auth/token", {"username": staff.username, "password": "guess"}, format="json"
    )
    assert token.status_code == 401
    assert admin_login(Client(), staff.username, "guess").status_code == 200

    assert admin_login(Client(), staff.username, TEST_PASSWORD).status_code == 429
    assert (
        Client()
        .post("/accounts/login/", {"username": staff.username, "password": TEST_PASSWORD})
        .status_code
        == 429
    )


def test_a_successful_admin_login_does_not_count_against_the_username(settings, clock, staff):
    set_rates(settings, {"auth.ip": "100/min", "auth.username": "2/min"})
    for _ in range(4):
        assert admin_login(Client(), staff.username, TEST_PASSWORD).status_code == 302
    assert admin_login(Client(), staff.username, "guess").status_code == 200
    assert admin_login(Client(), staff.username, "guess").status_code == 200
    assert admin_login(Client(), staff.username, TEST_PASSWORD).status_code == 429
