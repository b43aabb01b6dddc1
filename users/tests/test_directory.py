"""The user directory as the people picker uses it: `limit`, `online`, an
exact username first, and a query count that does not grow with the users."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.support.api import assert_error
from tests.support.factories import UserFactory
from users import services
from users.models import SocketConnection, User

pytestmark = pytest.mark.django_db


def usernames(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [entry["username"] for entry in response.json()]


def test_limit_caps_the_rows_in_username_order(user_client, user):
    User.objects.bulk_create(User(username=f"bulk{number:03d}") for number in range(30))

    assert usernames(user_client.get("/api/users", {"limit": 5})) == [
        f"bulk{number:03d}" for number in range(5)
    ]
    assert len(usernames(user_client.get("/api/users", {"search": "bulk", "limit": 12}))) == 12
    assert len(usernames(user_client.get("/api/users"))) == 31


@pytest.mark.parametrize("limit", ["0", "201", "ten"])
def test_limit_is_1_to_200(user_client, limit):
    error = assert_error(user_client.get("/api/users", {"limit": limit}), 400)
    assert "limit" in error["details"]["fields"]


def test_each_entry_says_whether_the_user_is_online(user_client, user):
    online, offline, stale = UserFactory(), UserFactory(), UserFactory()
    services.socket_opened(online, "test!online")
    SocketConnection.objects.create(
        user=stale,
        channel_name="test!stale",
        server="gone:1",
        seen_at=timezone.now() - services.PRESENCE_TIMEOUT - timedelta(seconds=1),
    )

    body = {entry["username"]: entry for entry in user_client.get("/api/users").json()}

    assert body[online.username]["online"] is True
    assert body[offline.username]["online"] is False
    assert body[stale.username]["online"] is False
    assert body[user.username]["online"] is False


def test_an_exact_username_comes_first(user_client):
    for username in ("annabel", "hannah", "ann", "joanna"):
        UserFactory(username=username)
    UserFactory(username="zed", display_name="Ann Other")

    assert usernames(user_client.get("/api/users", {"search": "ANN"})) == [
        "ann",
        "annabel",
        "hannah",
        "joanna",
        "zed",
    ]


def test_the_directory_costs_the_same_queries_for_5_and_300_users(
    user_client, django_assert_max_num_queries
):
    for number in range(4):
        services.socket_opened(UserFactory(username=f"few{number}"), f"test!few{number}")
    with django_assert_max_num_queries(2) as few:
        assert len(usernames(user_client.get("/api/users", {"search": "few"}))) == 4
    User.objects.bulk_create(User(username=f"many{number:03d}") for number in range(300))

    with django_assert_max_num_queries(2) as many:
        body = user_client.get("/api/users", {"search": "many"}).json()

    assert len(body) == 200
    assert len(few.captured_queries) == len(many.captured_queries)
