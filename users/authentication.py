from rest_framework import authentication, exceptions

from chatproject import keys
from users.services import user_for_token_key

TOKEN_KEYWORDS = ("token", "bearer")


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token <key>` or `Authorization: Bearer <key>`."""

    keyword = "Bearer"

    def authenticate(self, request):
        try:
            key = keys.authorization_credential(
                authentication.get_authorization_header(request), TOKEN_KEYWORDS
            )
        except keys.MalformedAuthorization as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from exc
        if key is None:
            return None
        found = user_for_token_key(key)
        if found is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return found

    def authenticate_header(self, request) -> str:
        return self.keyword
