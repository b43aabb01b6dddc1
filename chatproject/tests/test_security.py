"""Security: who may do what over REST and the socket (a matrix, one test per
cell), CSRF, the socket's Origin check, stored XSS, the production settings,
password hashing and what a database leak gives away about API tokens.

The rule the matrices assert (docs/api.md "Behaviour"): anonymous callers get 401
(a socket is closed with 4401); only members read or write a conversation,
anyone else gets 403 (404 where the thing is private to its owner, such as a
token); staff are no exception over the API: they moderate in the admin.
"""

import asyncio
import contextlib
import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.test import Client
from django.urls import resolve
from django.utils.html import escape
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from chatproject import bus
from chatproject import settings as project_settings
from chatproject.asgi import application
from chatproject.keys import hash_secret
from conversations.models import Conversation, Membership
from messaging.models import Attachment, Message, Reaction
from messaging.services import add_reaction, send_message, upload_attachment
from tests.support.api import assert_error, post_message
from tests.support.factories import TEST_PASSWORD, ConversationFactory, UserFactory
from tests.support.files import image_bytes, upload
from users.models import ApiToken, User
from users.services import issue_token

BASE_DIR = Path(__file__).resolve().parents[2]
ROLES = ["anonymous", "member", "non_member", "staff"]


# The REST matrix ----------------------------------------------------------------


@dataclass
class World:
    """member and peer share a direct conversation holding one message by
    member (with member's 👍 on it) and an image sent by peer; non_member is
    in none of it; staff is a superuser, also not a member."""

    users: dict[str, User]
    peer: User
    conversation: Conversation
    message: Message
    image: Attachment
    tokens: dict[str, ApiToken] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def member(self) -> User:
        return self.users["member"]

    def client(self, role: str) -> APIClient:
        client = APIClient()
        if role != "anonymous":
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.keys[role]}")
        return client

    def caller_id(self, role: str) -> str:
        """The caller's id (the member's for anonymous, who has none)."""
        return str(self.users.get(role, self.member).pk)


@pytest.fixture
def world(db) -> World:
    member, peer, non_member = UserFactory(), UserFactory(), UserFactory()
    staff = UserFactory(is_staff=True, is_superuser=True)
    conversation = ConversationFactory(members=[member, peer])
    message, _ = send_message(sender=member, conversation=conversation, text="original")
    add_reaction(user=member, message=message, emoji="👍")
    image = upload_attachment(
        uploader=peer, conversation_id=conversation.pk, name="a.png", content=image_bytes()
    )
    send_message(sender=peer, conversation=conversation, text="", attachment_ids=[image.pk])
    world = World(
        users={"member": member, "non_member": non_member, "staff": staff},
        peer=peer,
        conversation=conversation,
        message=message,
        image=image,
    )
    for role, user in world.users.items():
        world.tokens[role], world.keys[role] = issue_token(user, name=role)
    return world


SIGNED_IN = {"anonymous": 401, "member": 200, "non_member": 200, "staff": 200}
MEMBERS_ONLY = {"anonymous": 401, "member": 200, "non_member": 403, "staff": 403}
# The group endpoints on the world's direct conversation: a member is told
# it is direct (400), anyone else is refused before that.
MEMBERS_ONLY_BUT_DIRECT = {"anonymous": 401, "member": 400, "non_member": 403, "staff": 403}
OWNER_ONLY = {"anonymous": 401, "member": 200, "non_member": 404, "staff": 404}
# Attachments: a file is not revealed to anyone but the members (404, as an unknown id).
MEMBERS_ONLY_HIDDEN = OWNER_ONLY
OPEN = {"anonymous": 200, "member": 200, "non_member": 200, "staff": 200}

Request = tuple[str, str, dict | None]


@dataclass
class Row:
    """One endpoint (`operation`, as the schema names it) called one way."""

    operation: tuple[str, str]
    request: Callable[[World, str], Request]
    expected: dict[str, int]
    verify: Callable[[World, str, Any], None] | None = None
    label: str = ""
    format: str = "json"

    @property
    def id(self) -> str:
        return " ".join(self.operation) + (f" ({self.label})" if self.label else "")


def uploaded_only_by_members(world: World, role: str, response) -> None:
    uploads = Attachment.objects.filter(message__isnull=True)
    assert list(uploads.values_list("uploader_id", flat=True)) == (
        [world.member.pk] if role == "member" else []
    )


def file_only_for_members(world: World, role: str, response) -> None:
    if role == "member":
        assert response["Content-Type"].startswith("image/")
        assert b"".join(response.streaming_content)
    else:
        assert not response.has_header("Content-Disposition")


def conversation_ids(response) -> set[str]:
    if response.status_code != 200:
        return set()
    body = response.json()
    return {c["id"] for c in (body if isinstance(body, list) else [body])}


def listed_only_for_members(world: World, role: str, response) -> None:
    assert (str(world.conversation.pk) in conversation_ids(response)) == (role == "member")


