"""Driving the chat socket through the whole ASGI stack with channels'
WebsocketCommunicator: handshakes of a browser (session cookie and Origin)
or an API client (token), a barrier that waits for everything sent before,
frame reads bounded in time, and the database calls a socket test makes.

Each helper takes the test's `sockets` list (the fixture in
realtime/tests/conftest.py), which closes what is still open afterwards."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from chatproject.asgi import application
from conversations.models import Conversation
from messaging.models import Message
from messaging.services import send_message
from tests.support.factories import ConversationFactory, UserFactory
from users.models import User
from users.services import issue_token

# A browser on this site: its Origin is the handshake's own scheme, host and port.
HOST = (b"host", b"localhost")
ORIGIN = (b"origin", b"http://localhost")
TIMEOUT = 2
QUIET = 0.3
BARRIER = "test.barrier"


@database_sync_to_async
def make_user(**kwargs) -> User:
    return UserFactory(**kwargs)


@database_sync_to_async
def make_conversation(*members, kind=Conversation.Kind.DIRECT) -> Conversation:
    return ConversationFactory(members=list(members), kind=kind)


async def token_headers(user, keyword: str = "Bearer") -> list[tuple[bytes, bytes]]:
    _, key = await database_sync_to_async(issue_token)(user)
    return [(b"authorization", f"{keyword} {key}".encode())]


def browser_headers(browser: Client) -> list[tuple[bytes, bytes]]:
    """The handshake of the browser `browser` stands for: its session cookie
    and our own Origin."""
    cookie = f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"
    return [HOST, ORIGIN, (b"cookie", cookie.encode())]


async def session_headers(user) -> list[tuple[bytes, bytes]]:
    """A browser's handshake: a logged-in session cookie and our own Origin."""

    def login() -> Client:
        client = Client()
        client.force_login(user)
        return client

    return browser_headers(await database_sync_to_async(login)())


async def connect_raw(sockets: list, headers: list) -> tuple[WebsocketCommunicator, bool]:
    communicator = WebsocketCommunicator(application, "/ws/chat/", headers=headers)
    sockets.append(communicator)
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    return communicator, connected


async def open_socket(
    sockets: list, user, *, auth: str = "bearer", settle: bool = True
) -> WebsocketCommunicator:
    if auth == "session":
        headers = await session_headers(user)
    else:
        headers = await token_headers(user, "Token" if auth == "token" else "Bearer")
    communicator, connected = await connect_raw(sockets, headers)
    assert connected, f"the {auth} socket of {user} was refused"
    if settle:
        await barrier(communicator)
    return communicator


async def barrier(communicator: WebsocketCommunicator) -> list[dict]:
    """Round-trip a frame the server answers with an error, so that
    everything the server sent before (the presence frames of connect) has
    arrived; returns those frames, which must all be presence frames."""
    await communicator.send_json_to({"type": BARRIER})
    reply, skipped = await receive_until(communicator, "error")
    assert reply["frameType"] == BARRIER, reply
    assert {frame["type"] for frame in skipped} <= {"presence"}, skipped
    return skipped


async def settle(*communicators: WebsocketCommunicator) -> None:
    for communicator in communicators:
        await barrier(communicator)


async def receive_until(
    communicator: WebsocketCommunicator, frame_type: str, timeout: float = TIMEOUT
) -> tuple[dict, list[dict]]:
    """Read frames until one of `frame_type`; returns it and the frames before it."""
    skipped: list[dict] = []
    try:
        while True:
            frame = await communicator.receive_json_from(timeout=timeout)
            if frame["type"] == frame_type:
                return frame, skipped
            skipped.append(frame)
    except TimeoutError:
        pytest.fail(f"no {frame_type!r} frame within {timeout}s; got {skipped}")


async def next_frame(communicator: WebsocketCommunicator) -> dict:
    return await communicator.receive_json_from(timeout=TIMEOUT)


async def assert_silent(*communicators: WebsocketCommunicator) -> None:
    for communicator in communicators:
        assert await communicator.receive_nothing(timeout=QUIET), await next_frame(communicator)


async def assert_closed_with(communicator: WebsocketCommunicator, code: int) -> None:
    output = await communicator.receive_output(timeout=TIMEOUT)
    assert output["type"] == "websocket.close", output
    assert output.get("code") == code, output


def send_frame(conversation, text: str, client_message_id: str | None = None) -> dict:
    frame = {"type": "message.send", "conversationId": str(conversation.pk), "text": text}
    if client_message_id is not None:
        frame["clientMessageId"] = client_message_id
    return frame


@database_sync_to_async
def stored_texts(conversation) -> list[str]:
    return list(
        Message.objects.filter(conversation=conversation)
        .order_by("seq")
        .values_list("text", flat=True)
    )


@database_sync_to_async
def service_send(sender, conversation, text: str) -> Message:
    """A message sent through messaging.services.send_message (a test's setup)."""
    return send_message(sender=sender, conversation=conversation, text=text)[0]
