"""ASGI entry point: HTTP through Django, WebSocket through Channels.

daphne and uvicorn both serve `chatproject.asgi:application`. Sockets from
an Origin not in ALLOWED_HOSTS are refused; a socket is authenticated by the
session cookie (browsers) or an `Authorization` token header (API clients).
"""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatproject.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from realtime.handshake import OriginCheckMiddleware, TokenAuthMiddleware  # noqa: E402
from realtime.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": OriginCheckMiddleware(
            AuthMiddlewareStack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)

# Everything loaded so far (Django, DRF, Channels, the project: hundreds of
# thousands of objects) lives as long as the process: moved out of the cyclic
# garbage collector's reach, a full collection stops scanning it. Those scans
# stalled every socket of the process for 50-250 ms now and then, the tail
# of the fan-out latency (docs/performance.md).
gc.freeze()