def no_conversation_created(world: World, role: str, response) -> None:
    if response.status_code == 403:
        assert Conversation.objects.count() == 1


def stored_only_by_members(world: World, role: str, response) -> None:
    expected = 3 if role == "member" else 2
    assert Message.objects.filter(conversation=world.conversation).count() == expected


def closed_only_by_members(world: World, role: str, response) -> None:
    world.conversation.refresh_from_db()
    assert (world.conversation.status == Conversation.Status.CLOSED) == (role == "member")


def history_has_the_message(world: World, role: str, response) -> None:
    if role != "member":
        return
    messages = response.json()
    assert [m["id"] for m in messages][:1] == [str(world.message.pk)]
    assert [a["id"] for a in messages[1]["attachments"]] == [str(world.image.pk)]


def found_only_by_members(world: World, role: str, response) -> None:
    if response.status_code == 200:
        found = [result["message"]["id"] for result in response.json()["results"]]
        assert found == ([str(world.message.pk)] if role == "member" else [])


def history_only_for_members(world: World, role: str, response) -> None:
    if role == "member":
        assert [version["text"] for version in response.json()] == ["original"]


def reacted_only_by_members(world: World, role: str, response) -> None:
    reacted = Reaction.objects.filter(message=world.message, emoji="🎉").exists()
    assert reacted == (role == "member")


def reaction_removed_only_by_members(world: World, role: str, response) -> None:
    kept = Reaction.objects.filter(message=world.message, user=world.member).exists()
    assert kept == (role != "member")


def edited_only_by_members(world: World, role: str, response) -> None:
    world.message.refresh_from_db()
    assert (world.message.text == "edited") == (role == "member")


def deleted_only_by_members(world: World, role: str, response) -> None:
    world.message.refresh_from_db()
    assert (world.message.deleted_at is not None) == (role == "member")


def lists_only_my_tokens(world: World, role: str, response) -> None:
    if role == "anonymous":
        return
    assert {t["id"] for t in response.json()} == {str(world.tokens[role].pk)}


def revoked_only_by_its_owner(world: World, role: str, response) -> None:
    world.tokens["member"].refresh_from_db()
    assert (world.tokens["member"].revoked_at is not None) == (role == "member")


def old_key_stops_working(world: World, role: str, response) -> None:
    if role != "anonymous":
        assert world.client(role).get("/api/users/me").status_code == 401
        fresh = APIClient()
        fresh.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['token']}")
        assert fresh.get("/api/users/me").json()["id"] == world.caller_id(role)


def me_is_the_caller(world: World, role: str, response) -> None:
    if role != "anonymous":
        assert response.json()["id"] == world.caller_id(role)


def message_path(w: World) -> str:
    return f"/api/messages/{w.conversation.pk}/{w.message.pk}"


