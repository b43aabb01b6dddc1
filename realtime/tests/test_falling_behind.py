"""A socket that gets live events too long after their commit is told once to
`sync` instead of being sent them late; its own sends are acked, not echoed."""

import time

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.test import override_settings

from chatproject import bus
from messaging import events
from messaging.services import send_message
from tests.support.sockets import (
    assert_silent,
    make_conversation,
    make_user,
    next_frame,
    open_socket,
    receive_until,
    send_frame,
    service_send,
    settle,
)

pytestmark = pytest.mark.django_db(transaction=True)


async def test_late_events_are_not_sent_and_the_socket_is_told_once_to_sync(sockets):
    alice, bob = await make_user(), await make_user()
    conversation = await make_conversation(alice, bob)
    bob_socket = await open_socket(sockets, bob)

    with override_settings(CHAT_LIVE_MAX_DELAY_SECONDS=-1):  # every event comes "late"
        for text in ("one", "two", "three"):
            await service_send(alice, conversation, text)
        assert await next_frame(bob_socket) == {
            "type": "sync.needed",
            "conversationId": str(conversation.pk),
        }
        await assert_silent(bob_socket)

    # On time again: sent as usual, not held for the versions it was told to sync.
    fresh = await service_send(alice, conversation, "four")
    frame = await next_frame(bob_socket)
    assert (frame["type"], frame["version"]) == ("message.new", fresh.version)

    # Its sync replays what it was not sent.
    sync = {"type": "sync", "conversationId": str(conversation.pk), "sinceVersion": 0}
    await bob_socket.send_json_to(sync)
    _, replayed = await receive_until(bob_socket, "sync.done")
    assert [f["message"]["text"] for f in replayed] == ["one", "two", "three", "four"]


async def test_after_a_sync_the_socket_is_told_again_when_it_falls_behind_again(sockets):
    alice, bob = await make_user(), await make_user()
    conversation = await make_conversation(alice, bob)
    bob_socket = await open_socket(sockets, bob)
    sync = {"type": "sync", "conversationId": str(conversation.pk), "sinceVersion": 0}

    with override_settings(CHAT_LIVE_MAX_DELAY_SECONDS=-1):
        await service_send(alice, conversation, "one")
        assert (await next_frame(bob_socket))["type"] == "sync.needed"
        await bob_socket.send_json_to(sync)
        await receive_until(bob_socket, "sync.done")
        await service_send(alice, conversation, "two")
        assert (await next_frame(bob_socket))["type"] == "sync.needed"


async def test_an_event_published_moments_ago_is_sent(sockets, settings):
    settings.CHAT_LIVE_MAX_DELAY_SECONDS = 2.0
    alice, bob = await make_user(), await make_user()
    conversation = await make_conversation(alice, bob)
    bob_socket = await open_socket(sockets, bob)
    message = await service_send(alice, conversation, "hi")
    assert (await next_frame(bob_socket))["message"]["text"] == "hi"

    # The same kind of event, published (by its clock) 3 s ago: late.
    frame = events.message_frame(events.UPDATED, message)
    frame["version"] = message.version + 1
    late = bus.event_for(frame) | {"publishedAt": time.time() - 3}
    await get_channel_layer().group_send(bus.conversation_group(conversation.pk), late)
    assert (await next_frame(bob_socket))["type"] == "sync.needed"


async def test_late_typing_is_dropped(sockets):
    alice, bob = await make_user(), await make_user()
    conversation = await make_conversation(alice, bob)
    alice_socket, bob_socket = await open_socket(sockets, alice), await open_socket(sockets, bob)
    typing = {"type": "typing", "conversationId": str(conversation.pk), "active": True}

    with override_settings(CHAT_LIVE_MAX_DELAY_SECONDS=-1):
        await alice_socket.send_json_to(typing)
        await assert_silent(bob_socket)


async def test_the_sending_socket_gets_its_ack_and_not_its_own_message_new(sockets):
    alice, bob = await make_user(), await make_user()
    conversation = await make_conversation(alice, bob)
    alice_socket = await open_socket(sockets, alice)
    other_tab, bob_socket = await open_socket(sockets, alice), await open_socket(sockets, bob)
    await settle(alice_socket, other_tab)

    for number in range(3):
        await alice_socket.send_json_to(send_frame(conversation, f"m{number}", f"c{number}"))
    acks = [await next_frame(alice_socket) for _ in range(3)]
    assert [(a["type"], a["version"]) for a in acks] == [
        ("message.ack", v) for v in sorted(a["version"] for a in acks)
    ]
    for socket in (other_tab, bob_socket):
        frames = [await next_frame(socket) for _ in range(3)]
        assert [(f["type"], f["message"]["text"]) for f in frames] == [
            ("message.new", f"m{n}") for n in range(3)
        ]
    await assert_silent(alice_socket, other_tab, bob_socket)

    # The versions it was not sent still count: Bob's next message is not held.
    await database_sync_to_async(send_message)(sender=bob, conversation=conversation, text="hey")
    assert (await next_frame(alice_socket))["message"]["text"] == "hey"


async def test_a_message_sent_over_rest_reaches_every_socket_of_the_sender(sockets):
    alice, bob = await make_user(), await make_user()
    conversation = await make_conversation(alice, bob)
    alice_socket = await open_socket(sockets, alice)
    await service_send(alice, conversation, "from rest")
    assert (await next_frame(alice_socket))["message"]["text"] == "from rest"
