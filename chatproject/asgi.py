"""ASGI entry point: HTTP through Django, WebSocket through Channels.

daphne and uvicorn both serve `chatproject.asgi:application`. Sockets from
an Origin not in ALLOWED_HOSTS are refused; a socket is authenticated by the
session cookie (browsers) or an `Authorization` token header (API clients).
"""

import asyncio
import contextlib
import gc
import itertools
import os
from concurrent.futures import ThreadPoolExecutor

import django
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse
from django.http.response import HttpResponseBase
from django.urls import set_script_prefix

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatproject.settings")
django.setup(set_prefix=False)


# Request threads kept for the next requests: as many as a process serves at
# once under load (the REST benchmark's 16 clients), more are started and
# stopped as needed.
IDLE_REQUEST_THREADS = 32


class OneHopASGIHandler(ASGIHandler):
    """Django's ASGI handler, with each request served in one hop to a sync
    thread.

    Every view and middleware of this project is synchronous. Django's
    async-mode chain around sync middleware hands a request from the event
    loop to a thread (request_started), to the thread again (the middleware),
    back to the loop (the inner handler), to the thread (the view) and to it
    once more (the response's close): five hand-offs, most of the loop's time
    per request (docs/performance.md "REST send"). Here the sync chain, as
    under WSGI, runs with the request_started signal and, for a response that
    is not streamed, its close (request_finished: the database connection
    goes back to the pool before the bytes go out) in one `sync_to_async`
    call, in the request's own thread as before (`ThreadSensitiveContext`).
    A streamed response (a file download) is sent as Django sends it, given
    up when the client disconnects, and closed after in a second hop.

    Each request's thread is one that served an earlier request and is idle
    now, instead of a thread started for it and stopped after it (Django's
    `ThreadSensitiveContext()` per request): starting and joining it was half
    the cost of the hop (docs/performance.md "History pages"). At most
    IDLE_REQUEST_THREADS wait between requests; one request at a time runs in
    each. Nothing of a request stays in its thread: the database connection
    goes back to the pool at request_finished, and Django keeps what else is
    per request (the language, the time zone, the URL prefix) in the
    request's context, not in the thread. A task a request starts must not
    call into its thread after the request ends (asgiref refuses it): the
    bus starts its publisher in a context of its own (chatproject.bus)."""

    def __init__(self) -> None:
        super().__init__()
        self.idle_executors: list[ThreadPoolExecutor] = []
        self.executors_started = itertools.count(1)

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django serves HTTP here, not {scope['type']}.")
        if self.idle_executors:
            executor = self.idle_executors.pop()
        else:
            executor = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix=f"request-{next(self.executors_started)}"
            )
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            if len(self.idle_executors) < IDLE_REQUEST_THREADS:
                self.idle_executors.append(executor)
            else:
                executor.shutdown(wait=False)

    async def handle(self, scope, receive, send) -> None:
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            response = await sync_to_async(self.serve, thread_sensitive=True)(scope, body_file)
            if response.streaming:
                await self.stream(response, receive, send)
                await sync_to_async(response.close, thread_sensitive=True)()
            else:
                await self.send_response(response, send)
        finally:
            body_file.close()

    def serve(self, scope, body_file) -> HttpResponseBase:
        """In the request's thread: the response, closed unless it is streamed."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.get_response(request)
            response._handler_class = self.__class__
            if isinstance(response, FileResponse):
                response.block_size = self.chunk_size
        if not response.streaming:
            response.close()
        return response

    async def stream(self, response: HttpResponseBase, receive, send) -> None:
        """send_response for a streamed response, cancelled if the client
        disconnects first (as Django's handler does)."""
        sending = asyncio.create_task(self.send_response(response, send))
        listening = asyncio.create_task(self.listen_for_disconnect(receive))
        await asyncio.wait([sending, listening], return_when=asyncio.FIRST_COMPLETED)
        for task in (listening, sending):
            if not task.done():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, RequestAborted):
                await task


django_asgi_app = OneHopASGIHandler()

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
