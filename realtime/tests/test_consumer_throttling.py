"""The socket's rate limits: message.send shares the per-user budget of
POST /api/messages; every frame counts against its socket's budget. Over
either, the socket answers with an `error` frame (code `throttled`, status
429, details.retryAfterSeconds) and stays open; a socket that goes on
flooding is closed with 4429. Time is the limiter's clock (throttling.now)."""

import pytest
from channels.db import database_sync_to_async

from realtime.asyncapi import asyncapi_document
from realtime.consumers import CLOSE_TOO_MANY_FRAMES
from tests.support.api import client_for
from tests.support.asyncapi import validator_for
from tests.support.sockets import (
    assert_closed_with,
    make_conversation,
    make_user,
    open_socket,
    receive_until,
    send_frame,
    settle,
    stored_texts,
)
from tests.support.throttling import set_rates

pytestmark = pytest.mark.django_db(transaction=True)


def assert_throttled(error: dict, frame_type: str) -> int:
    """A throttled error frame as the AsyncAPI document describes it; returns
    its retryAfterSeconds."""
    assert error["type"] == "error"
    assert error["code"] == "throttled", error
    assert error["status"] == 429
    assert error["frameType"] == frame_type
    assert set(error["details"]) == {"retryAfterSeconds"}
    assert error["details"]["retryAfterSeconds"] >= 1
    validator = validator_for(asyncapi_document(), "error", "server")
    assert validator.is_valid(error), list(validator.iter_errors(error))
    return error["details"]["retryAfterSeconds"]


async def sync_round_trip(socket, conversation) -> dict:
    """A frame the server answers (sync → sync.done, or an error); live
    events on the way are skipped."""
    await socket.send_json_to(
        {"type": "sync", "conversationId": str(conversation.pk), "sinceVersion": 10**9}
    )
    frame = await socket.receive_json_from(timeout=2)
    while frame["type"] not in {"sync.done", "error"}:
        frame = await socket.receive_json_from(timeout=2)
    return frame


@database_sync_to_async
def rest_send(user, conversation, text: str) -> tuple[int, dict]:
    response = client_for(user).post(
        "/api/messages",
        {"conversationId": str(conversation.pk), "sender": str(user.pk), "text": text},
        format="json",
    )
    return response.status_code, response.json()


# message.send -------------------------------------------------------------------------


async def test_sends_over_the_limit_get_a_throttled_error_and_the_socket_stays_open(
    sockets,
    settings,
    clock,
):
    set_rates(settings, {"message.send": "2/min"})
    alice, bob = await make_user(), await make_user()
    conversation = await make_conversation(alice, bob)
    alice_socket = await open_socket(sockets, alice)

    for number in (1, 2):
        await alice_socket.send_json_to(send_frame(conversation, f"m{number}", f"c-{number}"))
        ack, _ = await receive_until(alice_socket, "message.ack")
        assert ack["clientMessageId"] == f"c-{number}"
    await alice_socket.send_json_to(send_frame(conversation, "m3", "c-3"))
    error, skipped = await receive_until(alice_socket, "error")

    assert "message.ack" not in {frame["type"] for frame in skipped}
    assert assert_throttled(error, "message.send") == 90
    assert error["clientMessageId"] == "c-3"
    assert error["conversationId"] == str(conversation.pk)
    assert "Too many messages" in error["message"]
    assert await stored_texts(conversation) == ["m1", "m2"]
    # Still open and answering.
    assert (await sync_round_trip(alice_socket, conversation))["type"] == "sync.done"


async def test_a_throttled_socket_sends_again_after_retry_after(
    sockets,
    settings,
    clock,
):
    set_rates(settings, {"message.send": "1/min"})
    alice, bob = await make_user(), await make_user()
    conversation = await make_conversation(alice, bob)
    alice_socket = await open_socket(sockets, alice)
    await alice_socket.send_json_to(send_frame(conversation, "first", "c-1"))
    await receive_until(alice_socket, "message.ack")
    await alice_socket.send_json_to(send_frame(conversation, "second", "c-2"))
    wait = assert_throttled((await receive_until(alice_socket, "error"))[0], "message.send")

    clock.advance(wait)
    await alice_socket.send_json_to(send_frame(conversation, "second", "c-2"))
    ack, _ = await receive_until(alice_socket, "message.ack")

    assert ack["clientMessageId"] == "c-2"
    assert await stored_texts(conversation) == ["first", "second"]


