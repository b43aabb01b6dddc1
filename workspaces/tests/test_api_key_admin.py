"""The admin's "API keys -> Add" shows the new secret in the response body
only (issue 10, item 12): never in Django's messages cookie (signed, not
encrypted), the session, or a cache."""

from django.contrib.messages import get_messages

from workspaces.models import ApiKey, Workspace
from workspaces.services import api_key_for_credentials


def test_the_new_secret_is_in_the_body_and_in_no_cookie(admin_client, db):
    workspace = Workspace.objects.default()

    response = admin_client.post(
        "/admin/workspaces/apikey/add/", {"workspace": workspace.pk, "name": "CRM"}
    )

    assert response.status_code == 200
    api_key = ApiKey.objects.get(name="CRM")
    secret = response.context["secret"]
    assert api_key_for_credentials(api_key.key_id, secret) == api_key
    body = response.content.decode()
    assert secret in body and api_key.key_id in body
    assert "no-store" in response["Cache-Control"]
    assert all(secret not in morsel.OutputString() for morsel in response.cookies.values())
    assert "messages" not in response.cookies
    assert all(secret not in str(value) for value in admin_client.session.values())
    assert not any(secret in str(message) for message in get_messages(response.wsgi_request))
    # Shown once: the key's own page and the list have its id and prefix only.
    again = admin_client.get(f"/admin/workspaces/apikey/{api_key.pk}/change/").content.decode()
    assert api_key.secret_prefix in again and secret not in again
    assert secret not in admin_client.get("/admin/workspaces/apikey/").content.decode()


def test_save_and_add_another_also_shows_the_secret_once(admin_client, db):
    workspace = Workspace.objects.default()
    response = admin_client.post(
        "/admin/workspaces/apikey/add/",
        {"workspace": workspace.pk, "name": "Bot", "_addanother": "Save and add another"},
    )
    assert response.status_code == 200
    assert response.context["secret"] in response.content.decode()
    assert "messages" not in response.cookies
