"""Workspaces and their API keys: made through workspaces.services, the
create_api_key command and the admin; the secret shown once and stored
hashed; revocable; last-used time."""

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from chatproject.keys import hash_secret
from workspaces.models import DEFAULT_WORKSPACE_SLUG, ApiKey, Workspace
from workspaces.services import (
    api_key_for_credentials,
    api_key_for_secret,
    create_api_key,
    revoke_api_key,
)

pytestmark = pytest.mark.django_db


def test_the_default_workspace_exists_after_migrating():
    workspace = Workspace.objects.get(slug=DEFAULT_WORKSPACE_SLUG)
    assert workspace.is_default
    assert Workspace.objects.default() == workspace


def test_a_key_stores_only_the_hash_of_its_secret(workspace):
    api_key, secret = create_api_key(workspace=workspace, name="CRM")
    stored = ApiKey.objects.get(pk=api_key.pk)
    assert stored.secret_hash == hash_secret(secret)
    assert secret not in {stored.key_id, stored.secret_hash, stored.name}
    assert stored.secret_prefix == secret[:8]
    assert len(secret) >= 40 and len(stored.key_id) == 24


def test_keys_authenticate_by_secret_or_by_id_and_secret(workspace, other_workspace):
    api_key, secret = create_api_key(workspace=workspace, name="CRM")
    other, other_secret = create_api_key(workspace=other_workspace, name="other")
    assert api_key_for_secret(secret) == api_key
    assert api_key_for_secret(secret).workspace == workspace
    assert api_key_for_credentials(api_key.key_id, secret) == api_key
    assert api_key_for_credentials(api_key.key_id, other_secret) is None
    assert api_key_for_credentials(other.key_id, secret) is None
    assert api_key_for_secret("") is None
    assert api_key_for_secret(secret[:-1]) is None


def test_a_revoked_key_authenticates_nothing(workspace):
    api_key, secret = create_api_key(workspace=workspace, name="CRM")
    assert revoke_api_key(api_key) is True
    assert revoke_api_key(api_key) is False
    assert api_key_for_secret(secret) is None
    assert api_key_for_credentials(api_key.key_id, secret) is None


def test_last_use_is_written_at_most_once_a_minute(workspace, django_assert_num_queries):
    _, secret = create_api_key(workspace=workspace, name="CRM")
    with django_assert_num_queries(2):
        used = api_key_for_secret(secret)
    assert used.last_used_at is not None
    with django_assert_num_queries(1):
        api_key_for_secret(secret)


def test_the_command_prints_an_id_and_a_secret_that_work(workspace, other_workspace):
    out = StringIO()
    call_command("create_api_key", "--name", "curl", stdout=out)
    key_id = re.search(r"^id: (\S+)$", out.getvalue(), re.M).group(1)
    secret = re.search(r"^secret: (\S+)$", out.getvalue(), re.M).group(1)
    api_key = api_key_for_credentials(key_id, secret)
    assert (api_key.name, api_key.workspace) == ("curl", workspace)

    out = StringIO()
    call_command("create_api_key", "--workspace", other_workspace.slug, "--name", "x", stdout=out)
    secret = re.search(r"^secret: (\S+)$", out.getvalue(), re.M).group(1)
    assert api_key_for_secret(secret).workspace == other_workspace
    out = StringIO()
    call_command(
        "create_api_key", "--workspace", str(other_workspace.pk), "--name", "y", stdout=out
    )
    assert f"id {other_workspace.pk}" in out.getvalue()


def test_the_command_refuses_an_unknown_workspace(db):
    with pytest.raises(CommandError, match="nope"):
        call_command("create_api_key", "--workspace", "nope", "--name", "x", stdout=StringIO())


# Admin ---------------------------------------------------------------------------


def test_the_admin_creates_a_key_and_shows_its_secret_once(admin_client, workspace):
    response = admin_client.post(
        "/admin/workspaces/apikey/add/",
        {"workspace": workspace.pk, "name": "From the admin"},
        follow=True,
    )
    assert response.status_code == 200
    api_key = ApiKey.objects.get(name="From the admin")
    assert api_key.created_by.is_superuser
    page = response.content.decode()
    secret = re.search(r'id="api-key-secret">([A-Za-z0-9_-]+)<', page).group(1)
    assert api_key_for_credentials(api_key.key_id, secret) == api_key
    # Shown once: the next look at the key has its id and prefix, not the secret.
    again = admin_client.get(f"/admin/workspaces/apikey/{api_key.pk}/change/").content.decode()
    assert api_key.key_id in again and api_key.secret_prefix in again
    assert secret not in again
    assert secret not in admin_client.get("/admin/workspaces/apikey/").content.decode()


def test_the_admin_revokes_keys(admin_client, workspace):
    api_key, secret = create_api_key(workspace=workspace, name="old")
    response = admin_client.post(
        "/admin/workspaces/apikey/",
        {"action": "revoke", "_selected_action": [api_key.pk]},
    )
    assert response.status_code == 302
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert api_key_for_secret(secret) is None


def test_the_admin_edits_workspaces_but_keeps_the_default(admin_client, workspace):
    response = admin_client.post(
        "/admin/workspaces/workspace/add/",
        {
            "name": "Acme",
            "slug": "acme",
            "api_keys-TOTAL_FORMS": "0",
            "api_keys-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Workspace.objects.filter(slug="acme").exists()
    delete = admin_client.get(f"/admin/workspaces/workspace/{workspace.pk}/delete/")
    assert delete.status_code == 403
    page = admin_client.get(f"/admin/workspaces/workspace/{workspace.pk}/change/")
    assert page.status_code == 200