REST_MATRIX = [
    Row(("GET", "/api/users"), lambda w, r: ("get", "/api/users", None), SIGNED_IN),
    Row(
        ("GET", "/api/users/{id}"),
        lambda w, r: ("get", f"/api/users/{w.peer.pk}", None),
        SIGNED_IN,
    ),
    Row(
        ("GET", "/api/users/me"),
        lambda w, r: ("get", "/api/users/me", None),
        SIGNED_IN,
        me_is_the_caller,
    ),
    Row(
        ("PATCH", "/api/users/me"),
        lambda w, r: ("patch", "/api/users/me", {"theme": "dark"}),
        SIGNED_IN,
        me_is_the_caller,
    ),
    Row(
        ("POST", "/api/conversations"),
        lambda w, r: ("post", "/api/conversations", {"users": [str(w.peer.pk)]}),
        {"anonymous": 401, "member": 200, "non_member": 201, "staff": 201},
        label="with me in it",
    ),
    Row(
        ("POST", "/api/conversations"),
        lambda w, r: (
            "post",
            "/api/conversations",
            {"senderId": str(w.member.pk), "receiverId": str(w.peer.pk)},
        ),
        MEMBERS_ONLY,
        no_conversation_created,
        label="as the member",
    ),
    Row(
        ("GET", "/api/conversations"),
        lambda w, r: ("get", "/api/conversations", None),
        SIGNED_IN,
        listed_only_for_members,
    ),
    Row(
        ("GET", "/api/conversations/{userId}"),
        lambda w, r: ("get", f"/api/conversations/{w.member.pk}", None),
        MEMBERS_ONLY,
        listed_only_for_members,
    ),
    Row(
        ("GET", "/api/conversations/find/{firstUserId}/{secondUserId}"),
        lambda w, r: ("get", f"/api/conversations/find/{w.member.pk}/{w.peer.pk}", None),
        MEMBERS_ONLY,
        listed_only_for_members,
    ),
    Row(
        ("POST", "/api/conversations/{conversationId}/read"),
        lambda w, r: ("post", f"/api/conversations/{w.conversation.pk}/read", {"seq": 1}),
        MEMBERS_ONLY,
    ),
    Row(
        ("POST", "/api/conversations/{conversationId}/close"),
        lambda w, r: ("post", f"/api/conversations/{w.conversation.pk}/close", None),
        MEMBERS_ONLY,
        closed_only_by_members,
    ),
    Row(
        ("POST", "/api/conversations/{conversationId}/reopen"),
        lambda w, r: ("post", f"/api/conversations/{w.conversation.pk}/reopen", None),
        MEMBERS_ONLY,
    ),
    Row(
        ("GET", "/api/conversations/{conversationId}/details"),
        lambda w, r: ("get", f"/api/conversations/{w.conversation.pk}/details", None),
        MEMBERS_ONLY,
    ),
    Row(
        ("PATCH", "/api/conversations/{conversationId}/details"),
        lambda w, r: ("patch", f"/api/conversations/{w.conversation.pk}/details", {"title": "x"}),
        MEMBERS_ONLY_BUT_DIRECT,
        label="a direct conversation",
    ),
    Row(
        ("POST", "/api/conversations/{conversationId}/members"),
        lambda w, r: (
            "post",
            f"/api/conversations/{w.conversation.pk}/members",
            {"users": [str(w.users["non_member"].pk)]},
        ),
        MEMBERS_ONLY_BUT_DIRECT,
        label="a direct conversation",
    ),
    Row(
        ("DELETE", "/api/conversations/{conversationId}/members/{userId}"),
        lambda w, r: (
            "delete",
            f"/api/conversations/{w.conversation.pk}/members/{w.peer.pk}",
            None,
        ),
        MEMBERS_ONLY_BUT_DIRECT,
        label="a direct conversation",
    ),
    Row(
        ("PATCH", "/api/conversations/{conversationId}/membership"),
        lambda w, r: (
            "patch",
            f"/api/conversations/{w.conversation.pk}/membership",
            {"muted": True},
        ),
        MEMBERS_ONLY,
    ),
    Row(
        ("POST", "/api/messages"),
        lambda w, r: (
            "post",
            "/api/messages",
            {"conversationId": str(w.conversation.pk), "sender": w.caller_id(r), "text": "hi"},
        ),
        MEMBERS_ONLY,
        stored_only_by_members,
    ),
    Row(
        ("POST", "/api/messages"),
        lambda w, r: (
            "post",
            "/api/messages",
            {"conversationId": str(w.conversation.pk), "sender": str(w.member.pk), "text": "hi"},
        ),
        MEMBERS_ONLY,
        stored_only_by_members,
        label="as the member",
    ),
    Row(
        ("GET", "/api/messages/{conversationId}"),
        lambda w, r: ("get", f"/api/messages/{w.conversation.pk}", None),
        MEMBERS_ONLY,
        history_has_the_message,
    ),
    Row(
        ("GET", "/api/messages/{conversationId}/{messageId}/history"),
        lambda w, r: ("get", f"{message_path(w)}/history", None),
        MEMBERS_ONLY,
        history_only_for_members,
    ),
    Row(
        ("POST", "/api/messages/{conversationId}/{messageId}/reactions"),
        lambda w, r: ("post", f"{message_path(w)}/reactions", {"emoji": "🎉"}),
        {**MEMBERS_ONLY, "member": 201},
        reacted_only_by_members,
    ),
    Row(
        ("DELETE", "/api/messages/{conversationId}/{messageId}/reactions/{emoji}"),
        lambda w, r: ("delete", f"{message_path(w)}/reactions/%F0%9F%91%8D", None),
        MEMBERS_ONLY,
        reaction_removed_only_by_members,
    ),
    Row(
        ("POST", "/api/conversations/{conversationId}/attachments"),
        lambda w, r: (
            "post",
            f"/api/conversations/{w.conversation.pk}/attachments",
            {"file": upload("b.txt", b"notes")},
        ),
        {**MEMBERS_ONLY, "member": 201},
        uploaded_only_by_members,
        format="multipart",
    ),
    Row(
        ("GET", "/api/attachments/{attachmentId}"),
        lambda w, r: ("get", f"/api/attachments/{w.image.pk}", None),
        MEMBERS_ONLY_HIDDEN,
        file_only_for_members,
    ),
    Row(
        ("GET", "/api/attachments/{attachmentId}/thumbnail"),
        lambda w, r: ("get", f"/api/attachments/{w.image.pk}/thumbnail", None),
        MEMBERS_ONLY_HIDDEN,
        file_only_for_members,
    ),
    Row(
        ("GET", "/api/search/messages"),
        lambda w, r: ("get", "/api/search/messages?q=original", None),
        SIGNED_IN,
        found_only_by_members,
    ),
    Row(
        ("GET", "/api/search/messages"),
        lambda w, r: (
            "get",
            f"/api/search/messages?q=original&conversationId={w.conversation.pk}",
            None,
        ),
        MEMBERS_ONLY,
        found_only_by_members,
        label="in one conversation",
    ),
    Row(
        ("PATCH", "/api/messages/{conversationId}/{messageId}"),
        lambda w, r: ("patch", message_path(w), {"text": "edited"}),
        MEMBERS_ONLY,
        edited_only_by_members,
    ),
    Row(
        ("DELETE", "/api/messages/{conversationId}/{messageId}"),
        lambda w, r: ("delete", message_path(w), None),
        MEMBERS_ONLY,
        deleted_only_by_members,
    ),
    Row(
        ("POST", "/api/auth/signup"),
        lambda w, r: (
            "post",
            "/api/auth/signup",
            {"username": f"new-{r}", "password": TEST_PASSWORD, "displayName": ""},
        ),
        dict.fromkeys(ROLES, 201),
    ),
    Row(
        ("POST", "/api/auth/token"),
        lambda w, r: (
            "post",
            "/api/auth/token",
            {"username": w.member.username, "password": TEST_PASSWORD},
        ),
        OPEN,
    ),
    Row(
        ("GET", "/api/auth/tokens"),
        lambda w, r: ("get", "/api/auth/tokens", None),
        SIGNED_IN,
        lists_only_my_tokens,
    ),
    Row(
        ("DELETE", "/api/auth/tokens/{id}"),
        lambda w, r: ("delete", f"/api/auth/tokens/{w.tokens['member'].pk}", None),
        OWNER_ONLY,
        revoked_only_by_its_owner,
    ),
    Row(
        ("POST", "/api/auth/token/rotate"),
        lambda w, r: ("post", "/api/auth/token/rotate", None),
        SIGNED_IN,
        old_key_stops_working,
    ),
    # Open documents (not operations of the schema).
    Row(("GET", "/api/schema/"), lambda w, r: ("get", "/api/schema/", None), OPEN),
    Row(("GET", "/api/docs/"), lambda w, r: ("get", "/api/docs/", None), OPEN),
    Row(("GET", "/api/asyncapi.json"), lambda w, r: ("get", "/api/asyncapi.json", None), OPEN),
]
DOCUMENTS = {("GET", "/api/schema/"), ("GET", "/api/docs/"), ("GET", "/api/asyncapi.json")}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("row", REST_MATRIX, ids=lambda row: row.id)
def test_rest_authorization_matrix(world, row, role):
    method, path, body = row.request(world, role)
    response = getattr(world.client(role), method)(path, body, format=row.format)
    expected = row.expected[role]
    if expected >= 400:
        assert_error(response, expected)
    else:
        assert response.status_code == expected, (response.status_code, response.content[:300])
    if row.verify is not None:
        row.verify(world, role, response)


