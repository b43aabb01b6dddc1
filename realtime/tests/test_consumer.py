"""The chat socket at /ws/chat/, driven through the whole ASGI stack
(Origin check, session and token auth, routing) with WebsocketCommunicator."""

import json
from datetime import datetime, timedelta

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from chatproject import bus
from conversations.models import Conversation, Membership
from conversations.services import add_member, create_conversation, remove_member
from messaging.models import Message
from messaging.services import delete_message, edit_message, send_message
from realtime import hops, presence
from realtime import typing as typing_limits
from tests.support.api import client_for
from tests.support.factories import ConversationFactory
from tests.support.sockets import (
    HOST,
    ORIGIN,
    TIMEOUT,
    assert_closed_with,
    assert_silent,
    barrier,
    connect_raw,
    make_conversation,
    make_user,
    next_frame,
    open_socket,
    receive_until,
    send_frame,
    session_headers,
    settle,
    stored_texts,
    token_headers,
)
from users.models import SocketConnection, User
from users.services import PRESENCE_TIMEOUT

pytestmark = pytest.mark.django_db(transaction=True)

# Helpers ----------------------------------------------------------------------


@database_sync_to_async
def get_message(**lookup) -> Message:
    return Message.objects.select_related("sender").get(**lookup)


@database_sync_to_async
def service_send(sender, conversation, text: str) -> Message:
    return send_message(sender=sender, conversation=conversation, text=text)[0]


@database_sync_to_async
def service_edit(actor, message_id: int, text: str) -> Message:
    return edit_message(actor=actor, message=Message.objects.get(pk=message_id), text=text)


@database_sync_to_async
def service_delete(actor, message_id: int) -> Message:
    return delete_message(actor=actor, message=Message.objects.get(pk=message_id))


# Connecting and authentication -------------------------------------------------


async def test_unauthenticated_socket_is_closed_with_4401(sockets):
    communicator, connected = await connect_raw(sockets, [HOST, ORIGIN])
    assert connected
    await assert_closed_with(communicator, 4401)


@pytest.mark.parametrize("keyword", ["Bearer", "Token"])
async def test_bad_token_is_closed_with_4401(sockets, keyword):
    user = await make_user()
    await make_conversation(user, await make_user())
    headers = [(b"authorization", f"{keyword} not-a-real-key".encode())]
    communicator, connected = await connect_raw(sockets, headers)
    assert connected
    await assert_closed_with(communicator, 4401)


async def test_bad_token_wins_over_a_valid_session_cookie(sockets):
    user = await make_user()
    headers = [*await session_headers(user), (b"authorization", b"Bearer not-a-real-key")]
    communicator, connected = await connect_raw(sockets, headers)
    assert connected
    await assert_closed_with(communicator, 4401)


@pytest.mark.parametrize("auth", ["token", "session"])
async def test_foreign_origin_is_refused(sockets, auth):
    user = await make_user()
    headers = await (token_headers(user) if auth == "token" else session_headers(user))
    headers = [h for h in headers if h[0] != b"origin"] + [(b"origin", b"https://evil.example")]
    _, connected = await connect_raw(sockets, headers)
    assert connected is False


async def test_no_origin_without_a_token_is_refused_even_with_a_session(sockets):
    user = await make_user()
    headers = [h for h in await session_headers(user) if h[0] != b"origin"]
    _, connected = await connect_raw(sockets, headers)
    assert connected is False


@pytest.mark.parametrize("auth", ["bearer", "token", "session"])
async def test_authenticated_socket_sends_and_receives(sockets, auth):
    alice, bob = await make_user(), await make_user()
    conversation = await make_conversation(alice, bob)
    alice_socket = await open_socket(sockets, alice, auth=auth)
    bob_socket = await open_socket(sockets, bob)
    await settle(alice_socket)

    await alice_socket.send_json_to(send_frame(conversation, "hello", "c-1"))
    ack, _ = await receive_until(alice_socket, "message.ack")
    assert ack["message"]["sender"] == str(alice.pk)
    new, skipped = await receive_until(bob_socket, "message.new")
    assert skipped == []
    assert new["message"]["id"] == ack["message"]["id"]
    assert await stored_texts(conversation) == ["hello"]


