"""The pages' language: the one chosen on the profile page, else the
browser's Accept-Language (LocaleMiddleware); users.middleware.UserLanguageMiddleware."""

import pytest

from tests.support.factories import UserFactory
from users.models import User

pytestmark = pytest.mark.django_db

POLISH_BROWSER = {"Accept-Language": "pl,en;q=0.5"}
ENGLISH_BROWSER = {"Accept-Language": "en-GB,en;q=0.8"}


def page_language(response) -> tuple[str, str]:
    """The Content-Language header and the page's <html lang>."""
    html = response.content.decode()
    start = html.index("<html lang=") + len('<html lang="')
    return response["Content-Language"], html[start : html.index('"', start)]


def test_the_users_language_beats_the_browsers(client):
    client.force_login(UserFactory(language=User.Language.POLISH))
    response = client.get("/accounts/profile/", headers=ENGLISH_BROWSER)
    assert page_language(response) == ("pl", "pl")


def test_english_chosen_beats_a_polish_browser(client):
    client.force_login(UserFactory(language=User.Language.ENGLISH))
    response = client.get("/accounts/profile/", headers=POLISH_BROWSER)
    assert page_language(response) == ("en", "en")


def test_the_browsers_language_is_used_when_the_user_chose_none(client):
    client.force_login(UserFactory(language=User.Language.BROWSER))
    response = client.get("/accounts/profile/", headers=POLISH_BROWSER)
    assert page_language(response) == ("pl", "pl")


def test_visitors_get_the_browsers_language(client):
    assert page_language(client.get("/accounts/login/", headers=POLISH_BROWSER)) == ("pl", "pl")
    assert page_language(client.get("/accounts/login/", headers=ENGLISH_BROWSER)) == ("en", "en")


def test_the_users_language_applies_to_the_api_too(client):
    client.force_login(UserFactory(language=User.Language.POLISH))
    assert client.get("/api/users/me", headers=ENGLISH_BROWSER)["Content-Language"] == "pl"