def is_seed_compat(path: str) -> bool:
    """The seed 001-004 endpoints (integrations) authenticate with a
    workspace's API key, not as a chat user: their own tests cover them."""
    view = resolve(re.sub(r"\{[^}]+\}", "1", path)).func
    return getattr(view, "cls", view).__module__.startswith("integrations")


def test_the_matrix_covers_every_operation_of_the_schema(db):
    """A new endpoint fails here until it has its row in the matrix."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    documented = {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"} and not is_seed_compat(path)
    }
    covered = {row.operation for row in REST_MATRIX}
    assert covered - DOCUMENTS == documented


# The socket matrix --------------------------------------------------------------

# A browser on this site: its Origin is the handshake's own scheme, host and port.
HOST = (b"host", b"localhost")
ORIGIN = (b"origin", b"http://localhost")
TIMEOUT = 2
QUIET = 0.3
ACTIONS = ["message.send", "typing", "read", "sync"]
# A member's send moves their read mark over the peer's unread message: `read` follows.
PUBLISHES = {
    "message.send": ["message.new", "read"],
    "typing": ["typing"],
    "read": ["read"],
    "sync": [],
}


@database_sync_to_async
def socket_world() -> dict[str, Any]:
    member, peer, non_member = UserFactory(), UserFactory(), UserFactory()
    staff = UserFactory(is_staff=True, is_superuser=True)
    conversation = ConversationFactory(members=[member, peer])
    send_message(sender=peer, conversation=conversation, text="from the peer")
    users = {"member": member, "non_member": non_member, "staff": staff}
    return {
        "conversation": conversation,
        "users": users,
        "keys": {role: issue_token(user)[1] for role, user in users.items()},
    }


@database_sync_to_async
def conversation_state(conversation, user) -> tuple[int, int | None]:
    membership = Membership.objects.filter(conversation=conversation, user=user).first()
    count = Message.objects.filter(conversation=conversation).count()
    return count, membership.last_read_seq if membership else None


def frame_for(action: str, conversation) -> dict:
    cid = str(conversation.pk)
    return {
        "message.send": {
            "type": action,
            "conversationId": cid,
            "text": "hi",
            "clientMessageId": "a",
        },
        "typing": {"type": action, "conversationId": cid, "active": True},
        "read": {"type": action, "conversationId": cid, "seq": 1},
        "sync": {"type": action, "conversationId": cid, "sinceVersion": 0},
    }[action]


async def frames_until(communicator, frame_type: str) -> list[dict]:
    """Frames up to and including the first of `frame_type` (presence left out)."""
    frames = []
    while True:
        try:
            frame = await communicator.receive_json_from(timeout=TIMEOUT)
        except TimeoutError:
            pytest.fail(f"no {frame_type!r} frame within {TIMEOUT}s; got {frames}")
        if frame["type"] != "presence":
            frames.append(frame)
        if frame["type"] == frame_type:
            return frames


async def barrier(communicator) -> list[dict]:
    """Everything the server sent before its answer to a frame of unknown type."""
    await communicator.send_json_to({"type": "test.barrier"})
    frames: list[dict] = []
    while not frames or frames[-1].get("frameType") != "test.barrier":
        frames.extend(await frames_until(communicator, "error"))
    return frames[:-1]


async def published(layer, channel: str) -> list[str]:
    """The frame types published to the conversation's group meanwhile."""
    types = []
    with contextlib.suppress(TimeoutError):
        while True:
            message = await asyncio.wait_for(layer.receive(channel), QUIET)
            # Events published together go as one message (chatproject.bus.coalesced).
            for event in message.get("events", [message]):
                if event["frameType"] != "presence":
                    types.append(event["frameType"])
    return types


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ACTIONS)
async def test_socket_authorization_matrix(action, role):
    world = await socket_world()
    conversation, member = world["conversation"], world["users"]["member"]
    before = await conversation_state(conversation, member)
    headers = [HOST, ORIGIN]
    if role != "anonymous":
        headers = [(b"authorization", f"Bearer {world['keys'][role]}".encode())]
    communicator = WebsocketCommunicator(application, "/ws/chat/", headers=headers)
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    try:
        assert connected
        if role == "anonymous":
            output = await communicator.receive_output(timeout=TIMEOUT)
            assert output == {"type": "websocket.close", "code": 4401}, output
            assert await conversation_state(conversation, member) == before
            return
        await barrier(communicator)
        layer = get_channel_layer()
        listener = await layer.new_channel()
        await layer.group_add(bus.conversation_group(conversation.pk), listener)

        await communicator.send_json_to(frame_for(action, conversation))
        replies = await barrier(communicator)
        if action == "sync" and not [f for f in replies if f["type"] in ("sync.done", "error")]:
            # A sync runs beside the socket's other frames: it may end after the barrier.
            last = "sync.done" if role == "member" else "error"
            replies += await frames_until(communicator, last)
        publishes = await published(layer, listener)
        after = await conversation_state(conversation, member)

        if role == "member":
            assert not [f for f in replies if f["type"] == "error"], replies
            assert publishes == PUBLISHES[action], publishes
            if action == "message.send":
                assert "message.ack" in [f["type"] for f in replies], replies
                assert after[0] == before[0] + 1
            if action == "read":
                assert after[1] == 1
            if action == "sync":
                assert [f["type"] for f in replies] == ["message.new", "sync.done"], replies
        else:
            assert len(replies) == 1, replies
            error = replies[0]
            assert (error["type"], error["code"], error["status"]) == (
                "error",
                "permission_denied",
                403,
            ), error
            assert error["frameType"] == action
            assert publishes == []
            assert after == before
    finally:
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await communicator.disconnect(timeout=TIMEOUT)


