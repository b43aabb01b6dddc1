"""The users and auth API: directory, detail, /me, sign-up, tokens, and the
authentication every other endpoint relies on (token, session, CSRF)."""

import pytest
from rest_framework.test import APIClient

from chatproject.keys import hash_secret
from conversations.models import Conversation
from tests.support.api import assert_error
from tests.support.factories import TEST_PASSWORD, UserFactory
from users import services
from users.api import USER_DIRECTORY_LIMIT
from users.models import ApiToken, User

STRONG_PASSWORD = "plum-orbit-lantern-42"
USER_KEYS = {"id", "username", "displayName", "isBot", "lastSeenAt"}


def token_client(key: str, keyword: str = "Bearer") -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{keyword} {key}")
    return client


# Directory and detail ----------------------------------------------------------


def test_directory_lists_active_users_by_username(user_client, user):
    UserFactory(username="zed")
    UserFactory(username="amy")
    UserFactory(username="gone", is_active=False)

    response = user_client.get("/api/users")

    assert response.status_code == 200
    body = response.json()
    assert [entry["username"] for entry in body] == sorted(["zed", "amy", user.username])
    assert all(set(entry) == USER_KEYS | {"online"} for entry in body)
    assert all(isinstance(entry["id"], str) for entry in body)


def test_directory_search_matches_username_or_display_name(user_client):
    alice = UserFactory(username="alice", display_name="Queen of Hearts")
    UserFactory(username="bob", display_name="Builder")
    UserFactory(username="alfred", display_name="Butler", is_active=False)

    by_username = user_client.get("/api/users", {"search": "ALI"})
    by_display_name = user_client.get("/api/users", {"search": "hearts"})
    nothing = user_client.get("/api/users", {"search": "nobody-has-this"})

    assert [entry["id"] for entry in by_username.json()] == [str(alice.pk)]
    assert [entry["id"] for entry in by_display_name.json()] == [str(alice.pk)]
    assert nothing.status_code == 200
    assert nothing.json() == []


def test_directory_is_capped(user_client):
    User.objects.bulk_create(
        User(username=f"bulk{number:04d}") for number in range(USER_DIRECTORY_LIMIT + 5)
    )

    response = user_client.get("/api/users")

    assert response.status_code == 200
    assert len(response.json()) == USER_DIRECTORY_LIMIT


def test_user_detail(user_client, other_user):
    response = user_client.get(f"/api/users/{other_user.pk}")

    assert response.status_code == 200
    assert response.json() == {
        "id": str(other_user.pk),
        "username": other_user.username,
        "displayName": other_user.display_name,
        "isBot": False,
        "lastSeenAt": None,
    }


def test_user_detail_unknown_id_is_404_envelope(user_client, user):
    assert_error(user_client.get(f"/api/users/{user.pk + 1000}"), 404, "not_found")


def test_user_detail_inactive_user_is_404(user_client):
    inactive = UserFactory(is_active=False)

    assert_error(user_client.get(f"/api/users/{inactive.pk}"), 404, "not_found")


@pytest.mark.parametrize("path", ["/api/users/abc", "/api/users/-1", "/api/no-such-endpoint"])
def test_unrouted_api_path_is_404_envelope_not_html(user_client, path):
    assert_error(user_client.get(path), 404, "not_found")


def test_me_is_the_caller(user_client, user):
    response = user_client.get("/api/users/me")

    assert response.status_code == 200
    assert response.json()["id"] == str(user.pk)
    assert response.json()["username"] == user.username


# Sign-up ---------------------------------------------------------------------


