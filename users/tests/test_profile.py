"""The profile page and PATCH /api/users/me: display name, theme and
language (users.services.update_profile), and `ui_theme` for every page."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.support.api import assert_error
from tests.support.factories import UserFactory
from users.models import User

PROFILE_URL = "/accounts/profile/"
ME_URL = "/api/users/me"

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(user) -> Client:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    return browser


def csrf_token_of(browser: Client) -> str:
    """The CSRF token a page gives the browser (the cookie the pages' JS sends back)."""
    browser.get(PROFILE_URL)
    return browser.cookies["csrftoken"].value


# The page ---------------------------------------------------------------------------


def test_the_profile_page_needs_a_signed_in_user(client):
    response = client.get(PROFILE_URL)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={PROFILE_URL}"


def test_the_profile_page_shows_the_form_and_the_account_links(client, user):
    client.force_login(user)
    response = client.get(PROFILE_URL)
    html = response.content.decode()
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    assert f'value="{user.display_name}"' in html
    for choice in ['value="system" selected', 'value="light"', 'value="dark"']:
        assert choice in html
    for choice in ['value="" selected', 'value="en"', 'value="pl"']:
        assert choice in html
    assert 'href="/accounts/password/"' in html and 'href="/accounts/tokens/"' in html
    assert 'action="/accounts/sign-out-everywhere/"' in html
    assert "API tokens are not sessions" in html


def test_saving_the_profile_form_changes_the_name_and_preferences(client, user):
    client.force_login(user)
    response = client.post(
        PROFILE_URL, {"display_name": "  Ann Lee  ", "theme": "dark", "language": "pl"}
    )
    assert response.status_code == 302 and response["Location"] == PROFILE_URL
    user.refresh_from_db()
    assert (user.display_name, user.theme, user.language) == ("Ann Lee", "dark", "pl")
    page = client.get(PROFILE_URL)
    assert 'data-theme="dark"' in page.content.decode()
    assert page["Content-Language"] == "pl"


def test_the_profile_form_shows_its_errors_next_to_the_fields(client, user):
    client.force_login(user)
    response = client.post(PROFILE_URL, {"display_name": "x" * 151, "theme": "neon"})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'class="form-error" id="id_display_name_error" role="alert"' in html
    assert 'id="id_theme_error" role="alert"' in html
    assert 'aria-describedby="id_display_name_helptext id_display_name_error"' in html
    assert 'aria-invalid="true"' in html
    user.refresh_from_db()
    assert user.theme == User.Theme.SYSTEM


def test_the_profile_form_needs_the_csrf_token(browser, user):
    response = browser.post(PROFILE_URL, {"display_name": "Forged", "theme": "dark"})
    assert response.status_code == 403
    user.refresh_from_db()
    assert user.display_name != "Forged"


# The API ----------------------------------------------------------------------------


def test_me_includes_the_preferences(user_client, user):
    body = user_client.get(ME_URL).json()
    assert body["theme"] == "system" and body["language"] == ""
    assert body["id"] == str(user.pk) and body["displayName"] == user.name


def test_other_users_are_shown_without_preferences(user_client, other_user):
    body = user_client.get(f"/api/users/{other_user.pk}").json()
    assert "theme" not in body and "language" not in body


def test_patch_me_changes_only_what_it_names(user_client, user):
    response = user_client.patch(ME_URL, {"theme": "light"}, format="json")
    assert response.status_code == 200
    assert response.json()["theme"] == "light"
    assert response.json()["displayName"] == user.display_name
    response = user_client.patch(
        ME_URL, {"displayName": "New Name", "language": "en"}, format="json"
    )
    assert response.json() | {"lastSeenAt": None} == {
        "id": str(user.pk),
        "username": user.username,
        "displayName": "New Name",
        "isBot": False,
        "lastSeenAt": None,
        "theme": "light",
        "language": "en",
    }
    user.refresh_from_db()
    assert (user.display_name, user.theme, user.language) == ("New Name", "light", "en")


def test_an_empty_display_name_shows_the_username(user_client, user):
    response = user_client.patch(ME_URL, {"displayName": "   "}, format="json")
    assert response.json()["displayName"] == user.username


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"theme": "neon"}, "theme"),
        ({"theme": ""}, "theme"),
        ({"language": "de"}, "language"),
        ({"displayName": "x" * 151}, "displayName"),
        ({"displayName": None}, "displayName"),
        ({"theme": ["dark"]}, "theme"),
    ],
)
def test_patch_me_refuses_invalid_values_with_the_envelope(user_client, user, body, field):
    error = assert_error(user_client.patch(ME_URL, body, format="json"), 400, "validation_error")
    assert field in error["details"]["fields"], error
    user.refresh_from_db()
    assert user.theme == "system" and user.language == ""


def test_patch_me_needs_a_signed_in_user(api_client):
    assert_error(api_client.patch(ME_URL, {"theme": "dark"}, format="json"), 401)


def test_patch_me_with_the_session_needs_the_csrf_header(browser, user):
    api = APIClient(enforce_csrf_checks=True)
    api.cookies = browser.cookies
    refused = api.patch(ME_URL, {"theme": "dark"}, format="json")
    assert_error(refused, 403)
    accepted = api.patch(
        ME_URL, {"theme": "dark"}, format="json", headers={"X-CSRFToken": csrf_token_of(browser)}
    )
    assert accepted.status_code == 200 and accepted.json()["theme"] == "dark"


# Every page's theme ---------------------------------------------------------------------


def test_pages_carry_the_users_theme_and_system_for_visitors(client):
    assert 'data-theme="system"' in client.get("/accounts/login/").content.decode()
    client.force_login(UserFactory(theme=User.Theme.DARK))
    assert 'data-theme="dark"' in client.get(PROFILE_URL).content.decode()
