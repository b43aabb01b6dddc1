"""WebSocket authentication for API clients: `Authorization: Bearer <key>`
(or `Token <key>`) on the handshake. Browsers use the session cookie, which
channels' AuthMiddlewareStack (outside this middleware) has already read."""

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import AllowedHostsOriginValidator

from users.authentication import TOKEN_KEYWORDS
from users.services import user_for_token_key


@database_sync_to_async
def user_for_key(key: str):
    found = user_for_token_key(key)
    return found[0] if found else None


class TokenAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers", []))
        authorization = headers.get(b"authorization", b"").decode("latin-1").split()
        if len(authorization) == 2 and authorization[0].lower() in TOKEN_KEYWORDS:
            user = await user_for_key(authorization[1])
            scope = dict(scope, user=user, auth_failed=user is None)
        return await super().__call__(scope, receive, send)


class OriginCheckMiddleware:
    """Refuses sockets from an Origin outside ALLOWED_HOSTS (cross-site
    WebSocket hijacking rides on the session cookie). A client that sends no
    Origin at all is not a browser; it may connect only with a token header."""

    def __init__(self, application):
        self.application = application
        self.checked = AllowedHostsOriginValidator(application)

    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers", []))
        if b"origin" not in headers and b"authorization" in headers:
            return await self.application(scope, receive, send)
        return await self.checked(scope, receive, send)
