"""The socket handshake: who may open /ws/chat/, and as whom.

API clients authenticate with `Authorization: Bearer <key>` (or `Token
<key>`); browsers with the session cookie, which channels'
AuthMiddlewareStack (inside the Origin check, outside the token middleware)
has already read. The token used is kept in the scope (`auth_token_id`), so
that revoking it closes the socket (users.credentials).
"""

from urllib.parse import urlsplit

from channels.middleware import BaseMiddleware
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

from chatproject import keys
from realtime.presence import Batched
from users.authentication import TOKEN_KEYWORDS
from users.services import users_for_token_keys


def token_key(headers: dict[bytes, bytes]) -> str | None:
    """The key of an `Authorization: Bearer|Token <key>` header, else None
    (a malformed one is no token: the socket is then a browser's, and needs
    its Origin)."""
    try:
        return keys.authorization_credential(headers.get(b"authorization", b""), TOKEN_KEYWORDS)
    except keys.MalformedAuthorization:
        return None


def token_holders(token_keys: list[str]) -> list[tuple[object, int] | None]:
    """The user and token id of each key (None: no such active token)."""
    return [
        (found[0], found[1].pk) if found else None for found in users_for_token_keys(token_keys)
    ]


# The keys of the handshakes that arrive together are looked up together.
token_holder = Batched(token_holders)


class TokenAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        key = token_key(dict(scope.get("headers", [])))
        if key is not None:
            found = await token_holder(key)
            user, token_id = found if found else (None, None)
            scope = dict(scope, user=user, auth_token_id=token_id, auth_failed=found is None)
        return await super().__call__(scope, receive, send)


def own_origin(scope, headers: dict[bytes, bytes]) -> str | None:
    """`scheme://host[:port]` of the handshake itself, as a browser on this
    site sends it in Origin; None when the Host is not one of ALLOWED_HOSTS.
    Behind a TLS proxy the scheme comes from SECURE_PROXY_SSL_HEADER, as
    for Django's own CSRF Origin check."""
    host = headers.get(b"host", b"").decode("latin-1")
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    secure = scope.get("scheme") in ("wss", "https")
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy_header:
        name, value = proxy_header
        wire_name = name.removeprefix("HTTP_").lower().replace("_", "-").encode("latin-1")
        secure = secure or headers.get(wire_name, b"").decode("latin-1") == value
    return f"{'https' if secure else 'http'}://{host}"


def origin_allowed(scope, headers: dict[bytes, bytes]) -> bool:
    """The Origin is this site (scheme, host and port all equal) or one of
    CSRF_TRUSTED_ORIGINS: the cookie rides on cross-site sockets otherwise."""
    origin = headers.get(b"origin", b"").decode("latin-1").lower()
    parts = urlsplit(origin)
    if not parts.scheme or not parts.netloc:
        return False
    trusted = {entry.lower().rstrip("/") for entry in settings.CSRF_TRUSTED_ORIGINS}
    own = own_origin(scope, headers)
    return origin in trusted or (own is not None and origin == own.lower())


class OriginCheckMiddleware:
    """Refuses sockets from any Origin but this site's (cross-site WebSocket
    hijacking rides on the session cookie). A client that sends no Origin is
    not a browser: it may connect only with a token (a valid one, or the
    socket closes with 4401), never with the cookie."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers", []))
        if b"origin" not in headers and token_key(headers) is not None:
            return await self.application(scope, receive, send)
        if origin_allowed(scope, headers):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)  # the handshake gets 403