# The socket's Origin ---------------------------------------------------------------


async def socket_accepted(headers: list[tuple[bytes, bytes]]) -> bool:
    communicator = WebsocketCommunicator(application, "/ws/chat/", headers=headers)
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    if connected:
        await communicator.disconnect(timeout=TIMEOUT)
    return connected


@database_sync_to_async
def session_cookie() -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(UserFactory())
    name = django_settings.SESSION_COOKIE_NAME
    return (b"cookie", f"{name}={client.cookies[name].value}".encode())


@database_sync_to_async
def token_header() -> tuple[bytes, bytes]:
    return (b"authorization", f"Bearer {issue_token(UserFactory())[1]}".encode())


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("host", "origin", "accepted"),
    [
        (b"localhost", b"http://localhost", True),
        (b"127.0.0.1:8000", b"http://127.0.0.1:8000", True),
        (b"[::1]:9999", b"http://[::1]:9999", True),
        # Scheme, host and port are all compared, not the host alone.
        (b"localhost", b"http://localhost:1", False),
        (b"127.0.0.1:8000", b"https://127.0.0.1:8000", False),
        (b"127.0.0.1", b"https://127.0.0.1", False),
        (b"localhost:8000", b"http://[::1]:9999", False),
        (b"localhost", b"https://evil.example", False),
        (b"localhost", b"http://localhost.evil.example", False),
        (b"localhost", b"null", False),
        (b"localhost", None, False),
        # A Host outside ALLOWED_HOSTS is no origin of ours, even when they agree.
        (b"evil.example", b"http://evil.example", False),
    ],
)
async def test_a_browser_socket_from_a_foreign_origin_is_refused(host, origin, accepted):
    headers = [(b"host", host), await session_cookie()]
    if origin is not None:
        headers.append((b"origin", origin))
    assert await socket_accepted(headers) is accepted