# Sending ------------------------------------------------------------------------


async def test_send_acks_the_sender_and_pushes_message_new_to_the_other_member(sockets):
    alice, bob = await make_user(), await make_user()
    conversation = await make_conversation(alice, bob)
    alice_socket, bob_socket = await open_socket(sockets, alice), await open_socket(sockets, bob)
    alice_other_tab = await open_socket(sockets, alice)
    await settle(alice_socket, alice_other_tab)

    await alice_socket.send_json_to(send_frame(conversation, "hi bob", "client-42"))
    ack = await next_frame(alice_socket)
    stored = await get_message(conversation=conversation, seq=1)
    assert ack == {
        "type": "message.ack",
        "clientMessageId": "client-42",
        "conversationId": str(conversation.pk),
        "seq": 1,
        "version": stored.version,
        "message": ack["message"],
    }
    assert ack["message"]["id"] == str(stored.pk)
    assert ack["message"]["text"] == "hi bob"
    assert ack["message"]["clientMessageId"] == "client-42"

    new = await next_frame(bob_socket)
    assert new["type"] == "message.new"
    assert new["conversationId"] == str(conversation.pk)
    assert (new["seq"], new["version"]) == (1, stored.version)
    assert new["message"] == ack["message"]
    # The sender's other sockets get the event; the sending one had it in its ack.
    assert await next_frame(alice_other_tab) == new
    await assert_silent(bob_socket, alice_socket, alice_other_tab)


async def test_retried_send_with_the_same_client_message_id_stores_one_message(sockets):
    alice, bob = await make_user(), await make_user()
    conversation = await make_conversation(alice, bob)
    alice_socket, bob_socket = await open_socket(sockets, alice), await open_socket(sockets, bob)
    await settle(alice_socket)

    frame = send_frame(conversation, "only once", "retry-me")
    await alice_socket.send_json_to(frame)
    first, _ = await receive_until(alice_socket, "message.ack")
    await alice_socket.send_json_to(frame)
    second, skipped = await receive_until(alice_socket, "message.ack")

    assert first["clientMessageId"] == second["clientMessageId"] == "retry-me"
    assert first["message"]["id"] == second["message"]["id"]
    assert first["seq"] == second["seq"] == 1
    assert all(f["type"] != "message.ack" for f in skipped)
    assert await stored_texts(conversation) == ["only once"]
    assert (await next_frame(bob_socket))["type"] == "message.new"
    await assert_silent(bob_socket)


async def test_non_member_cannot_send_and_hears_nothing_of_the_conversation(sockets):
    alice, bob, mallory = await make_user(), await make_user(), await make_user()
    conversation = await make_conversation(alice, bob)
    alice_socket = await open_socket(sockets, alice)
    bob_socket = await open_socket(sockets, bob)
    mallory_socket = await open_socket(sockets, mallory)
    await settle(alice_socket, bob_socket, mallory_socket)

    await mallory_socket.send_json_to(send_frame(conversation, "let me in", "m-1"))
    error = await next_frame(mallory_socket)
    assert error["type"] == "error"
    assert error["status"] == 403
    assert error["code"] == "permission_denied"
    assert error["frameType"] == "message.send"
    assert error["clientMessageId"] == "m-1"
    assert error["conversationId"] == str(conversation.pk)
    assert await stored_texts(conversation) == []
    await assert_silent(alice_socket, bob_socket)

    await mallory_socket.send_json_to(
        {"type": "sync", "conversationId": str(conversation.pk), "sinceVersion": 0}
    )
    await alice_socket.send_json_to(send_frame(conversation, "members only", "a-1"))
    await alice_socket.send_json_to(
        {"type": "typing", "conversationId": str(conversation.pk), "active": True}
    )
    await receive_until(alice_socket, "message.ack")
    await receive_until(bob_socket, "typing")
    message = await get_message(conversation=conversation, seq=1)
    await service_edit(alice, message.pk, "members only, edited")
    await receive_until(bob_socket, "message.updated")

    sync_error = await next_frame(mallory_socket)
    assert (sync_error["type"], sync_error["status"]) == ("error", 403)
    await assert_silent(mallory_socket)


