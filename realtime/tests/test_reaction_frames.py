"""reaction.add and reaction.remove over the socket: the same services as
REST, the change to every member as `message.updated` (without `me`),
refusals as `error` frames, and the change again through `sync`."""

import pytest
from channels.db import database_sync_to_async

from messaging.models import Message, Reaction
from messaging.services import add_reaction
from tests.support.sockets import (
    assert_silent,
    make_conversation,
    make_user,
    open_socket,
    receive_until,
    service_send,
)
from tests.support.throttling import set_rates

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def service_react(user, message: Message, emoji: str) -> None:
    add_reaction(user=user, message=message, emoji=emoji)


@database_sync_to_async
def stored_reactions(message: Message) -> list[tuple[int, str]]:
    return list(Reaction.objects.filter(message=message).values_list("user_id", "emoji"))


def reaction_frame(frame_type: str, message: Message, emoji: str) -> dict:
    return {
        "type": frame_type,
        "conversationId": str(message.conversation_id),
        "messageId": str(message.pk),
        "emoji": emoji,
    }


async def test_add_and_remove_reach_every_member_as_message_updated(sockets):
    alice, bob = await make_user(), await make_user()
    conversation = await make_conversation(alice, bob)
    message = await service_send(bob, conversation, "lunch?")
    alice_socket, bob_socket = await open_socket(sockets, alice), await open_socket(sockets, bob)

    await alice_socket.send_json_to(reaction_frame("reaction.add", message, "👍🏽"))
    for socket in (alice_socket, bob_socket):
        frame, _ = await receive_until(socket, "message.updated")
        assert frame["version"] == message.version + 1
        assert frame["message"]["id"] == str(message.pk)
        assert frame["message"]["reactions"] == [
            {"emoji": "👍🏽", "count": 1, "users": [str(alice.pk)]}
        ]
    assert await stored_reactions(message) == [(alice.pk, "👍🏽")]

    # Added already: nothing changes, nothing is sent.
    await alice_socket.send_json_to(reaction_frame("reaction.add", message, "👍🏽"))
    await assert_silent(alice_socket, bob_socket)

    await alice_socket.send_json_to(reaction_frame("reaction.remove", message, "👍🏽"))
    for socket in (alice_socket, bob_socket):
        frame, _ = await receive_until(socket, "message.updated")
        assert frame["version"] == message.version + 2
        assert frame["message"]["reactions"] == []
    assert await stored_reactions(message) == []

    await alice_socket.send_json_to(reaction_frame("reaction.remove", message, "👍🏽"))
    await assert_silent(alice_socket, bob_socket)


async def test_refusals_are_error_frames_naming_the_frame(sockets, settings):
    alice, bob, carol = await make_user(), await make_user(), await make_user()
    conversation = await make_conversation(alice, bob)
    message = await service_send(bob, conversation, "lunch?")
    alice_socket = await open_socket(sockets, alice)
    carol_socket = await open_socket(sockets, carol)

    await alice_socket.send_json_to(reaction_frame("reaction.add", message, "ab"))
    error, _ = await receive_until(alice_socket, "error")
    assert error["code"] == "validation_error"
    assert error["status"] == 400
    assert error["frameType"] == "reaction.add"
    assert error["conversationId"] == str(conversation.pk)
    assert error["details"] == {"fields": {"emoji": ["A reaction is one emoji."]}}

    await alice_socket.send_json_to(
        {**reaction_frame("reaction.add", message, "👍"), "messageId": "x"}
    )
    error, _ = await receive_until(alice_socket, "error")
    assert (error["status"], error["frameType"]) == (400, "reaction.add")

    await alice_socket.send_json_to(
        {**reaction_frame("reaction.add", message, "👍"), "messageId": "999999"}
    )
    error, _ = await receive_until(alice_socket, "error")
    assert (error["status"], error["code"]) == (404, "not_found")

    await carol_socket.send_json_to(reaction_frame("reaction.add", message, "👍"))
    error, _ = await receive_until(carol_socket, "error")
    assert (error["status"], error["code"]) == (403, "permission_denied")
    await carol_socket.send_json_to(reaction_frame("reaction.remove", message, "👍"))
    error, _ = await receive_until(carol_socket, "error")
    assert (error["status"], error["frameType"]) == (403, "reaction.remove")

    # Every add of a member to a message counts, the refused "ab" above too.
    set_rates(settings, {"reaction.add": "2/min"})
    await alice_socket.send_json_to(reaction_frame("reaction.add", message, "👍"))
    await receive_until(alice_socket, "message.updated")
    await alice_socket.send_json_to(reaction_frame("reaction.add", message, "😂"))
    error, _ = await receive_until(alice_socket, "error")
    assert (error["status"], error["code"]) == (429, "throttled")
    assert error["details"]["retryAfterSeconds"] >= 1
    assert await stored_reactions(message) == [(alice.pk, "👍")]


async def test_sync_returns_a_reacted_message_as_updated(sockets):
    alice, bob = await make_user(), await make_user()
    conversation = await make_conversation(alice, bob)
    message = await service_send(bob, conversation, "lunch?")
    await service_send(bob, conversation, "at noon")
    await service_react(bob, message, "🇵🇱")

    alice_socket = await open_socket(sockets, alice)
    await alice_socket.send_json_to(
        {"type": "sync", "conversationId": str(conversation.pk), "sinceVersion": 2}
    )
    _, replayed = await receive_until(alice_socket, "sync.done")
    assert [(frame["type"], frame["version"], frame["message"]["id"]) for frame in replayed] == [
        ("message.updated", 3, str(message.pk))
    ]
    assert replayed[0]["message"]["reactions"] == [
        {"emoji": "🇵🇱", "count": 1, "users": [str(bob.pk)]}
    ]