@pytest.mark.django_db(transaction=True)
async def test_a_trusted_origin_is_accepted_by_its_full_origin(settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://chat.example.com"]
    cookie = await session_cookie()
    trusted = [(b"host", b"internal:8000"), cookie]
    assert await socket_accepted([*trusted, (b"origin", b"https://chat.example.com")])
    assert not await socket_accepted([*trusted, (b"origin", b"http://chat.example.com")])
    assert not await socket_accepted([*trusted, (b"origin", b"https://chat.example.com:444")])


@pytest.mark.django_db(transaction=True)
async def test_a_tls_proxy_makes_the_own_origin_https(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.ALLOWED_HOSTS = ["chat.example.com"]
    headers = [(b"host", b"chat.example.com"), (b"x-forwarded-proto", b"https")]
    headers.append(await session_cookie())
    assert await socket_accepted([*headers, (b"origin", b"https://chat.example.com")])
    assert not await socket_accepted([*headers, (b"origin", b"http://chat.example.com")])


@pytest.mark.django_db(transaction=True)
async def test_a_token_does_not_excuse_a_foreign_origin():
    token = await token_header()
    assert await socket_accepted([token])  # no Origin: not a browser
    assert not await socket_accepted([token, (b"origin", b"https://evil.example")])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "authorization", [b"Basic YWxpY2U6cGFzcw==", b"Bearer", b"Digest x", b"Bearer a b"]
)
async def test_no_origin_and_a_non_token_authorization_does_not_let_the_cookie_in(
    authorization,
):
    """Without an Origin only a token header is accepted; any other
    Authorization header does not open the door to the session cookie."""
    headers = [(b"host", b"localhost"), await session_cookie(), (b"authorization", authorization)]
    assert not await socket_accepted(headers)


@pytest.mark.django_db(transaction=True)
async def test_no_origin_and_an_invalid_token_is_closed_unauthenticated():
    headers = [await session_cookie(), (b"authorization", b"Bearer not-a-real-token")]
    communicator = WebsocketCommunicator(application, "/ws/chat/", headers=headers)
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected
    closed = await communicator.receive_output(timeout=TIMEOUT)
    assert closed == {"type": "websocket.close", "code": 4401}
    await communicator.wait()


# CSRF ---------------------------------------------------------------------------------

CSRF_WRITES = {
    "POST /api/messages": (
        lambda w: (
            "post",
            "/api/messages",
            {"conversationId": str(w.conversation.pk), "sender": str(w.member.pk), "text": "x"},
        ),
        200,
    ),
    "POST /api/conversations": (
        lambda w: ("post", "/api/conversations", {"users": [str(w.users["non_member"].pk)]}),
        201,
    ),
    "POST /api/conversations/{id}/read": (
        lambda w: ("post", f"/api/conversations/{w.conversation.pk}/read", {"seq": 1}),
        200,
    ),
    "PATCH /api/messages/{c}/{m}": (
        lambda w: ("patch", message_path(w), {"text": "edited"}),
        200,
    ),
    "DELETE /api/messages/{c}/{m}": (lambda w: ("delete", message_path(w), None), 200),
    "DELETE /api/auth/tokens/{id}": (
        lambda w: ("delete", f"/api/auth/tokens/{w.tokens['member'].pk}", None),
        200,
    ),
    # A session has no token to rotate: past CSRF, the answer is 400.
    "POST /api/auth/token/rotate": (lambda w: ("post", "/api/auth/token/rotate", None), 400),
}


def database_snapshot() -> tuple:
    return (
        list(Message.objects.order_by("pk").values_list("text", "deleted_at")),
        list(Membership.objects.order_by("pk").values_list("last_read_seq", flat=True)),
        Conversation.objects.count(),
        list(ApiToken.objects.order_by("pk").values_list("revoked_at", flat=True)),
    )


def signed_in_browser(world: World) -> APIClient:
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username=world.member.username, password=TEST_PASSWORD)
    return client


@pytest.mark.parametrize("write", CSRF_WRITES, ids=str)
def test_a_session_write_without_the_csrf_token_is_refused(world, write):
    client = signed_in_browser(world)
    method, path, body = CSRF_WRITES[write][0](world)
    before = database_snapshot()
    response = getattr(client, method)(path, body, format="json")
    error = assert_error(response, 403, "permission_denied")
    assert "CSRF" in error["message"]
    assert database_snapshot() == before


