"""The AsyncAPI document describes every frame the server sends: a session
that makes the server send each kind of frame is checked against it."""

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from chatproject.asgi import application
from conversations.services import create_conversation, delete_conversations, set_muted
from messaging import services
from messaging.models import Message
from realtime.asyncapi import asyncapi_document
from realtime.frames import CLIENT_FRAMES, SERVER_FRAMES
from tests.support.asyncapi import validator_for
from tests.support.factories import ConversationFactory, UserFactory
from tests.support.files import image_bytes
from users.services import issue_token


async def socket_for(user) -> WebsocketCommunicator:
    _, key = await database_sync_to_async(issue_token)(user)
    communicator = WebsocketCommunicator(
        application, "/ws/chat/", headers=[(b"authorization", f"Bearer {key}".encode())]
    )
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def drain(communicator: WebsocketCommunicator, into: list[dict]) -> None:
    """Collect frames until none arrives for a while (receive_nothing does not
    cancel the application, as a timed-out receive would)."""
    while not await communicator.receive_nothing(timeout=0.3):
        into.append(await communicator.receive_json_from(timeout=1))


def test_document_is_asyncapi_3_with_every_frame(db, client):
    response = client.get("/api/asyncapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["asyncapi"] == "3.0.0"
    names = {message["name"] for message in document["components"]["messages"].values()}
    assert names == set(CLIENT_FRAMES) | set(SERVER_FRAMES)
    assert document["channels"]["chat"]["address"] == "/ws/chat/"


def test_schema_rejects_a_frame_that_breaks_it():
    document = asyncapi_document()
    validator = validator_for(document, "message.ack", "server")
    assert not validator.is_valid({"type": "message.ack", "seq": "one"})
    assert not validator.is_valid({"type": "typing", "conversationId": "1"})


@pytest.mark.django_db(transaction=True)
async def test_every_frame_the_server_sends_matches_the_document():
    alice = await database_sync_to_async(UserFactory)()
    bob = await database_sync_to_async(UserFactory)()
    conversation = await database_sync_to_async(ConversationFactory)(members=[alice, bob])
    cid = str(conversation.pk)
    alice_socket, bob_socket = await socket_for(alice), await socket_for(bob)
    frames: list[dict] = []

    await alice_socket.send_json_to(
        {"type": "message.send", "conversationId": cid, "text": "hi", "clientMessageId": "m-1"}
    )
    image = await sync_to_async(services.upload_attachment)(
        uploader=alice, conversation_id=conversation.pk, name="a.png", content=image_bytes()
    )
    await alice_socket.send_json_to(
        {"type": "message.send", "conversationId": cid, "text": "", "attachments": [str(image.pk)]}
    )
    await alice_socket.send_json_to({"type": "typing", "conversationId": cid, "active": True})
    await drain(bob_socket, frames)
    await bob_socket.send_json_to({"type": "read", "conversationId": cid, "seq": 1})
    message = await database_sync_to_async(Message.objects.get)(conversation=conversation, seq=1)
    reaction = {"conversationId": cid, "messageId": str(message.pk), "emoji": "👍"}
    await alice_socket.send_json_to({"type": "reaction.add", **reaction})
    await drain(bob_socket, frames)  # message.updated with a reaction
    with override_settings(CHAT_LIVE_MAX_DELAY_SECONDS=-1):  # every event is late: sync.needed
        await sync_to_async(services.edit_message)(actor=alice, message=message, text="late")
        await drain(bob_socket, frames)
    await sync_to_async(services.edit_message)(actor=alice, message=message, text="hello")
    await sync_to_async(services.delete_message)(actor=alice, message=message)
    group, _ = await sync_to_async(create_conversation)(
        creator=alice, member_ids=[bob.pk, (await database_sync_to_async(UserFactory)()).pk]
    )
    await drain(bob_socket, frames)  # joined before it goes
    await sync_to_async(services.rename_group)(actor=alice, conversation=group, title="Plans")
    await sync_to_async(set_muted)(
        membership=await database_sync_to_async(group.memberships.get)(user=bob), muted=True
    )
    await drain(bob_socket, frames)
    await sync_to_async(delete_conversations)(conversations=[group])
    left, _ = await sync_to_async(create_conversation)(
        creator=alice, member_ids=[bob.pk], kind="group"
    )
    await drain(bob_socket, frames)
    await sync_to_async(services.remove_group_member)(actor=bob, conversation=left, user_id=bob.pk)
    await bob_socket.send_json_to({"type": "sync", "conversationId": cid, "sinceVersion": 0})
    await bob_socket.send_to(text_data="not json")
    await alice_socket.disconnect()
    await drain(bob_socket, frames)
    await bob_socket.disconnect()

    document = await sync_to_async(asyncapi_document)()
    for frame in frames:
        errors = list(validator_for(document, frame["type"], "server").iter_errors(frame))
        assert not errors, (frame, [error.message for error in errors])
    assert any(frame.get("message", {}).get("reactions") for frame in frames)
    assert any(frame.get("message", {}).get("attachments") for frame in frames)
    seen = {frame["type"] for frame in frames} | {"message.ack"}
    assert seen == set(SERVER_FRAMES), set(SERVER_FRAMES) - seen


@pytest.mark.django_db(transaction=True)
async def test_acks_match_the_document():
    alice = await database_sync_to_async(UserFactory)()
    conversation = await database_sync_to_async(ConversationFactory)(members=[alice])
    alice_socket = await socket_for(alice)
    frames: list[dict] = []
    await alice_socket.send_json_to(
        {"type": "message.send", "conversationId": str(conversation.pk), "text": "x"}
    )
    await drain(alice_socket, frames)
    await alice_socket.disconnect()
    acks = [frame for frame in frames if frame["type"] == "message.ack"]
    assert len(acks) == 1
    validator_for(asyncapi_document(), "message.ack", "server").validate(acks[0])


def test_documented_client_frames_are_what_the_consumer_accepts():
    document = asyncapi_document()
    examples = {
        "message.send": {"conversationId": "1", "text": "hi", "clientMessageId": "c1"},
        "message.send with files": {"conversationId": "1", "text": "", "attachments": ["4"]},
        "typing": {"conversationId": "1", "active": True},
        "read": {"conversationId": "1", "seq": 3},
        "sync": {"conversationId": "1", "sinceVersion": 0},
        "reaction.add": {"conversationId": "1", "messageId": "2", "emoji": "👍"},
        "reaction.remove": {"conversationId": "1", "messageId": "2", "emoji": "👍"},
    }
    for example, body in examples.items():
        frame_type = example.split(" ")[0]
        frame = {"type": frame_type, **body}
        validator_for(document, frame_type, "client").validate(frame)
        assert CLIENT_FRAMES[frame_type](data=frame).is_valid()