async def test_a_removed_member_stops_hearing_and_cannot_send(sockets):
    """The socket authorizes sends from the conversations it holds in memory;
    removing the member takes the conversation out of it at once."""
    alice, bob, carol = await make_user(), await make_user(), await make_user()
    group = await make_conversation(alice, bob, carol, kind=Conversation.Kind.GROUP)
    alice_socket = await open_socket(sockets, alice)
    carol_socket = await open_socket(sockets, carol)
    await settle(alice_socket, carol_socket)

    membership = await database_sync_to_async(Membership.objects.get)(
        conversation=group, user=carol
    )
    await database_sync_to_async(remove_member)(membership)
    removed, _ = await receive_until(carol_socket, "conversation.removed")
    assert removed == {"type": "conversation.removed", "conversationId": str(group.pk)}

    await alice_socket.send_json_to(send_frame(group, "carol is gone", "a-1"))
    await receive_until(alice_socket, "message.ack")
    await carol_socket.send_json_to(send_frame(group, "still here?", "c-1"))
    error = await next_frame(carol_socket)
    assert (error["type"], error["status"], error["clientMessageId"]) == ("error", 403, "c-1")
    assert await stored_texts(group) == ["carol is gone"]
    await assert_silent(carol_socket)


async def test_a_send_checks_membership_even_when_the_socket_still_thinks_it_is_in(sockets):
    """Between a removal and its event reaching the socket, a send must
    still be refused: the send's own transaction checks membership."""
    alice, bob = await make_user(), await make_user()
    conversation = await make_conversation(alice, bob)
    bob_socket = await open_socket(sockets, bob)
    await settle(bob_socket)
    await database_sync_to_async(
        Membership.objects.filter(conversation=conversation, user=bob).delete
    )()  # behind the services' back: no event

    await bob_socket.send_json_to(send_frame(conversation, "sneaky", "b-1"))
    error = await next_frame(bob_socket)
    assert (error["type"], error["status"]) == ("error", 403)
    assert await stored_texts(conversation) == []


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "typing", "active": True},
        {"type": "read", "seq": 1},
        {"type": "sync", "sinceVersion": 0},
    ],
)
async def test_other_frames_for_a_conversation_i_am_not_in_are_403(sockets, frame):
    alice, bob, mallory = await make_user(), await make_user(), await make_user()
    conversation = await make_conversation(alice, bob)
    await service_send(alice, conversation, "members only")
    await make_conversation(mallory, await make_user())
    bob_socket = await open_socket(sockets, bob)
    mallory_socket = await open_socket(sockets, mallory)

    await mallory_socket.send_json_to({**frame, "conversationId": str(conversation.pk)})
    error = await next_frame(mallory_socket)
    assert error["type"] == "error"
    assert (error["code"], error["status"]) == ("permission_denied", 403)
    assert error["frameType"] == frame["type"]
    assert error["conversationId"] == str(conversation.pk)
    await assert_silent(mallory_socket, bob_socket)
    read_seqs = await database_sync_to_async(list)(
        Membership.objects.filter(conversation=conversation).values_list("last_read_seq", flat=True)
    )
    assert sorted(read_seqs) == [0, 1]


async def test_unknown_conversation_is_a_404_error_frame(sockets):
    alice = await make_user()
    await make_conversation(alice, await make_user())
    alice_socket = await open_socket(sockets, alice)
    await alice_socket.send_json_to(
        {"type": "message.send", "conversationId": "999999", "text": "x", "clientMessageId": "n"}
    )
    error = await next_frame(alice_socket)
    assert (error["type"], error["status"], error["code"]) == ("error", 404, "not_found")
    assert await database_sync_to_async(Message.objects.count)() == 0


