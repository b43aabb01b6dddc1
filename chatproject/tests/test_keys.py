"""The one mechanism behind user tokens and workspace API keys, and the one
parser of the Authorization header (REST, the socket, the seed endpoints)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chatproject import keys
from tests.support.factories import UserFactory
from users.models import ApiToken
from users.services import issue_token
from workspaces.models import Workspace
from workspaces.services import create_api_key


@pytest.mark.parametrize(
    ("header", "found"),
    [
        ("Bearer abc", "abc"),
        (b"bearer abc", "abc"),
        ("TOKEN abc", "abc"),
        ("", None),
        ("Basic YWxpY2U6cGFzcw==", None),
    ],
)
def test_the_credential_of_a_known_scheme(header, found):
    assert keys.authorization_credential(header, ["bearer", "token"]) == found


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Bearer caf\u00e9"])
def test_a_known_scheme_without_one_ascii_credential_is_malformed(header):
    with pytest.raises(keys.MalformedAuthorization):
        keys.authorization_credential(header, ["bearer"])


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["token", "api key"])
def test_tokens_and_api_keys_share_hashing_revocation_and_last_used(kind):
    if kind == "token":
        credential, secret = issue_token(UserFactory())
        stored_hash, prefix = credential.key_hash, credential.prefix
    else:
        credential, secret = create_api_key(workspace=Workspace.objects.default(), name="k")
        stored_hash, prefix = credential.secret_hash, credential.secret_prefix
    assert stored_hash == keys.hash_secret(secret) and prefix == secret[: keys.PREFIX_LENGTH]

    keys.stamp_last_used(credential)
    first = credential.last_used_at
    keys.stamp_last_used(credential)
    assert credential.last_used_at == first  # at most once a minute
    type(credential).objects.filter(pk=credential.pk).update(
        last_used_at=first - timedelta(minutes=2)
    )
    credential.refresh_from_db()
    keys.stamp_last_used(credential)
    assert credential.last_used_at > first - timedelta(minutes=2)

    assert keys.revoke(credential) is True
    revoked_at = credential.revoked_at
    assert keys.revoke(credential) is False
    credential.refresh_from_db()
    assert credential.revoked_at == revoked_at <= timezone.now()


@pytest.mark.django_db
def test_a_revoked_token_stops_authenticating_at_once(client):
    token, key = issue_token(UserFactory())
    assert client.get("/api/users/me", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200
    keys.revoke(ApiToken.objects.get(pk=token.pk))
    assert client.get("/api/users/me", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 401
