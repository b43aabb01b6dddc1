"""Usernames are normalised in one place, the sign-up service (NFKC), which
refuses look-alikes of a taken name; and a user's `lastSeenAt` is shown only
to those who share a conversation with them (issue 10, item 14)."""

from datetime import UTC, datetime

import pytest
from django.test import Client

from chatproject.errors import Invalid
from tests.support.api import assert_error
from tests.support.factories import ConversationFactory, UserFactory
from users import services
from users.models import User

STRONG_PASSWORD = "plum-orbit-lantern-42"
LAST_SEEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
FULLWIDTH_ALICE = "\uff41\uff4c\uff49\uff43\uff45"
CYRILLIC_A_ALICE = "\u0430lice"  # CYRILLIC SMALL LETTER A, then "lice"
GREEK_OMICRON_BOB = "b\u03bfb"  # GREEK SMALL LETTER OMICRON between two "b"


def api_sign_up(api_client, username: str):
    return api_client.post(
        "/api/auth/signup",
        {"username": username, "password": STRONG_PASSWORD, "displayName": ""},
        format="json",
    )


def page_sign_up(username: str):
    return Client().post(
        "/accounts/signup/",
        {
            "username": username,
            "display_name": "",
            "password1": STRONG_PASSWORD,
            "password2": STRONG_PASSWORD,
        },
    )


# The service ---------------------------------------------------------------------------------


def test_the_service_stores_the_nfkc_form(db):
    user = services.register_user(username=FULLWIDTH_ALICE, password=STRONG_PASSWORD)
    assert User.objects.get(pk=user.pk).username == "alice"


@pytest.mark.parametrize(
    "look_alike",
    ["alice", "ALICE", FULLWIDTH_ALICE, CYRILLIC_A_ALICE, "\u0410LICE", "al\u0456ce"],
)
def test_the_service_refuses_look_alikes_of_a_taken_name(db, look_alike):
    UserFactory(username="alice")
    with pytest.raises(Invalid) as refused:
        services.register_user(username=look_alike, password=STRONG_PASSWORD)
    assert "username" in refused.value.fields
    assert User.objects.count() == 1


def test_a_taken_look_alike_protects_the_latin_name_too(db):
    UserFactory(username=GREEK_OMICRON_BOB)  # created before the rule
    with pytest.raises(Invalid):
        services.register_user(username="bob", password=STRONG_PASSWORD)


def test_different_names_are_not_look_alikes(db):
    UserFactory(username="alice")
    for name in ["alicia", "alice2", "a.lice", "malice"]:
        services.register_user(username=name, password=STRONG_PASSWORD)
    assert User.objects.count() == 5


def test_a_weak_password_is_a_password_error(db):
    with pytest.raises(Invalid) as refused:
        services.register_user(username="weakling", password="123")
    assert "password" in refused.value.fields


# Both sign-up surfaces go through it ---------------------------------------------------------


@pytest.mark.parametrize("look_alike", [FULLWIDTH_ALICE, CYRILLIC_A_ALICE])
def test_the_api_refuses_look_alikes(api_client, db, look_alike):
    UserFactory(username="alice")
    error = assert_error(api_sign_up(api_client, look_alike), 400, "validation_error")
    assert "username" in error["details"]["fields"]
    assert User.objects.count() == 1


def test_the_api_stores_the_nfkc_form(api_client, db):
    response = api_sign_up(api_client, FULLWIDTH_ALICE)
    assert response.status_code == 201
    assert response.json()["user"]["username"] == "alice"


def test_the_sign_up_page_refuses_look_alikes(db):
    UserFactory(username="alice")
    response = page_sign_up(CYRILLIC_A_ALICE)
    assert response.status_code == 200
    assert 'class="form-error"' in response.content.decode()
    assert User.objects.count() == 1


def test_the_sign_up_page_creates_through_the_service(db, monkeypatch):
    calls = []
    register = services.register_user

    def spy(**kwargs):
        calls.append(kwargs["username"])
        return register(**kwargs)

    monkeypatch.setattr(services, "register_user", spy)
    response = page_sign_up("newcomer")
    assert response.status_code == 302
    assert calls == ["newcomer"]
    assert User.objects.get(username="newcomer").check_password(STRONG_PASSWORD)


# lastSeenAt ----------------------------------------------------------------------------------


@pytest.fixture
def contact(user):
    """Someone who shares a conversation with `user`."""
    contact = UserFactory(last_seen_at=LAST_SEEN)
    ConversationFactory(members=[user, contact])
    return contact


@pytest.fixture
def stranger(db):
    """Someone who shares no conversation with `user`."""
    stranger = UserFactory(last_seen_at=LAST_SEEN)
    ConversationFactory(members=[stranger, UserFactory()])
    return stranger


def test_last_seen_is_shown_to_contacts_only_in_the_detail(user_client, contact, stranger):
    assert user_client.get(f"/api/users/{contact.pk}").json()["lastSeenAt"] == (
        "2026-01-02T03:04:05Z"
    )
    assert user_client.get(f"/api/users/{stranger.pk}").json()["lastSeenAt"] is None


def test_last_seen_is_shown_to_contacts_only_in_the_directory(user_client, contact, stranger):
    entries = {entry["id"]: entry for entry in user_client.get("/api/users").json()}
    assert entries[str(contact.pk)]["lastSeenAt"] == "2026-01-02T03:04:05Z"
    assert entries[str(stranger.pk)]["lastSeenAt"] is None


def test_my_own_last_seen_is_shown_to_me(user, user_client):
    user.last_seen_at = LAST_SEEN
    user.save(update_fields=["last_seen_at"])
    assert user_client.get("/api/users/me").json()["lastSeenAt"] == "2026-01-02T03:04:05Z"
    entries = {entry["id"]: entry for entry in user_client.get("/api/users").json()}
    assert entries[str(user.pk)]["lastSeenAt"] == "2026-01-02T03:04:05Z"


def test_the_directory_costs_the_same_queries_for_many_users(
    user, user_client, django_assert_num_queries
):
    contact = UserFactory(last_seen_at=LAST_SEEN)
    ConversationFactory(members=[user, contact])
    user_client.get("/api/users")  # warm up (content types, etc.)
    with django_assert_num_queries(2) as few:
        user_client.get("/api/users")
    for _ in range(20):
        other = UserFactory(last_seen_at=LAST_SEEN)
        ConversationFactory(members=[user, other])
    with django_assert_num_queries(len(few.captured_queries)):
        assert len(user_client.get("/api/users").json()) == 22