@pytest.mark.parametrize(
    ("raw", "code", "frame_type"),
    [
        ("{not json", "bad_json", None),
        ("", "bad_json", None),
        ('["a", "list"]', "unknown_type", None),
        ('{"type": "message.launch", "conversationId": "@cid"}', "unknown_type", "message.launch"),
        ('{"text": "no type at all"}', "unknown_type", None),
        ('{"type": "message.send", "text": "no conversation"}', "validation_error", "message.send"),
        ('{"type": "message.send", "conversationId": "@cid"}', "validation_error", "message.send"),
        (
            '{"type": "message.send", "conversationId": "@cid", "text": ""}',
            "validation_error",
            "message.send",
        ),
        (
            '{"type": "message.send", "conversationId": "abc", "text": "x"}',
            "validation_error",
            "message.send",
        ),
        ('{"type": "typing", "conversationId": "@cid"}', "validation_error", "typing"),
        ('{"type": "read", "conversationId": "@cid", "seq": -1}', "validation_error", "read"),
        (
            '{"type": "sync", "conversationId": "@cid", "sinceVersion": "x"}',
            "validation_error",
            "sync",
        ),
    ],
)
async def test_bad_frames_get_an_error_and_the_socket_stays_usable(sockets, raw, code, frame_type):
    alice, bob = await make_user(), await make_user()
    conversation = await make_conversation(alice, bob)
    alice_socket = await open_socket(sockets, alice)

    raw = raw.replace("@cid", str(conversation.pk))
    if raw:
        await alice_socket.send_to(text_data=raw)
    else:
        await alice_socket.send_input({"type": "websocket.receive", "text": ""})
    error = await next_frame(alice_socket)
    assert error["type"] == "error", error
    assert (error["code"], error["status"]) == (code, 400)
    assert error["message"]
    assert error.get("frameType") == frame_type
    if code == "validation_error":
        assert error["details"]["fields"], error
    assert await stored_texts(conversation) == []

    await alice_socket.send_json_to(send_frame(conversation, "still here", "after-error"))
    ack, skipped = await receive_until(alice_socket, "message.ack")
    assert skipped == []
    assert ack["clientMessageId"] == "after-error"
    assert await stored_texts(conversation) == ["still here"]


async def test_missing_text_names_the_field(sockets):
    alice = await make_user()
    conversation = await make_conversation(alice, await make_user())
    alice_socket = await open_socket(sockets, alice)
    await alice_socket.send_json_to(
        {"type": "message.send", "conversationId": str(conversation.pk), "clientMessageId": "q"}
    )
    error = await next_frame(alice_socket)
    assert error["code"] == "validation_error"
    assert list(error["details"]["fields"]) == ["text"]
    assert error["clientMessageId"] == "q"


async def test_frame_over_the_limit_gets_frame_too_large_and_closes(sockets):
    alice = await make_user()
    conversation = await make_conversation(alice, await make_user())
    alice_socket = await open_socket(sockets, alice)
    limit = settings.CHAT_WS_MAX_FRAME_BYTES
    assert limit == 64 * 1024

    # A frame of exactly the limit is handled (its unknown field is ignored).
    frame = send_frame(conversation, "fits", "exact")
    frame["pad"] = ""
    frame["pad"] = "p" * (limit - len(json.dumps(frame)))
    assert len(json.dumps(frame).encode()) == limit
    await alice_socket.send_to(text_data=json.dumps(frame))
    ack = await next_frame(alice_socket)
    assert (ack["type"], ack["clientMessageId"]) == ("message.ack", "exact")

    frame["pad"] += "p"
    await alice_socket.send_to(text_data=json.dumps(frame))
    error = await next_frame(alice_socket)
    assert error["type"] == "error"
    assert error["code"] == "frame_too_large"
    await assert_closed_with(alice_socket, 4413)
    assert await stored_texts(conversation) == ["fits"]