def test_signup_creates_account_and_token_usable_as_bearer_and_token(api_client, db):
    response = api_client.post(
        "/api/auth/signup",
        {"username": "newbie", "password": STRONG_PASSWORD, "displayName": "New Bie"},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    created = User.objects.get(username="newbie")
    assert created.check_password(STRONG_PASSWORD)
    assert created.display_name == "New Bie"
    assert body["user"]["id"] == str(created.pk)
    assert body["user"]["displayName"] == "New Bie"
    key = body["token"]
    assert len(key) >= 32
    assert body["tokenPrefix"] == key[:8]
    for keyword in ("Bearer", "Token", "bearer"):
        me = token_client(key, keyword).get("/api/users/me")
        assert me.status_code == 200, keyword
        assert me.json()["id"] == str(created.pk)


def test_signup_duplicate_username_is_400(api_client, user):
    response = api_client.post(
        "/api/auth/signup",
        {"username": user.username.upper(), "password": STRONG_PASSWORD},
        format="json",
    )

    error = assert_error(response, 400, "validation_error")
    assert "username" in error["details"]["fields"]
    assert User.objects.filter(username__iexact=user.username).count() == 1


@pytest.mark.parametrize("password", ["123", "password", "12345678901"])
def test_signup_weak_password_is_400_with_field_details(api_client, db, password):
    response = api_client.post(
        "/api/auth/signup", {"username": "weakling", "password": password}, format="json"
    )

    error = assert_error(response, 400, "validation_error")
    assert error["details"]["fields"]["password"]
    assert all(isinstance(text, str) for text in error["details"]["fields"]["password"])
    assert not User.objects.filter(username="weakling").exists()


def test_signup_missing_password_is_400(api_client, db):
    response = api_client.post("/api/auth/signup", {"username": "nopass"}, format="json")

    error = assert_error(response, 400, "validation_error")
    assert "password" in error["details"]["fields"]


# Tokens --------------------------------------------------------------------


def test_token_endpoint_issues_a_working_token(api_client, user):
    response = api_client.post(
        "/api/auth/token", {"username": user.username, "password": TEST_PASSWORD}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert body["user"]["id"] == str(user.pk)
    me = token_client(body["token"]).get("/api/users/me")
    assert me.status_code == 200
    assert me.json()["id"] == str(user.pk)


def test_token_endpoint_issues_a_new_token_each_time(api_client, user):
    credentials = {"username": user.username, "password": TEST_PASSWORD}
    first = api_client.post("/api/auth/token", credentials, format="json").json()["token"]
    second = api_client.post("/api/auth/token", credentials, format="json").json()["token"]

    assert first != second
    assert ApiToken.objects.filter(user=user).count() == 2


@pytest.mark.parametrize("username_known", [True, False])
def test_token_endpoint_wrong_credentials_is_401(api_client, user, username_known):
    username = user.username if username_known else "no-such-user"
    response = api_client.post(
        "/api/auth/token", {"username": username, "password": "wrong-password"}, format="json"
    )

    assert_error(response, 401, "authentication_failed")
    assert response["WWW-Authenticate"] == "Bearer"
    assert not ApiToken.objects.exists()


def test_token_endpoint_missing_field_is_400(api_client, user):
    response = api_client.post("/api/auth/token", {"username": user.username}, format="json")

    error = assert_error(response, 400, "validation_error")
    assert list(error["details"]["fields"]) == ["password"]


@pytest.mark.parametrize(
    "header",
    ["Bearer not-a-real-token", "Token not-a-real-token", "Bearer two parts", "Bearer"],
)
def test_invalid_token_is_401(db, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get("/api/users/me")

    assert_error(response, 401, "authentication_failed")
    assert response["WWW-Authenticate"] == "Bearer"


def test_token_is_stored_hashed(api_client, db):
    response = api_client.post(
        "/api/auth/signup", {"username": "hashy", "password": STRONG_PASSWORD}, format="json"
    )
    key = response.json()["token"]

    token = ApiToken.objects.get(user__username="hashy")
    assert token.key_hash != key
    assert key not in token.key_hash
    assert token.key_hash == hash_secret(key)
    assert token.prefix == key[:8]


def test_revoked_token_is_401(user):
    token, key = services.issue_token(user)
    client = token_client(key)
    assert client.get("/api/users/me").status_code == 200

    services.revoke_token(token)

    assert_error(client.get("/api/users/me"), 401, "authentication_failed")


def test_token_of_deactivated_user_is_401(user):
    _, key = services.issue_token(user)
    User.objects.filter(pk=user.pk).update(is_active=False)

    assert_error(token_client(key).get("/api/users/me"), 401, "authentication_failed")


# Anonymous access --------------------------------------------------------------

PROTECTED_ENDPOINTS = [
    ("get", "/api/users"),
    ("get", "/api/users/me"),
    ("get", "/api/users/1"),
    ("get", "/api/conversations"),
    ("post", "/api/conversations"),
    ("get", "/api/conversations/1"),
    ("get", "/api/conversations/find/1/2"),
    ("post", "/api/conversations/1/read"),
    ("post", "/api/messages"),
    ("get", "/api/messages/1"),
    ("patch", "/api/messages/1/1"),
    ("delete", "/api/messages/1/1"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED_ENDPOINTS)
def test_anonymous_is_401_on_every_protected_endpoint(api_client, user, method, path):
    response = getattr(api_client, method)(path, {}, format="json")

    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Bearer"


# Session authentication and CSRF -------------------------------------------------


def test_session_authentication(user):
    client = APIClient()
    assert client.login(username=user.username, password=TEST_PASSWORD)

    response = client.get("/api/users/me")

    assert response.status_code == 200
    assert response.json()["id"] == str(user.pk)


def test_session_post_without_csrf_token_is_403(user, other_user):
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username=user.username, password=TEST_PASSWORD)

    response = client.post("/api/conversations", {"users": [str(other_user.pk)]}, format="json")

    error = assert_error(response, 403, "permission_denied")
    assert "CSRF" in error["message"]
    assert not Conversation.objects.exists()


def test_session_post_with_csrf_token_is_accepted(user, other_user):
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username=user.username, password=TEST_PASSWORD)
    secret = "a1b2c3d4" * 4  # a well-formed unmasked CSRF secret (32 characters)
    client.cookies["csrftoken"] = secret

    response = client.post(
        "/api/conversations",
        {"users": [str(other_user.pk)]},
        format="json",
        headers={"X-CSRFToken": secret},
    )

    assert response.status_code == 201
    assert Conversation.objects.count() == 1


def test_token_authenticated_post_needs_no_csrf_token(user, other_user):
    _, key = services.issue_token(user)
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    response = client.post("/api/conversations", {"users": [str(other_user.pk)]}, format="json")

    assert response.status_code == 201
