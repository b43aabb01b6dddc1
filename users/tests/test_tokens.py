"""API tokens: listed, revoked and rotated by their owner, over the API
(GET /api/auth/tokens, DELETE /api/auth/tokens/{id}, POST /api/auth/token/rotate)
and on the page /accounts/tokens/."""

import re

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.support.api import assert_error
from tests.support.factories import TEST_PASSWORD, UserFactory
from users import services
from users.credentials import SocketCredential
from users.models import ApiToken

TOKEN_FIELDS = {"id", "name", "prefix", "createdAt", "lastUsedAt", "revokedAt"}


def bearer(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def authenticates(key: str) -> bool:
    return bearer(key).get("/api/users/me").status_code == 200


@pytest.fixture
def laptop(user):
    """The user's token named "laptop" and its key."""
    return services.issue_token(user, name="laptop")


# GET /api/auth/tokens -------------------------------------------------------------


def test_list_shows_my_tokens_newest_first_and_never_a_key(user, other_user, laptop):
    token, key = laptop
    phone, phone_key = services.issue_token(user, name="phone")
    services.revoke_token(phone)
    _, others_key = services.issue_token(other_user, name="theirs")
    response = bearer(key).get("/api/auth/tokens")
    assert response.status_code == 200
    body = response.json()
    assert [t["name"] for t in body] == ["phone", "laptop"]
    assert all(set(t) == TOKEN_FIELDS for t in body)
    assert body[0]["revokedAt"] is not None and body[1]["revokedAt"] is None
    assert body[1] == {
        "id": str(token.pk),
        "name": "laptop",
        "prefix": key[:8],
        "createdAt": body[1]["createdAt"],
        "lastUsedAt": body[1]["lastUsedAt"],
        "revokedAt": None,
    }
    assert body[1]["lastUsedAt"] is not None  # this very request used it
    content = response.content.decode()
    for secret in (key, phone_key, token.key_hash, others_key):
        assert secret not in content


def test_list_needs_a_signed_in_user(db):
    assert_error(APIClient().get("/api/auth/tokens"), 401)


# DELETE /api/auth/tokens/{id} -------------------------------------------------------


def test_revoking_one_of_my_tokens_stops_it_at_once(user, laptop):
    token, key = laptop
    _, other_key = services.issue_token(user, name="other")
    response = bearer(other_key).delete(f"/api/auth/tokens/{token.pk}")
    assert response.status_code == 200
    assert response.json()["id"] == str(token.pk)
    assert response.json()["revokedAt"] is not None
    assert not authenticates(key)
    assert authenticates(other_key)


def test_revoking_twice_keeps_the_first_revocation(user, laptop):
    token, _ = laptop
    client = bearer(services.issue_token(user)[1])
    first = client.delete(f"/api/auth/tokens/{token.pk}").json()["revokedAt"]
    second = client.delete(f"/api/auth/tokens/{token.pk}")
    assert second.status_code == 200
    assert second.json()["revokedAt"] == first


def test_revoking_the_token_of_the_request_signs_it_out(laptop):
    token, key = laptop
    assert bearer(key).delete(f"/api/auth/tokens/{token.pk}").status_code == 200
    assert_error(bearer(key).get("/api/auth/tokens"), 401)


def test_someone_elses_token_is_not_found_and_stays_valid(other_user, laptop):
    token, key = laptop
    intruder = bearer(services.issue_token(other_user)[1])
    assert_error(intruder.delete(f"/api/auth/tokens/{token.pk}"), 404, "not_found")
    assert_error(intruder.delete("/api/auth/tokens/999999999"), 404, "not_found")
    token.refresh_from_db()
    assert token.revoked_at is None
    assert authenticates(key)


# POST /api/auth/token/rotate ----------------------------------------------------------


def test_rotation_replaces_the_token_of_the_request(user, laptop):
    token, key = laptop
    response = bearer(key).post("/api/auth/token/rotate")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "tokenPrefix", "user"}
    assert body["user"]["id"] == str(user.pk)
    new_key = body["token"]
    assert new_key != key and body["tokenPrefix"] == new_key[:8]
    assert not authenticates(key)
    assert authenticates(new_key)
    token.refresh_from_db()
    assert token.revoked_at is not None
    successor = ApiToken.objects.get(prefix=new_key[:8], user=user)
    assert successor.name == "laptop" and successor.revoked_at is None


def test_rotation_leaves_my_other_tokens_alone(user, laptop):
    _, key = laptop
    _, phone_key = services.issue_token(user, name="phone")
    assert bearer(key).post("/api/auth/token/rotate").status_code == 200
    assert authenticates(phone_key)


