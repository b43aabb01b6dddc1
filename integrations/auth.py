"""How the seed endpoints authenticate: with a workspace's API key
(workspaces.ApiKey), presented the way each product documents it.

- seed 001: `asapp-api-id` (the key's id) and `asapp-api-secret` (its secret);
- seeds 002 and 003: `Authorization: Bearer <secret>`;
- seed 004: `x-api-key: <secret>` (with the caller's user in `userId`,
  checked by the view).

A key reads the conversations of its own workspace. `request.user` is an
ApiKeyPrincipal: authenticated, but not a chat user. User tokens
(users.ApiToken) do not work here, and API keys do not work on /api/.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from chatproject import keys
from workspaces import services as workspace_services
from workspaces.models import ApiKey


class ApiKeyPrincipal:
    """request.user of a request made with an API key. Authenticated (so
    IsAuthenticated passes and throttles keyed on request.user.pk count one
    budget per key), never staff, and not a chat user."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key
        self.workspace = api_key.workspace
        self.pk = self.id = f"apikey:{api_key.pk}"

    def __str__(self) -> str:
        return f"API key {self.api_key.key_id}"


def authenticated(api_key: ApiKey | None, failure: str) -> tuple[ApiKeyPrincipal, ApiKey]:
    if api_key is None:
        raise exceptions.AuthenticationFailed(failure)
    return ApiKeyPrincipal(api_key), api_key


class AsappKeyAuthentication(authentication.BaseAuthentication):
    """Seed 001: the `asapp-api-id` and `asapp-api-secret` headers."""

    def authenticate(self, request):
        key_id = request.headers.get("asapp-api-id", "")
        secret = request.headers.get("asapp-api-secret", "")
        if not key_id and not secret:
            return None
        return authenticated(
            workspace_services.api_key_for_credentials(key_id, secret),
            "Unauthorized: unknown or revoked asapp-api-id, or a wrong asapp-api-secret.",
        )

    def authenticate_header(self, request) -> str:
        return 'ApiKey header="asapp-api-id, asapp-api-secret"'


class BearerKeyAuthentication(authentication.BaseAuthentication):
    """Seeds 002 and 003: `Authorization: Bearer <API key secret>`."""

    def authenticate(self, request):
        try:
            secret = keys.authorization_credential(
                authentication.get_authorization_header(request), ["bearer"]
            )
        except keys.MalformedAuthorization as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from exc
        if secret is None:
            return None
        return authenticated(
            workspace_services.api_key_for_secret(secret),
            "Invalid or revoked API token.",
        )

    def authenticate_header(self, request) -> str:
        return "Bearer"


class XApiKeyAuthentication(authentication.BaseAuthentication):
    """Seed 004: the `x-api-key` header. A missing or wrong key is a 403 (no
    WWW-Authenticate challenge), as that product documents it."""

    def authenticate(self, request):
        secret = request.headers.get("x-api-key", "")
        if not secret:
            return None
        return authenticated(workspace_services.api_key_for_secret(secret), "Invalid API key.")


# OpenAPI security schemes ------------------------------------------------------

KEY_HELP = "A workspace API key: create one in the admin or with `manage.py create_api_key`."


class AsappKeyScheme(OpenApiAuthenticationExtension):
    target_class = AsappKeyAuthentication
    name = ["asappApiId", "asappApiSecret"]

    def get_security_definition(self, auto_schema):
        return [
            {
                "type": "apiKey",
                "in": "header",
                "name": "asapp-api-id",
                "description": f"The API key's id. {KEY_HELP}",
            },
            {
                "type": "apiKey",
                "in": "header",
                "name": "asapp-api-secret",
                "description": "The API key's secret (shown once, when the key is created).",
            },
        ]


class BearerKeyScheme(OpenApiAuthenticationExtension):
    target_class = BearerKeyAuthentication
    name = "apiKeyBearer"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": f"`Authorization: Bearer <API key secret>`. {KEY_HELP}",
        }


class XApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = XApiKeyAuthentication
    name = "xApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "x-api-key",
            "description": f"The API key's secret. {KEY_HELP}",
        }
