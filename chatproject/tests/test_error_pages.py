"""The site's own 403, 404 and 500 pages (templates/403.html, 404.html,
500.html), also with DEBUG on for a page route's 404
(chatproject.middleware.DebugNotFoundPageMiddleware); the API keeps its envelope."""

import pytest
from django.test import RequestFactory
from django.views.defaults import server_error

from tests.support.api import assert_error
from tests.support.factories import UserFactory

pytestmark = pytest.mark.django_db

STYLED = 'href="/static/chat/pages.css"'
TECHNICAL_404 = "seeing this error because you have <code>DEBUG = True</code>"


def assert_error_page(response, status: int, heading: str) -> str:
    html = response.content.decode()
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    assert STYLED in html and 'href="/static/chat/favicon.svg"' in html
    assert f'<h1 id="error-title">{heading}</h1>' in html
    assert TECHNICAL_404 not in html
    return html


@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
def test_an_unknown_page_is_the_sites_404(settings, client, debug):
    settings.DEBUG = debug
    html = assert_error_page(client.get("/no/such/page/"), 404, "Page not found")
    assert "<code>/no/such/page/</code>" in html
    assert 'href="/"' in html


@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
def test_a_page_views_http404_is_the_sites_404(settings, client, user, debug):
    settings.DEBUG = debug
    client.force_login(user)
    response = client.post("/accounts/tokens/", {"revoke": "999999"})
    assert_error_page(response, 404, "Page not found")


def test_the_404_page_carries_the_users_theme(settings, client):
    settings.DEBUG = True
    client.force_login(UserFactory(theme="dark"))
    assert 'data-theme="dark"' in client.get("/no/such/page/").content.decode()


def test_with_debug_on_the_api_keeps_its_json_envelope(settings, client):
    settings.DEBUG = True
    assert_error(client.get("/api/no/such/endpoint"), 404, "not_found")


@pytest.mark.parametrize("path", ["/static/chat/no-such-file.css", "/admin/no/such/page/"])
def test_with_debug_on_static_files_and_the_admin_keep_djangos_404(settings, admin_client, path):
    settings.DEBUG = True
    response = admin_client.get(path)
    assert response.status_code == 404
    assert TECHNICAL_404 in response.content.decode()


def test_a_refusal_is_the_sites_403(client):
    client.force_login(UserFactory(is_staff=True))  # staff, not a superuser
    assert_error_page(client.get("/admin/status/"), 403, "You cannot open this page")


def test_the_500_page_renders_with_no_context_at_all():
    """Django renders 500.html with an empty context: no request, no user,
    no context processors."""
    response = server_error(RequestFactory().get("/"))
    html = assert_error_page(response, 500, "Something went wrong")
    assert 'data-theme="system"' in html


def test_an_unexpected_exception_on_a_page_is_the_sites_500(client, monkeypatch, user):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("users.views.services.tokens_of", broken)
    client.raise_request_exception = False
    client.force_login(user)
    html = assert_error_page(client.get("/accounts/tokens/"), 500, "Something went wrong")
    assert "boom" not in html
