"""A strict Content-Security-Policy and a Permissions-Policy on every
response (issue 10, item 15), and no inline script anywhere for it to block.
The browser check (every page still works, no violation) is
tests/e2e/test_csp_browser.py."""

import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from users.models import User

TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates"
# <script> without src (JSON data blocks excepted: they never run), and on*= handlers.
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


def policy_of(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())


@pytest.mark.parametrize(
    "path", ["/accounts/login/", "/admin/login/", "/api/docs/", "/api/users", "/healthz"]
)
def test_every_response_has_the_strict_policy(client, db, path):
    response = client.get(path)
    policy = policy_of(response)
    assert policy["script-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["connect-src"] == "'self' ws://testserver wss://testserver"
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "camera=()" in response["Permissions-Policy"]
    assert "microphone=()" in response["Permissions-Policy"]


def test_the_api_docs_page_has_no_inline_script_or_style(client, db):
    html = client.get("/api/docs/").content.decode()
    assert INLINE_SCRIPT.search(html) is None
    assert "<style" not in html
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()


@pytest.mark.parametrize(
    "template", sorted(TEMPLATES.rglob("*.html")), ids=lambda path: str(path.relative_to(TEMPLATES))
)
def test_no_template_has_inline_script_or_event_handlers(template):
    text = template.read_text()
    assert INLINE_SCRIPT.search(text) is None
    assert EVENT_HANDLER.search(text) is None
    assert "javascript:" not in text


# seed_demo and its public password -----------------------------------------------------------


def test_seed_demo_refuses_the_public_password_without_debug(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="--force"):
        call_command("seed_demo", stdout=StringIO())
    assert not User.objects.filter(username__in=["alice", "bob", "carol"]).exists()


def test_seed_demo_with_force_creates_them_without_debug(db, settings):
    settings.DEBUG = False
    call_command("seed_demo", "--force", stdout=StringIO())
    assert User.objects.get(username="alice").check_password("chat-demo-pass")
    # Once they exist, later runs (a bulk load) need no --force: nothing is created.
    call_command("seed_demo", "--messages", "3", stdout=StringIO())


def test_seed_demo_needs_no_force_with_debug(db, settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO())
    assert User.objects.filter(username__in=["alice", "bob", "carol"]).count() == 3
