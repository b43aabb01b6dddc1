"""Writes that bypassed the services now go through them (issue 10, item 16):
seed_demo's users, the admin's API token page (read-only: a live token
cannot be reassigned), the default workspace behind a model field default.
(The sign-up page: users/tests/test_usernames.py.)"""

import pytest
from django.core.management import call_command

from conversations.models import Conversation
from users import services as user_services
from users.models import ApiToken
from workspaces import services as workspace_services
from workspaces.models import DEFAULT_WORKSPACE_SLUG, Workspace


@pytest.fixture
def calls() -> dict:
    """Calls to the spied-on services, by name."""
    return {}


def spy(monkeypatch, calls: dict, module, name: str) -> None:
    original = getattr(module, name)

    def recording(*args, **kwargs):
        calls.setdefault(name, []).append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, recording)


# seed_demo ----------------------------------------------------------------------------------


def test_seed_demo_creates_its_users_through_the_sign_up_service(
    db, settings, monkeypatch, calls, capsys
):
    settings.DEBUG = True  # seed_demo refuses its public password otherwise
    spy(monkeypatch, calls, user_services, "register_user")
    call_command("seed_demo")
    assert [call["username"] for call in calls["register_user"]] == ["alice", "bob", "carol"]

    call_command("seed_demo")  # the users exist: nothing is created again
    assert len(calls["register_user"]) == 3


# The API token admin --------------------------------------------------------------------------


def test_a_token_cannot_be_reassigned_or_renamed_in_the_admin(admin_client, user, other_user):
    token, _ = user_services.issue_token(user, name="laptop")
    page = admin_client.get(f"/admin/users/apitoken/{token.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="user"' not in html and 'name="name"' not in html

    response = admin_client.post(
        f"/admin/users/apitoken/{token.pk}/change/", {"user": other_user.pk, "name": "stolen"}
    )

    assert response.status_code == 403
    token.refresh_from_db()
    assert (token.user_id, token.name) == (user.pk, "laptop")


def test_tokens_are_revoked_in_the_admin_not_deleted(admin_client, user):
    token, _ = user_services.issue_token(user, name="laptop")
    response = admin_client.post(f"/admin/users/apitoken/{token.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert ApiToken.objects.filter(pk=token.pk).exists()

    revoked = admin_client.post(
        "/admin/users/apitoken/", {"action": "revoke", "_selected_action": [token.pk]}
    )
    assert revoked.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


# The default workspace ----------------------------------------------------------------------


def test_the_default_workspace_is_made_once_when_it_is_missing(db, user):
    """The one row a model default may write (models never import services:
    Workspace.objects.default ensures it; workspaces.services reads it there)."""
    Workspace.objects.filter(slug=DEFAULT_WORKSPACE_SLUG).delete()

    conversation = Conversation.objects.create(kind=Conversation.Kind.GROUP, title="Notes")

    assert conversation.workspace.slug == DEFAULT_WORKSPACE_SLUG
    assert Workspace.objects.filter(slug=DEFAULT_WORKSPACE_SLUG).count() == 1
    assert workspace_services.default_workspace() == conversation.workspace
