"""chatproject.asgi's HTTP handler: the request's sync work in one hop to its
thread, a plain response closed before it is sent, a streamed one after."""

import asyncio
import json
import threading

import pytest
from django.core import signals
from django.http import HttpResponse, StreamingHttpResponse
from django.test import override_settings
from django.urls import path

from chatproject.asgi import django_asgi_app

events: list[tuple[str, int]] = []
# The name of each view's thread: unique per thread started, where an
# ident can be handed again to a thread started after another has ended.
view_thread_names: list[str] = []


def plain_view(request):
    events.append(("view", threading.get_ident()))
    view_thread_names.append(threading.current_thread().name)
    return HttpResponse(b"plain", content_type="text/plain")


def streamed_view(request):
    events.append(("view", threading.get_ident()))
    return StreamingHttpResponse(iter([b"first ", b"second"]), content_type="text/plain")


def failing_view(request):
    raise RuntimeError("a bug")


# Two requests that each wait for the other in their view: they finish only
# when each runs in a thread of its own.
both_in_view = threading.Barrier(2, timeout=10)


def meeting_view(request):
    events.append(("view", threading.get_ident()))
    view_thread_names.append(threading.current_thread().name)
    both_in_view.wait()
    return HttpResponse(b"met", content_type="text/plain")


urlpatterns = [
    path("plain", plain_view),
    path("streamed", streamed_view),
    path("api/failing", failing_view),
    path("meeting", meeting_view),
]


@pytest.fixture
def recorded():
    """The request signals and the view in `events`, with the thread each ran in."""
    events.clear()
    view_thread_names.clear()

    def started(**kwargs):
        events.append(("request_started", threading.get_ident()))

    def finished(**kwargs):
        events.append(("request_finished", threading.get_ident()))

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    yield events
    signals.request_started.disconnect(started)
    signals.request_finished.disconnect(finished)


async def serve(request_path: str) -> list[dict]:
    """The ASGI messages the handler sends for a GET of `request_path`, also
    noted in `events` (with the loop's thread) as they go out."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": request_path,
        "raw_path": request_path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict] = []
    requested = False

    async def receive():
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client stays connected

    async def send(message):
        events.append((message["type"], threading.get_ident()))
        sent.append(message)

    await django_asgi_app(scope, receive, send)
    return sent


def body_of(sent: list[dict]) -> bytes:
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


@override_settings(ROOT_URLCONF=__name__)
async def test_a_plain_response_is_made_and_closed_in_one_hop_then_sent(recorded):
    sent = await serve("/plain")

    assert sent[0]["status"] == 200
    assert body_of(sent) == b"plain"
    names = [name for name, _ in recorded]
    assert names == [
        "request_started",
        "view",
        "request_finished",
        "http.response.start",
        "http.response.body",
    ]
    request_threads = {thread for name, thread in recorded if not name.startswith("http.")}
    assert len(request_threads) == 1
    assert request_threads != {threading.get_ident()}  # not the event loop's


@override_settings(ROOT_URLCONF=__name__)
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators")
async def test_a_streamed_response_is_closed_after_it_is_sent(recorded):
    sent = await serve("/streamed")

    assert sent[0]["status"] == 200
    assert body_of(sent) == b"first second"
    names = [name for name, _ in recorded]
    assert names[:3] == ["request_started", "view", "http.response.start"]
    assert names[-1] == "request_finished"
    assert names.index("request_finished") > max(
        index for index, name in enumerate(names) if name == "http.response.body"
    )


@override_settings(ROOT_URLCONF=__name__)
async def test_the_middleware_still_answers_an_api_exception_with_the_envelope(recorded):
    sent = await serve("/api/failing")

    assert sent[0]["status"] == 500
    headers = dict(sent[0]["headers"])
    assert headers[b"Content-Type"] == b"application/json"
    assert b"X-Request-ID" in headers
    assert json.loads(body_of(sent))["error"]["code"] == "internal_error"


@override_settings(ROOT_URLCONF=__name__)
async def test_requests_one_after_another_are_served_by_one_thread(recorded):
    """The thread of a request that has ended serves the next one (no thread
    started and stopped per request)."""
    for _ in range(3):
        assert body_of(await serve("/plain")) == b"plain"
    assert len(view_thread_names) == 3 and len(set(view_thread_names)) == 1


@override_settings(ROOT_URLCONF=__name__)
async def test_requests_at_once_each_have_a_thread(recorded):
    both_in_view.reset()
    first, second = await asyncio.gather(serve("/meeting"), serve("/meeting"))
    assert body_of(first) == body_of(second) == b"met"
    assert len(set(view_thread_names)) == 2
