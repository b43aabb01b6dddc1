"""Writes to workspaces and API keys, and the API key checks of the compat
endpoints. The admin and the create_api_key command call these."""

import hmac

from django.db import transaction

from chatproject import keys
from users.models import User
from workspaces.models import ApiKey, Workspace


@transaction.atomic
def save_workspace(workspace: Workspace) -> Workspace:
    """Create or update a workspace (validated: a unique slug)."""
    workspace.full_clean()
    workspace.save()
    return workspace


def create_workspace(*, name: str, slug: str) -> Workspace:
    return save_workspace(Workspace(name=name, slug=slug))


def default_workspace() -> Workspace:
    """The default workspace (created again if it is gone: Workspace.objects.default)."""
    return Workspace.objects.default()


def create_api_key(
    *, workspace: Workspace, name: str, created_by: User | None = None
) -> tuple[ApiKey, str]:
    """A new key for the workspace. Returns (key, secret): the secret is
    returned once and never stored."""
    secret = keys.new_secret()
    api_key = ApiKey(
        workspace=workspace,
        name=name,
        key_id=ApiKey.generate_key_id(),
        secret_hash=keys.hash_secret(secret),
        secret_prefix=keys.prefix_of(secret),
        created_by=created_by,
    )
    api_key.full_clean()
    api_key.save()
    return api_key, secret


def revoke_api_key(api_key: ApiKey) -> bool:
    """Revoke the key (from now on it authenticates nothing); False if it already was."""
    return keys.revoke(api_key)


def active_keys():
    return ApiKey.objects.select_related("workspace").filter(revoked_at__isnull=True)


def api_key_for_secret(secret: str) -> ApiKey | None:
    """The active key with this secret (Bearer and x-api-key authentication)."""
    if not secret:
        return None
    api_key = active_keys().filter(secret_hash=keys.hash_secret(secret)).first()
    if api_key is not None:
        keys.stamp_last_used(api_key)
    return api_key


def api_key_for_credentials(key_id: str, secret: str) -> ApiKey | None:
    """The active key with this id, if the secret is its secret (seed 001's
    asapp-api-id and asapp-api-secret). The hashes are compared in constant time."""
    if not key_id or not secret:
        return None
    api_key = active_keys().filter(key_id=key_id).first()
    if api_key is None or not hmac.compare_digest(api_key.secret_hash, keys.hash_secret(secret)):
        return None
    keys.stamp_last_used(api_key)
    return api_key