async def test_frame_limit_counts_bytes_not_characters(sockets):
    """64 KB of UTF-8 is fewer than 64 K characters when they are not ASCII."""
    alice = await make_user()
    conversation = await make_conversation(alice, await make_user())
    alice_socket = await open_socket(sockets, alice)
    limit = settings.CHAT_WS_MAX_FRAME_BYTES
    frame = send_frame(conversation, "fits", "wide")
    frame["pad"] = "é" * (limit // 2 + 100)  # two bytes each
    raw = json.dumps(frame, ensure_ascii=False)
    assert len(raw) < limit < len(raw.encode())

    await alice_socket.send_to(text_data=raw)
    error = await next_frame(alice_socket)
    assert (error["type"], error["code"]) == ("error", "frame_too_large")
    await assert_closed_with(alice_socket, 4413)
    assert await stored_texts(conversation) == []


# Live delivery ------------------------------------------------------------------


async def test_conversation_created_after_connect_is_joined_without_reconnecting(sockets):
    alice, bob, carol = await make_user(), await make_user(), await make_user()
    alice_socket = await open_socket(sockets, alice)
    bob_socket = await open_socket(sockets, bob)
    carol_socket = await open_socket(sockets, carol)
    await settle(alice_socket, bob_socket)

    conversation, created = await database_sync_to_async(create_conversation)(
        creator=alice, member_ids=[bob.pk, carol.pk], title="Plans"
    )
    assert created
    for socket in (alice_socket, bob_socket, carol_socket):
        frame = await next_frame(socket)
        assert frame["type"] == "conversation.new"
        assert frame["conversation"]["id"] == str(conversation.pk)
        assert frame["conversation"]["title"] == "Plans"
        assert sorted(frame["conversation"]["users"]) == sorted(
            str(u.pk) for u in (alice, bob, carol)
        )

    await alice_socket.send_json_to(send_frame(conversation, "first!", "p-1"))
    ack, _ = await receive_until(alice_socket, "message.ack")
    for socket in (bob_socket, carol_socket):
        new = await next_frame(socket)
        assert new["type"] == "message.new"
        assert new["message"]["id"] == ack["message"]["id"]

    await carol_socket.send_json_to(
        {"type": "typing", "conversationId": str(conversation.pk), "active": True}
    )
    typing = await next_frame(bob_socket)
    assert (typing["type"], typing["userId"]) == ("typing", str(carol.pk))


async def test_message_sent_over_rest_reaches_the_socket_like_a_socket_message(sockets):
    alice, bob = await make_user(), await make_user()
    conversation = await make_conversation(alice, bob)
    alice_socket, bob_socket = await open_socket(sockets, alice), await open_socket(sockets, bob)
    await settle(alice_socket)

    await alice_socket.send_json_to(send_frame(conversation, "over the socket", "s-1"))
    over_socket = await next_frame(bob_socket)

    def post() -> tuple[int, dict]:
        response = client_for(alice).post(
            "/api/messages",
            {
                "conversationId": str(conversation.pk),
                "sender": str(alice.pk),
                "text": "over REST",
                "clientMessageId": "r-1",
            },
            format="json",
        )
        return response.status_code, response.json()

    status, body = await database_sync_to_async(post)()
    assert status == 200, body
    over_rest = await next_frame(bob_socket)

    assert over_socket["type"] == over_rest["type"] == "message.new"
    assert over_rest.keys() == over_socket.keys()
    assert over_rest["message"].keys() == over_socket["message"].keys()
    assert over_rest["message"] == body
    assert (over_rest["seq"], over_rest["version"]) == (2, body["version"])
    assert over_rest["conversationId"] == str(conversation.pk)
    # The REST sender's own socket hears it too.
    from_rest, _ = await receive_until(alice_socket, "message.new")
    while from_rest["message"]["id"] != body["id"]:
        from_rest, _ = await receive_until(alice_socket, "message.new")
    assert from_rest == over_rest


async def test_edits_and_deletes_arrive_as_updated_and_deleted(sockets):
    alice, bob = await make_user(), await make_user()
    conversation = await make_conversation(alice, bob)
    alice_socket, bob_socket = await open_socket(sockets, alice), await open_socket(sockets, bob)
    await settle(alice_socket)
    message = await service_send(alice, conversation, "tpyo")
    new = await next_frame(bob_socket)
    assert new["type"] == "message.new"

    await service_edit(alice, message.pk, "typo")
    updated = await next_frame(bob_socket)
    assert updated["type"] == "message.updated"
    assert updated["message"]["id"] == str(message.pk)
    assert updated["message"]["text"] == "typo"
    assert updated["message"]["editedAt"] is not None
    assert updated["seq"] == new["seq"] == 1
    assert updated["version"] > new["version"]

    await service_delete(alice, message.pk)
    deleted = await next_frame(bob_socket)
    assert deleted["type"] == "message.deleted"
    assert deleted["message"]["id"] == str(message.pk)
    assert deleted["message"]["text"] == ""
    assert deleted["message"]["deletedAt"] is not None
    assert deleted["version"] > updated["version"]
    stored = await get_message(pk=message.pk)
    assert deleted["version"] == stored.version
    await assert_silent(bob_socket)
    assert [f["type"] for f in [await next_frame(alice_socket) for _ in range(3)]] == [
        "message.new",
        "message.updated",
        "message.deleted",
    ]


# Sync -----------------------------------------------------------------------------


@pytest.mark.parametrize("page", [500, 2])
async def test_sync_returns_exactly_the_missed_changes_in_version_order(sockets, monkeypatch, page):
    monkeypatch.setattr(hops, "SYNC_PAGE", page)
    alice, bob = await make_user(), await make_user()
    conversation = await make_conversation(alice, bob)
    alice_socket = await open_socket(sockets, alice)
    m1 = await service_send(bob, conversation, "one")
    m2 = await service_send(bob, conversation, "two")
    assert (await receive_until(alice_socket, "message.new"))[0]["version"] == m1.version
    held = (await receive_until(alice_socket, "message.new"))[0]["version"]
    assert held == m2.version
    await alice_socket.disconnect(timeout=TIMEOUT)

    m3 = await service_send(bob, conversation, "three")
    m4 = await service_send(bob, conversation, "four")
    await service_edit(bob, m1.pk, "one, edited")
    await service_delete(bob, m3.pk)
    m5 = await service_send(bob, conversation, "five")
    await service_edit(bob, m4.pk, "four, edited")

    alice_socket = await open_socket(sockets, alice)
    await alice_socket.send_json_to(
        {"type": "sync", "conversationId": str(conversation.pk), "sinceVersion": held}
    )
    done, replayed = await receive_until(alice_socket, "sync.done")
    assert done == {"type": "sync.done", "conversationId": str(conversation.pk)}
    assert [(f["type"], f["message"]["id"], f["message"]["text"]) for f in replayed] == [
        ("message.updated", str(m1.pk), "one, edited"),
        ("message.deleted", str(m3.pk), ""),
        ("message.new", str(m5.pk), "five"),
        ("message.updated", str(m4.pk), "four, edited"),
    ]
    versions = [f["version"] for f in replayed]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    assert all(v > held for v in versions)
    stored = {
        str(m.pk): m.version
        for m in await database_sync_to_async(list)(
            Message.objects.filter(conversation=conversation)
        )
    }
    assert all(stored[f["message"]["id"]] == f["version"] for f in replayed)
    assert all(f["conversationId"] == str(conversation.pk) for f in replayed)

    # Synced up: asking again from the newest version gives nothing but sync.done.
    await alice_socket.send_json_to(
        {"type": "sync", "conversationId": str(conversation.pk), "sinceVersion": versions[-1]}
    )
    assert await next_frame(alice_socket) == done
    await assert_silent(alice_socket)


# Typing, read receipts, presence --------------------------------------------------


class FakeClock:
    now = 1000.0

    @classmethod
    def monotonic(cls) -> float:
        return cls.now


async def test_typing_reaches_others_not_the_typist_and_is_rate_limited(sockets, monkeypatch):
    monkeypatch.setattr(typing_limits, "time", FakeClock)
    monkeypatch.setattr(FakeClock, "now", 1000.0)
    alice, bob = await make_user(), await make_user()
    conversation = await make_conversation(alice, bob)
    alice_socket = await open_socket(sockets, alice)
    alice_other_tab = await open_socket(sockets, alice)
    bob_socket = await open_socket(sockets, bob)
    await settle(alice_socket, alice_other_tab)
    typing = {"type": "typing", "conversationId": str(conversation.pk), "active": True}

    await alice_socket.send_json_to(typing)
    frame = await next_frame(bob_socket)
    assert frame == {
        "type": "typing",
        "conversationId": str(conversation.pk),
        "userId": str(alice.pk),
        "active": True,
    }
    await assert_silent(alice_socket, alice_other_tab)

    FakeClock.now += settings.CHAT_TYPING_INTERVAL / 2
    await alice_socket.send_json_to(typing)
    await assert_silent(bob_socket, alice_socket)

    FakeClock.now += settings.CHAT_TYPING_INTERVAL / 2 + 0.01
    await alice_socket.send_json_to(typing)
    assert (await next_frame(bob_socket))["active"] is True

    await alice_socket.send_json_to({**typing, "active": False})
    assert (await next_frame(bob_socket))["active"] is False
    await assert_silent(bob_socket, alice_socket, alice_other_tab)

    # Bob typing reaches Alice's tabs.
    await bob_socket.send_json_to(typing)
    for socket in (alice_socket, alice_other_tab):
        assert (await next_frame(socket))["userId"] == str(bob.pk)
    await assert_silent(bob_socket)


async def test_read_advances_the_marker_and_tells_the_other_member(sockets):
    alice, bob = await make_user(), await make_user()
    conversation = await make_conversation(alice, bob)
    for text in ("a", "b", "c"):
        await service_send(alice, conversation, text)
    alice_socket, bob_socket = await open_socket(sockets, alice), await open_socket(sockets, bob)
    await settle(alice_socket)

    await bob_socket.send_json_to(
        {"type": "read", "conversationId": str(conversation.pk), "seq": 2}
    )
    frame = await next_frame(alice_socket)
    assert frame == {
        "type": "read",
        "conversationId": str(conversation.pk),
        "userId": str(bob.pk),
        "seq": 2,
    }
    membership = await database_sync_to_async(Membership.objects.get)(
        conversation=conversation, user=bob
    )
    assert membership.last_read_seq == 2

    # Never backwards, never past the newest message.
    await bob_socket.send_json_to(
        {"type": "read", "conversationId": str(conversation.pk), "seq": 1}
    )
    await assert_silent(alice_socket)
    await bob_socket.send_json_to(
        {"type": "read", "conversationId": str(conversation.pk), "seq": 99}
    )
    assert (await receive_until(alice_socket, "read"))[0]["seq"] == 3
    await database_sync_to_async(membership.refresh_from_db)()
    assert membership.last_read_seq == 3


async def test_presence_goes_offline_only_when_the_last_socket_closes(sockets):
    alice, bob = await make_user(), await make_user()
    await make_conversation(alice, bob)
    bob_socket = await open_socket(sockets, bob)

    first_tab = await open_socket(sockets, alice, settle=False)
    online, _ = await receive_until(bob_socket, "presence")
    assert online == {
        "type": "presence",
        "userId": str(alice.pk),
        "online": True,
        "lastSeenAt": None,
    }
    at_connect = await barrier(first_tab)
    assert {(f["userId"], f["online"]) for f in at_connect} == {
        (str(alice.pk), True),
        (str(bob.pk), True),
    }
    second_tab = await open_socket(sockets, alice)
    await assert_silent(bob_socket)

    await first_tab.disconnect(timeout=TIMEOUT)
    await assert_silent(bob_socket)
    assert (await database_sync_to_async(User.objects.get)(pk=alice.pk)).last_seen_at is None

    await second_tab.disconnect(timeout=TIMEOUT)
    offline = await next_frame(bob_socket)
    assert offline["type"] == "presence"
    assert (offline["userId"], offline["online"]) == (str(alice.pk), False)
    stored = (await database_sync_to_async(User.objects.get)(pk=alice.pk)).last_seen_at
    assert stored is not None
    assert datetime.fromisoformat(offline["lastSeenAt"]) == stored
    await assert_silent(bob_socket)


# Catch-up on join and presence of dead processes --------------------------------


@pytest.mark.django_db(transaction=True)
async def test_messages_sent_before_the_socket_joins_a_new_conversation_are_replayed(sockets):
    alice, bob = await make_user(), await make_user()
    bob_socket = await open_socket(sockets, bob)

    def create_and_send_unannounced():
        # The factory announces nothing, so the message is published to a
        # group bob's socket has not joined: as when it races the join.
        conversation = ConversationFactory(members=[alice, bob])
        send_message(sender=alice, conversation=conversation, text="before you joined")
        return conversation

    conversation = await database_sync_to_async(create_and_send_unannounced)()
    await database_sync_to_async(bus.publish_now)(
        [bus.user_group(bob.pk)],
        {"type": "conversation.new", "conversation": {"id": str(conversation.pk)}},
    )
    frame, _ = await receive_until(bob_socket, "message.new")
    assert frame["conversationId"] == str(conversation.pk)
    assert frame["message"]["text"] == "before you joined"
    await service_send(alice, conversation, "after")
    frame, _ = await receive_until(bob_socket, "message.new")
    assert frame["message"]["text"] == "after"
    await assert_silent(bob_socket)


async def test_joining_a_long_lived_group_does_not_replay_its_history(sockets):
    """Added to a group: conversation.new, then only what happens from then
    on; the history before is the client's to page over REST."""
    alice, bob, carol = await make_user(), await make_user(), await make_user()
    group = await make_conversation(alice, bob, kind=Conversation.Kind.GROUP)
    for text in ("one", "two", "three"):
        await service_send(alice, group, text)
    carol_socket = await open_socket(sockets, carol)

    fresh = await database_sync_to_async(Conversation.objects.get)(pk=group.pk)
    await database_sync_to_async(add_member)(fresh, carol)
    joined = await next_frame(carol_socket)
    assert (joined["type"], joined["conversation"]["id"]) == ("conversation.new", str(group.pk))

    await service_send(alice, group, "welcome carol")
    frame, skipped = await receive_until(carol_socket, "message.new")
    assert (frame["message"]["text"], frame["seq"]) == ("welcome carol", 4)
    # The members' conversation.updated for her joining may reach her too
    # (she is in the group by then), but none of the messages before.
    assert [f["type"] for f in skipped] in ([], ["conversation.updated"]), skipped


@pytest.mark.django_db(transaction=True)
async def test_users_of_a_dead_process_go_offline_at_the_next_heartbeat(sockets):
    alice, bob = await make_user(), await make_user()
    await make_conversation(alice, bob)
    bob_socket = await open_socket(sockets, bob)
    stale = timezone.now() - PRESENCE_TIMEOUT - timedelta(seconds=1)
    await database_sync_to_async(SocketConnection.objects.create)(
        user=alice, channel_name="dead-process!1", server="gone:1", seen_at=stale
    )

    await presence.heartbeat.beat()

    frame, _ = await receive_until(bob_socket, "presence")
    assert (frame["userId"], frame["online"]) == (str(alice.pk), False)
    assert frame["lastSeenAt"]
    assert not await database_sync_to_async(
        SocketConnection.objects.filter(channel_name="dead-process!1").exists
    )()
    refreshed = await database_sync_to_async(User.objects.get)(pk=alice.pk)
    assert refreshed.last_seen_at is not None
    bob_row = await database_sync_to_async(SocketConnection.objects.get)(user=bob)
    assert bob_row.seen_at > stale
    await assert_silent(bob_socket)