@pytest.mark.parametrize("write", CSRF_WRITES, ids=str)
def test_a_session_write_with_the_csrf_token_goes_through(world, write):
    client = signed_in_browser(world)
    assert client.get("/").status_code == 200  # the page sets the csrftoken cookie
    token = client.cookies[django_settings.CSRF_COOKIE_NAME].value
    request, expected = CSRF_WRITES[write]
    method, path, body = request(world)
    response = getattr(client, method)(path, body, format="json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == expected, response.content[:300]


def test_a_token_write_needs_no_csrf_token(world):
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.keys['member']}")
    response = post_message(client, world.conversation, world.member, "by token")
    assert response.status_code == 200, response.content


def test_a_page_form_post_without_the_csrf_token_is_refused(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.member)
    response = client.post("/conversations/new/", {"users": [world.users["non_member"].pk]})
    assert response.status_code == 403
    assert Conversation.objects.count() == 1


# Stored XSS -------------------------------------------------------------------------

PAYLOADS = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>"]


@pytest.fixture
def hostile(db):
    """Display names and messages that are markup; the viewer is `victim`."""
    victim = UserFactory(display_name=PAYLOADS[1])
    attacker = UserFactory(display_name=PAYLOADS[0])
    conversation = ConversationFactory(members=[victim, attacker])
    messages = [
        send_message(sender=attacker, conversation=conversation, text=payload)[0]
        for payload in PAYLOADS
    ]
    return victim, attacker, conversation, messages


def assert_inert(html: str, *payloads: str) -> None:
    for payload in payloads:
        assert payload not in html
        assert escape(payload) in html, f"{payload!r} is not shown (escaped) at all"


def test_markup_is_escaped_in_the_conversation_page(hostile):
    victim, _, conversation, _ = hostile
    client = Client()
    client.force_login(victim)
    response = client.get(f"/c/{conversation.pk}/")
    assert response.status_code == 200
    assert_inert(response.content.decode(), *PAYLOADS)


def test_markup_is_escaped_in_the_inbox(hostile):
    victim, *_ = hostile
    client = Client()
    client.force_login(victim)
    response = client.get("/")
    assert response.status_code == 200
    # The attacker's name (the conversation's name) and the last message.
    assert_inert(response.content.decode(), *PAYLOADS)


def test_markup_is_escaped_in_the_admin(hostile):
    *_, messages = hostile
    admin = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    changelist = client.get("/admin/messaging/message/")
    assert changelist.status_code == 200
    assert_inert(changelist.content.decode(), *PAYLOADS)
    for message in messages:
        change = client.get(f"/admin/messaging/message/{message.pk}/change/")
        assert change.status_code == 200
        assert_inert(change.content.decode(), message.text)
    users = client.get("/admin/users/user/")
    assert_inert(users.content.decode(), *PAYLOADS)


def test_markup_comes_back_verbatim_as_json_from_the_api(hostile):
    victim, attacker, conversation, _ = hostile
    client = APIClient()
    client.force_authenticate(victim)
    history = client.get(f"/api/messages/{conversation.pk}")
    assert history["Content-Type"] == "application/json"
    assert history["X-Content-Type-Options"] == "nosniff"
    assert [m["text"] for m in history.json()] == PAYLOADS
    user = client.get(f"/api/users/{attacker.pk}")
    assert user["Content-Type"] == "application/json"
    assert user.json()["displayName"] == PAYLOADS[0]


# Production settings -------------------------------------------------------------------


