"""Replies, mentions and edit counts over the socket: `replyTo` on
`message.send`, the quote and the mentions on the ack and on every member's
`message.new`, a foreign `replyTo` as an `error` frame, and the same shape
again through `sync` (every frame checked against the AsyncAPI document)."""

import pytest
from channels.db import database_sync_to_async

from conversations.models import Conversation
from messaging.models import Message
from messaging.services import edit_message
from realtime.asyncapi import asyncapi_document
from tests.support.asyncapi import validator_for
from tests.support.messages import reply_quote
from tests.support.sockets import (
    make_conversation,
    make_user,
    open_socket,
    receive_until,
    send_frame,
    service_send,
)

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def service_edit(actor, message: Message, text: str) -> Message:
    return edit_message(actor=actor, message=message, text=text)


@database_sync_to_async
def stored_reply_to(message_id: str) -> int | None:
    return Message.objects.get(pk=message_id).reply_to_id


def check_against_the_document(*frames: dict) -> None:
    document = asyncapi_document()
    for frame in frames:
        validator_for(document, frame["type"], "server").validate(frame)


async def test_a_reply_with_a_mention_reaches_every_member_and_comes_back_in_sync(sockets):
    alice, bob = await make_user(), await make_user()
    conversation = await make_conversation(alice, bob)
    original = await service_send(bob, conversation, "lunch?")
    alice_socket, bob_socket = await open_socket(sockets, alice), await open_socket(sockets, bob)

    await alice_socket.send_json_to(
        {**send_frame(conversation, f"@{bob.username} yes", "r-1"), "replyTo": str(original.pk)}
    )
    ack, _ = await receive_until(alice_socket, "message.ack")
    new, _ = await receive_until(bob_socket, "message.new")
    check_against_the_document(ack, new)
    for frame in (ack, new):
        assert frame["message"]["replyTo"] == reply_quote(original)
        assert frame["message"]["mentions"] == [str(bob.pk)]
    assert await stored_reply_to(ack["message"]["id"]) == original.pk

    await bob_socket.send_json_to(
        {"type": "sync", "conversationId": str(conversation.pk), "sinceVersion": original.version}
    )
    replayed, _ = await receive_until(bob_socket, "message.new")
    check_against_the_document(replayed)
    assert replayed["message"] == new["message"]
    await receive_until(bob_socket, "sync.done")


async def test_an_edit_reaches_members_with_its_count_and_new_mentions(sockets):
    alice, bob = await make_user(), await make_user()
    conversation = await make_conversation(alice, bob)
    message = await service_send(alice, conversation, f"@{bob.username} hi")
    bob_socket = await open_socket(sockets, bob)

    await service_edit(alice, message, "hi all")
    updated, _ = await receive_until(bob_socket, "message.updated")
    check_against_the_document(updated)
    assert updated["message"]["editCount"] == 1
    assert updated["message"]["mentions"] == []

    await bob_socket.send_json_to(
        {"type": "sync", "conversationId": str(conversation.pk), "sinceVersion": message.version}
    )
    replayed, _ = await receive_until(bob_socket, "message.updated")
    assert replayed["message"] == updated["message"]
    await receive_until(bob_socket, "sync.done")


async def test_a_foreign_reply_to_is_an_error_frame_and_sends_nothing(sockets):
    alice, bob = await make_user(), await make_user()
    conversation = await make_conversation(alice, bob)
    elsewhere = await make_conversation(alice, kind=Conversation.Kind.GROUP)
    foreign = await service_send(alice, elsewhere, "elsewhere")
    alice_socket, bob_socket = await open_socket(sockets, alice), await open_socket(sockets, bob)

    await alice_socket.send_json_to(
        {**send_frame(conversation, "yes", "r-2"), "replyTo": str(foreign.pk)}
    )
    error, skipped = await receive_until(alice_socket, "error")
    check_against_the_document(error)
    assert (error["code"], error["status"], error["frameType"]) == (
        "validation_error",
        400,
        "message.send",
    )
    assert list(error["details"]["fields"]) == ["replyTo"]
    assert not [frame for frame in skipped if frame["type"].startswith("message.")]
    assert await bob_socket.receive_nothing(timeout=0.3)
