"""The "sign out everywhere" button ends every session of the user, the one it was
asked in too (the session epoch in User._get_session_auth_hash); API tokens
stay. The sockets' side is in realtime/tests/test_sign_out_everywhere.py."""

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from django.test import Client

from tests.support.events import frames, listen_as_user
from tests.support.factories import TEST_PASSWORD
from users import services
from users.credentials import REVOKED

URL = "/accounts/sign-out-everywhere/"

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    browser = Client()
    assert browser.login(username=user.username, password=TEST_PASSWORD)
    assert browser.get("/accounts/profile/").status_code == 200
    return browser


def is_signed_out(browser: Client) -> bool:
    response = browser.get("/accounts/profile/")
    return response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_it_ends_every_session_of_the_user_and_says_so(user, other_user):
    here, elsewhere, bystander = signed_in(user), signed_in(user), signed_in(other_user)

    response = here.post(URL, follow=True)

    assert response.redirect_chain == [("/accounts/login/", 302)]
    assert "You were signed out everywhere" in response.content.decode()
    assert is_signed_out(here)
    assert is_signed_out(elsewhere)
    assert not is_signed_out(bystander)


def test_the_user_can_log_in_again_afterwards(user):
    signed_in(user).post(URL)
    assert not is_signed_out(signed_in(user))


def test_api_tokens_keep_working(user, api_client):
    _, key = services.issue_token(user)
    signed_in(user).post(URL)
    response = api_client.get("/api/users/me", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200


def test_it_asks_every_session_socket_of_the_user_to_close(
    user, django_capture_on_commit_callbacks
):
    browser = signed_in(user)
    channel = listen_as_user(user.pk)
    with django_capture_on_commit_callbacks(execute=True):
        browser.post(URL)
    # Every session (none is kept), not the tokens: SocketCredential.revoked_by.
    assert frames(channel) == [{"type": REVOKED, "userId": str(user.pk), "sessionsExcept": ""}]


def test_it_is_a_post_with_the_csrf_token(user):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    assert browser.get(URL).status_code == 405
    assert browser.post(URL).status_code == 403
    assert not is_signed_out(browser)


def test_visitors_are_sent_to_log_in(client):
    response = client.post(URL)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_sessions_from_before_the_epoch_existed_stay_signed_in(user):
    """Epoch 0 is Django's own hash: adding the field signed nobody out."""
    django_hash = AbstractBaseUser._get_session_auth_hash(user)
    assert user.session_epoch == 0
    assert user.get_session_auth_hash() == django_hash
    user.session_epoch = 1
    assert user.get_session_auth_hash() != django_hash


def test_a_password_change_after_it_keeps_this_session(user):
    browser = signed_in(user)
    services.sign_out_everywhere(user=user)
    browser = signed_in(user)
    new_password = "Another-river-3141"
    response = browser.post(
        "/accounts/password/",
        {
            "old_password": TEST_PASSWORD,
            "new_password1": new_password,
            "new_password2": new_password,
        },
    )
    assert response.status_code == 302
    assert not is_signed_out(browser)