def production_env(**overrides: str) -> dict[str, str]:
    """The environment of a production process: DEBUG off, a long random key,
    a real host name; nothing of this test run's DJANGO_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="chat.example.com",
        DJANGO_SETTINGS_MODULE="chatproject.settings",
        PYTHONPATH=str(BASE_DIR),
    )
    env.update(overrides)
    return env


def run_python(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def deploy_check(**overrides: str) -> subprocess.CompletedProcess:
    return run_python(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env(**overrides)
    )


def test_the_deploy_check_is_clean_in_production():
    result = deploy_check()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("overrides", "warning"),
    [
        ({"DJANGO_SECURE_HSTS_SECONDS": "0"}, "security.W004"),
        ({"DJANGO_SECURE_SSL_REDIRECT": "0"}, "security.W008"),
        ({"DJANGO_SECURE_COOKIES": "0"}, "security.W012"),
        ({"DJANGO_SECRET_KEY": "short"}, "security.W009"),
    ],
    ids=["no-hsts", "no-ssl-redirect", "insecure-cookies", "weak-key"],
)
def test_the_deploy_check_catches_a_relaxed_setting(overrides, warning):
    """The check above can fail: each relaxation is reported."""
    result = deploy_check(**overrides)
    assert result.returncode != 0
    assert warning in result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    env = production_env()
    del env["DJANGO_SECRET_KEY"]
    result = run_python(["manage.py", "check"], env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in result.stderr


COOKIE_PROBE = """
import json, django
django.setup()
from django.core.management import call_command
from django.test import Client
from users.models import User
call_command("migrate", verbosity=0)
PASSWORD = "correct-horse-battery-staple"
User.objects.create_user("probe", password=PASSWORD)
https = Client(HTTP_HOST="chat.example.com", HTTP_X_FORWARDED_PROTO="https")
login = https.post("/accounts/login/", {"username": "probe", "password": PASSWORD})
plain = Client(HTTP_HOST="chat.example.com")
cookies = {
    name: {flag: login.cookies[name][flag] for flag in ("secure", "httponly", "samesite")}
    for name in ("sessionid", "csrftoken")
}
print(json.dumps({
    "login": login.status_code,
    "cookies": cookies,
    "hsts": login.get("Strict-Transport-Security"),
    "plain": [plain.get("/").status_code, plain.get("/").get("Location")],
    "healthz": plain.get("/healthz").status_code,
}))
"""


def test_production_cookies_and_https():
    """A production process (in-memory database) signs a user in over HTTPS."""
    result = run_python(["-c", COOKIE_PROBE], production_env(DATABASE_URL="sqlite://:memory:"))
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["login"] == 302
    assert probe["cookies"]["sessionid"] == {"secure": True, "httponly": True, "samesite": "Lax"}
    # The CSRF cookie is read by scripts (not HttpOnly), but only over HTTPS.
    assert probe["cookies"]["csrftoken"]["secure"] is True
    assert probe["cookies"]["csrftoken"]["samesite"] == "Lax"
    assert probe["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert probe["plain"] == [301, "https://chat.example.com/"]
    assert probe["healthz"] == 200  # the load balancer's probe is not redirected


def test_the_session_cookie_is_httponly_and_lax_in_development(world):
    client = Client()
    response = client.post(
        "/accounts/login/", {"username": world.member.username, "password": TEST_PASSWORD}
    )
    assert response.status_code == 302
    cookie = response.cookies[django_settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"


# Passwords --------------------------------------------------------------------------------

ARGON2 = "django.contrib.auth.hashers.Argon2PasswordHasher"


@pytest.fixture
def production_hashers(settings):
    """The project's hashers, not the fast MD5 one of the test settings."""
    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS
    return settings


def test_tests_hash_passwords_fast(settings):
    """chatproject/settings/test.py, which pytest loads, sets MD5 for every test."""
    assert settings.PASSWORD_HASHERS == ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_argon2_is_the_preferred_hasher():
    assert project_settings.PASSWORD_HASHERS[0] == ARGON2
    assert "MD5" not in " ".join(project_settings.PASSWORD_HASHERS)


def test_a_new_users_password_is_hashed_with_argon2(db, production_hashers):
    response = APIClient().post(
        "/api/auth/signup",
        {"username": "hashed", "password": TEST_PASSWORD},
        format="json",
    )
    assert response.status_code == 201, response.content
    stored = User.objects.get(username="hashed").password
    assert stored.startswith("argon2$argon2id$"), stored
    assert TEST_PASSWORD not in stored


def test_an_older_hash_becomes_argon2_at_the_next_sign_in(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    user = UserFactory()
    assert user.password.startswith("pbkdf2_sha256$")
    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS
    response = APIClient().post(
        "/api/auth/token",
        {"username": user.username, "password": TEST_PASSWORD},
        format="json",
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$")


# API tokens at rest --------------------------------------------------------------------------


def test_a_leaked_token_table_holds_no_usable_token(db):
    user = UserFactory()
    token, key = issue_token(user)
    row = ApiToken.objects.filter(pk=token.pk).values().get()
    assert key not in json.dumps(row, default=str)
    assert row["key_hash"] == hash_secret(key)
    for stolen in (row["key_hash"], row["prefix"]):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {stolen}")
        assert_error(client.get("/api/users/me"), 401)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/users/me").json()["id"] == str(user.pk)


# Inputs the fuzzer does not reach ---------------------------------------------------------------


def test_a_nul_character_in_the_directory_search_is_a_400_not_a_500(user_client):
    # PostgreSQL cannot compare text with a NUL character: this was a 500.
    assert_error(user_client.get("/api/users?search=a%00b"), 400, "validation_error")


def test_a_nul_character_in_the_idempotency_key_is_a_400_not_a_500(
    user_client, user, direct_conversation
):
    response = post_message(
        user_client, direct_conversation, user, "hi", headers={"Idempotency-Key": "a\x00b"}
    )
    assert_error(response, 400, "validation_error")
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "/conversations/a%0Ab/messages",
        "/conversation/v1/conversations/a%0Ab/messages",
        "/v1/api/conversation-messages/a%0Ab",
    ],
)
def test_a_newline_in_a_seed_path_value_gets_json_not_a_django_page(db, path):
    # Found by the fuzzer: Django's `path` converter does not match a newline.
    response = Client().get(path)
    assert response.status_code in (401, 404)
    assert response["Content-Type"].startswith("application/json")
