"""Past the process's capacity a socket's send is refused at once with
`overloaded` (realtime.hops.SendQueue), and the same send is taken when
retried with its clientMessageId once the queue has drained."""

import asyncio

import pytest

from realtime import consumers, hops
from realtime.asyncapi import asyncapi_document
from tests.support.asyncapi import validator_for
from tests.support.sockets import (
    make_conversation,
    make_user,
    open_socket,
    receive_until,
    send_frame,
    stored_texts,
)

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_send_that_would_wait_too_long_is_refused_fast_and_taken_on_retry(
    sockets, settings, monkeypatch
):
    settings.CHAT_SEND_MAX_WAIT_SECONDS = 1.0
    alice, bob = await make_user(), await make_user()
    conversation = await make_conversation(alice, bob)
    alice_socket = await open_socket(sockets, alice)
    # 500 sends queued at 5 ms each on one thread: 2.5 s ahead of this one.
    monkeypatch.setattr(hops.send_queue, "waiting", 500)
    monkeypatch.setattr(hops.send_queue, "seconds_per_send", 0.005)
    monkeypatch.setattr(hops.send_queue, "threads", 1)

    frame = send_frame(conversation, "when you can", "busy-1")
    await alice_socket.send_json_to(frame)
    error, skipped = await receive_until(alice_socket, "error")

    assert "message.ack" not in {f["type"] for f in skipped}
    assert (error["code"], error["status"]) == ("overloaded", 503)
    assert (error["frameType"], error["clientMessageId"]) == ("message.send", "busy-1")
    assert error["details"] == {"retryAfterSeconds": 1}
    validator = validator_for(asyncapi_document(), "error", "server")
    assert validator.is_valid(error), list(validator.iter_errors(error))
    assert await stored_texts(conversation) == []

    monkeypatch.setattr(hops.send_queue, "waiting", 0)
    await alice_socket.send_json_to(frame)
    ack, _ = await receive_until(alice_socket, "message.ack")
    assert ack["clientMessageId"] == "busy-1"
    assert await stored_texts(conversation) == ["when you can"]
    assert hops.send_queue.waiting == 0


async def test_a_frame_that_waited_behind_its_sockets_earlier_sends_is_refused(
    sockets, settings, monkeypatch
):
    """The sync-thread queue is empty, but each send takes 0.4 s: a socket
    that sends five at once has its later frames wait in its own inbox. Those
    that have waited longer than the limit by their turn are refused at once,
    not answered seconds late."""
    settings.CHAT_SEND_MAX_WAIT_SECONDS = 1.0
    alice, bob = await make_user(), await make_user()
    conversation = await make_conversation(alice, bob)
    alice_socket = await open_socket(sockets, alice)
    real_send = consumers.send_from_socket

    async def slow_send(*args, **kwargs):
        await asyncio.sleep(0.4)
        return await real_send(*args, **kwargs)

    monkeypatch.setattr(consumers, "send_from_socket", slow_send)
    for number in range(5):
        await alice_socket.send_json_to(send_frame(conversation, f"m{number}", f"c{number}"))
    answers = [await alice_socket.receive_json_from(timeout=5) for _ in range(5)]

    acked = [a["clientMessageId"] for a in answers if a["type"] == "message.ack"]
    refused = [a["clientMessageId"] for a in answers if a.get("code") == "overloaded"]
    assert acked[0] == "c0" and refused[-1] == "c4", answers
    assert acked + refused == [f"c{n}" for n in range(5)], "answered in order, each once"
    assert await stored_texts(conversation) == [f"m{c[1:]}" for c in acked]


def test_sends_queued_for_several_threads_wait_a_share_of_the_queue():
    assert hops.SendQueue(waiting=40, seconds_per_send=0.01, threads=4).expected_wait() == (
        pytest.approx(0.1)
    )


def test_the_queue_learns_how_long_a_send_takes():
    queue = hops.SendQueue(waiting=10, seconds_per_send=0.005)
    for _ in range(100):
        queue.took(0.02)
    assert queue.seconds_per_send == pytest.approx(0.02, rel=0.01)
    assert queue.expected_wait() == pytest.approx(0.2, rel=0.01)
