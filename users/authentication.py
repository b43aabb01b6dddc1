from rest_framework import authentication, exceptions

from chatproject import keys
from users.services import user_for_token_key

TOKEN_KEYWORDS = ("token", "bearer")


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token <key>` or `Authorization: Bearer <key>`.

    A view with a `token_annotations(request)` method has the expressions it
    returns read with the token (user_for_token_key's `annotations`), as
    attributes of `request.auth`: one query for who the user is and what the
    view needs to know about them (messaging.api's history: the membership)."""

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
        view = (request.parser_context or {}).get("view")
        annotations = (
            view.token_annotations(request) if hasattr(view, "token_annotations") else None
        )
        found = user_for_token_key(key, annotations=annotations)
        if found is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return found

    def authenticate_header(self, request) -> str:
        return self.keyword