async def test_rest_and_socket_sends_share_one_budget_per_user(
    sockets,
    settings,
    clock,
):
    set_rates(settings, {"message.send": "3/min"})
    alice, bob = await make_user(), await make_user()
    conversation = await make_conversation(alice, bob)
    alice_socket = await open_socket(sockets, alice)
    alice_tab = await open_socket(sockets, alice)
    bob_socket = await open_socket(sockets, bob)
    await settle(alice_socket)

    for text in ("rest 1", "rest 2"):
        status, body = await rest_send(alice, conversation, text)
        assert status == 200, body
    await alice_socket.send_json_to(send_frame(conversation, "socket 1", "s-1"))
    await receive_until(alice_socket, "message.ack")

    # The budget is spent for every transport and every socket of the user.
    await alice_tab.send_json_to(send_frame(conversation, "tab", "t-1"))
    assert_throttled((await receive_until(alice_tab, "error"))[0], "message.send")
    status, body = await rest_send(alice, conversation, "rest 3")
    assert status == 429
    assert body["error"]["code"] == "throttled"
    # Not anyone else's.
    await bob_socket.send_json_to(send_frame(conversation, "bob", "b-1"))
    await receive_until(bob_socket, "message.ack")

    assert await stored_texts(conversation) == ["rest 1", "rest 2", "socket 1", "bob"]


# Frames per socket ------------------------------------------------------------------------


async def test_frames_over_the_socket_rate_are_refused_and_the_socket_recovers(
    sockets,
    settings,
    clock,
):
    set_rates(settings, {"socket.frames": "5/min"})
    alice, bob = await make_user(), await make_user()
    conversation = await make_conversation(alice, bob)
    alice_socket = await open_socket(sockets, alice)  # its barrier frame is the 1st

    for _ in range(4):
        assert (await sync_round_trip(alice_socket, conversation))["type"] == "sync.done"
    refused = await sync_round_trip(alice_socket, conversation)
    wait = assert_throttled(refused, "sync")
    assert refused["conversationId"] == str(conversation.pk)
    assert "Too many frames" in refused["message"]

    # A send over the frame rate names its clientMessageId and stores nothing.
    await alice_socket.send_json_to(send_frame(conversation, "dropped", "c-9"))
    error, _ = await receive_until(alice_socket, "error")
    assert_throttled(error, "message.send")
    assert error["clientMessageId"] == "c-9"
    # Even a frame that is not JSON is answered, as throttled.
    await alice_socket.send_to(text_data="{not json")
    assert (await alice_socket.receive_json_from(timeout=2))["code"] == "throttled"
    assert await stored_texts(conversation) == []

    # Another socket of the same user has a budget of its own.
    alice_tab = await open_socket(sockets, alice)
    assert (await sync_round_trip(alice_tab, conversation))["type"] == "sync.done"

    # Refused frames did not count: after the wait, the next one fits.
    clock.advance(wait)
    await alice_socket.send_json_to(send_frame(conversation, "kept", "c-10"))
    await receive_until(alice_socket, "message.ack")
    assert await stored_texts(conversation) == ["kept"]
    # A full window later the whole budget is back.
    clock.advance(120)
    for _ in range(5):
        assert (await sync_round_trip(alice_socket, conversation))["type"] == "sync.done"
    assert_throttled(await sync_round_trip(alice_socket, conversation), "sync")


async def test_a_socket_that_keeps_flooding_is_closed_with_4429(
    sockets,
    settings,
    clock,
):
    set_rates(settings, {"socket.frames": "3/min"})
    alice, bob = await make_user(), await make_user()
    conversation = await make_conversation(alice, bob)
    alice_socket = await open_socket(sockets, alice)  # 1 frame
    for _ in range(2):
        assert (await sync_round_trip(alice_socket, conversation))["type"] == "sync.done"

    # As many frames again as the rate are refused, each answered ...
    for _ in range(3):
        assert_throttled(await sync_round_trip(alice_socket, conversation), "sync")
    assert await alice_socket.receive_nothing(timeout=0.2)
    # ... and one more closes the socket.
    assert_throttled(await sync_round_trip(alice_socket, conversation), "sync")
    await assert_closed_with(alice_socket, CLOSE_TOO_MANY_FRAMES)


async def test_the_default_frame_rate_leaves_room_for_a_busy_client(
    sockets,
    clock,
):
    """600 frames a minute: a client reading a busy conversation (a read per
    message) and syncing is far from it."""
    alice, bob = await make_user(), await make_user()
    conversation = await make_conversation(alice, bob)
    alice_socket = await open_socket(sockets, alice)
    for _ in range(599):
        await alice_socket.send_json_to(
            {"type": "typing", "conversationId": str(conversation.pk), "active": True}
        )
    assert await alice_socket.receive_nothing(timeout=0.3)
    assert_throttled(await sync_round_trip(alice_socket, conversation), "sync")
