"""Attachments over the socket: `message.send` with `attachments` (as POST
/api/messages), the message with its files to every member and in the ack,
refusals as `error` frames naming the field, and the files again through `sync`."""

import pytest
from channels.db import database_sync_to_async

from messaging.models import Attachment
from messaging.services import upload_attachment
from tests.support.files import image_bytes
from tests.support.sockets import (
    make_conversation,
    make_user,
    open_socket,
    receive_until,
    stored_texts,
)

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def uploaded(user, conversation, name: str, content: bytes) -> Attachment:
    return upload_attachment(
        uploader=user, conversation_id=conversation.pk, name=name, content=content
    )


def send_with(conversation, text: str, *attachments: Attachment, **extra: str) -> dict:
    return {
        "type": "message.send",
        "conversationId": str(conversation.pk),
        "text": text,
        "attachments": [str(attachment.pk) for attachment in attachments],
        **extra,
    }


async def test_files_reach_every_member_in_order_and_come_back_through_sync(sockets):
    alice, bob = await make_user(), await make_user()
    conversation = await make_conversation(alice, bob)
    image = await uploaded(alice, conversation, "chart.png", image_bytes())
    notes = await uploaded(alice, conversation, "notes.txt", b"notes")
    alice_socket, bob_socket = await open_socket(sockets, alice), await open_socket(sockets, bob)

    await alice_socket.send_json_to(send_with(conversation, "", notes, image, clientMessageId="f1"))
    ack, _ = await receive_until(alice_socket, "message.ack")
    names = [file["name"] for file in ack["message"]["attachments"]]
    assert names == ["notes.txt", "chart.png"]
    frame, _ = await receive_until(bob_socket, "message.new")
    assert frame["message"]["attachments"] == ack["message"]["attachments"]
    picture = frame["message"]["attachments"][1]
    assert picture["contentType"] == "image/png"
    assert picture["thumbnailUrl"] == f"/api/attachments/{image.pk}/thumbnail"
    assert (picture["width"], picture["height"]) == (64, 48)

    await bob_socket.send_json_to(
        {"type": "sync", "conversationId": str(conversation.pk), "sinceVersion": 0}
    )
    _, replayed = await receive_until(bob_socket, "sync.done")
    [message] = [f["message"] for f in replayed if f["type"].startswith("message.")]
    assert message["attachments"] == ack["message"]["attachments"]


async def test_refusals_are_error_frames_that_name_the_field(sockets):
    alice, bob = await make_user(), await make_user()
    conversation = await make_conversation(alice, bob)
    theirs = await uploaded(bob, conversation, "theirs.txt", b"t")
    alice_socket = await open_socket(sockets, alice)

    await alice_socket.send_json_to(send_with(conversation, "", theirs))
    error, _ = await receive_until(alice_socket, "error")
    assert error["code"] == "validation_error"
    assert "attachments" in error["details"]["fields"]

    await alice_socket.send_json_to(send_with(conversation, ""))
    error, _ = await receive_until(alice_socket, "error")
    assert error["code"] == "validation_error"
    assert "text" in error["details"]["fields"]

    await alice_socket.send_json_to({**send_with(conversation, "x"), "attachments": ["nope"]})
    error, _ = await receive_until(alice_socket, "error")
    assert error["code"] == "validation_error"
    assert await stored_texts(conversation) == []