def test_rotation_with_a_session_is_a_400_that_explains(user):
    client = APIClient()
    assert client.login(username=user.username, password=TEST_PASSWORD)
    error = assert_error(client.post("/api/auth/token/rotate"), 400, "bad_request")
    assert "Authorization: Bearer" in error["message"]
    assert not ApiToken.objects.filter(user=user).exists()


def test_rotation_needs_a_signed_in_user(db):
    assert_error(APIClient().post("/api/auth/token/rotate"), 401)


def test_a_revoked_token_cannot_be_rotated(laptop):
    token, key = laptop
    services.revoke_token(token)
    assert_error(bearer(key).post("/api/auth/token/rotate"), 401)


def test_a_token_gets_one_successor_however_often_it_is_rotated(laptop):
    token, _ = laptop
    assert services.rotate_token(token) is not None
    assert services.rotate_token(token) is None  # e.g. a concurrent rotation that lost
    assert ApiToken.objects.filter(revoked_at__isnull=True).count() == 1


# The page /accounts/tokens/ -------------------------------------------------------------


@pytest.fixture
def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_page_needs_a_signed_in_user(db):
    response = Client().get("/accounts/tokens/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_site_header_links_to_the_page(browser):
    assert 'href="/accounts/tokens/"' in browser.get("/").content.decode()


def test_the_page_lists_my_tokens_only(browser, other_user, laptop):
    token, key = laptop
    services.issue_token(other_user, name="not-mine")
    html = browser.get("/accounts/tokens/").content.decode()
    assert "laptop" in html and key[:8] in html
    assert key not in html
    assert "not-mine" not in html
    assert f'name="revoke" value="{token.pk}"' in html


def test_creating_a_token_shows_its_key_once(browser, user):
    response = browser.post("/accounts/tokens/", {"name": "script"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    match = re.search(r'id="new-token-key" value="([^"]+)"', response.content.decode())
    assert match, "the new key is not shown"
    key = match.group(1)
    assert authenticates(key)
    assert ApiToken.objects.get(user=user).name == "script"
    again = browser.get("/accounts/tokens/").content.decode()
    assert key not in again and "new-token-key" not in again


def test_revoking_from_the_page(browser, laptop):
    token, key = laptop
    response = browser.post("/accounts/tokens/", {"revoke": str(token.pk)})
    assert response.status_code == 302 and response["Location"] == "/accounts/tokens/"
    assert not authenticates(key)
    html = browser.get("/accounts/tokens/").content.decode()
    assert f'name="revoke" value="{token.pk}"' not in html
    assert "revoked" in html


@pytest.mark.parametrize("token_id", ["999999999", "abc", "²", ""])
def test_revoking_someone_elses_or_no_token_from_the_page_is_a_404(browser, token_id):
    assert browser.post("/accounts/tokens/", {"revoke": token_id}).status_code == 404


def test_revoking_someone_elses_token_from_the_page_is_a_404(browser, other_user):
    token, key = services.issue_token(other_user)
    assert browser.post("/accounts/tokens/", {"revoke": str(token.pk)}).status_code == 404
    assert authenticates(key)


def test_the_page_forms_need_the_csrf_token(user, laptop):
    token, key = laptop
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post("/accounts/tokens/", {"revoke": str(token.pk)}).status_code == 403
    assert client.post("/accounts/tokens/", {"name": "x"}).status_code == 403
    assert authenticates(key)
    assert ApiToken.objects.filter(user=user).count() == 1


def test_a_token_name_is_shown_as_text(browser, user):
    services.issue_token(user, name="<script>alert(1)</script>")
    html = browser.get("/accounts/tokens/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_token_made_on_the_page_can_be_listed_and_revoked_over_the_api(browser, user):
    html = browser.post("/accounts/tokens/", {"name": "cli"}).content.decode()
    key = re.search(r'id="new-token-key" value="([^"]+)"', html).group(1)
    listed = bearer(key).get("/api/auth/tokens").json()
    assert [t["name"] for t in listed] == ["cli"]
    other = UserFactory()
    assert_error(
        bearer(services.issue_token(other)[1]).delete(f"/api/auth/tokens/{listed[0]['id']}"), 404
    )


# A token socket's credential, read for each frame (users.credentials) ---------------


def test_a_token_credential_holds_while_the_token_and_its_user_do(user, other_user, laptop):
    token, _ = laptop
    credential = SocketCredential(user_id=user.pk, token_id=token.pk)
    assert credential.is_valid()
    assert not SocketCredential(user_id=other_user.pk, token_id=token.pk).is_valid()
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert not credential.is_valid()
    user.is_active = True
    user.save(update_fields=["is_active"])
    assert credential.is_valid()
    services.revoke_token(token)
    assert not credential.is_valid()
