"""Several daphne processes sharing one PostgreSQL database and one Redis
channel layer: a message sent to any process, over REST or a socket, reaches
the sockets of every other process exactly once (in seq order when sent one
after another) and matches the stored history; a process started later gets
conversations created after its sockets connected; a socket outlives the
layer's group expiry.

The servers have a database of their own (tests/support/live_server.py), so these
tests use no pytest-django database. Everything is bounded: each test runs
under one overall timeout, each wait for a frame under a shorter one, and a
failure carries every server's log.
"""

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.live_server import Deployment, Server, postgres_deployment
from tests.support.servers import (
    PASSWORD,
    api,
    barrier,
    bounded,
    create_direct,
    message_frames,
    open_socket,
    post_message,
    sign_up,
    start_servers,
)

pytestmark = pytest.mark.redis

OVERALL_TIMEOUT = 30
MESSAGES = 30


# Servers ----------------------------------------------------------------------


@pytest.fixture
def deployment(tmp_path, postgres_url, redis_url) -> Iterator[Deployment]:
    with postgres_deployment(tmp_path, postgres_url, redis_url) as deployment:
        yield deployment


# Tests ------------------------------------------------------------------------


async def test_messages_cross_processes_exactly_once_in_order(deployment):
    first, second = await asyncio.to_thread(start_servers, deployment, 2)

    async def scenario() -> None:
        a_id, a_token = await sign_up(first, "alice")
        b_id, b_token = await sign_up(first, "bob")
        conversation_id = await create_direct(first, a_token, b_id)
        b_socket = await open_socket("B", first, b_token)
        a_socket = await open_socket("A", second, a_token)
        try:
            sent: list[dict[str, Any]] = []  # the stored messages, in sending order
            for index in range(MESSAGES):
                text = f"message {index} from A"
                client_id = f"cid-{index}-{uuid.uuid4().hex[:8]}"
                path = index % 3
                if path == 0:
                    await a_socket.send(
                        {
                            "type": "message.send",
                            "conversationId": conversation_id,
                            "text": text,
                            "clientMessageId": client_id,
                        }
                    )
                    ack = await a_socket.wait_for(
                        f"ack of {client_id}",
                        lambda cid=client_id: a_socket.ack_or_error(cid),
                    )
                    assert len(ack) == 1 and ack[0]["type"] == "message.ack", ack
                    message = ack[0]["message"]
                else:
                    server = second if path == 1 else first
                    message = await post_message(
                        server, a_token, a_id, conversation_id, text, client_id
                    )
                assert message["text"] == text and message["clientMessageId"] == client_id
                sent.append(message)

            await b_socket.wait_for(
                f"{MESSAGES} message.new",
                lambda: len(message_frames(b_socket, conversation_id)) >= MESSAGES,
            )
            await barrier(a_socket, [b_socket], conversation_id)
            await barrier(b_socket, [a_socket], conversation_id)

            # Sends were one after another, so seq follows the sending order.
            assert [m["seq"] for m in sent] == list(range(1, MESSAGES + 1)), sent
            sent_ids = [m["id"] for m in sent]
            assert len(set(sent_ids)) == MESSAGES

            for socket in (b_socket, a_socket):
                frames = message_frames(socket, conversation_id)
                # The live events come in order; an ack of A's socket can
                # come before the event of the message posted just before it.
                live = [frame["seq"] for frame in frames if frame["type"] == "message.new"]
                assert live == sorted(live), f"{socket.name} got {socket.summary()}"
                frames.sort(key=lambda frame: frame["seq"])
                ids = [frame["message"]["id"] for frame in frames]
                assert ids == sent_ids, f"{socket.name} got {socket.summary()}"
                assert [frame["seq"] for frame in frames] == list(range(1, MESSAGES + 1))
                for frame, message in zip(frames, sent, strict=True):
                    assert frame["message"] == message, (frame, message)
                    assert frame["version"] == message["version"]
                assert not socket.of_type("error"), socket.of_type("error")

            acks = a_socket.of_type("message.ack")
            assert len(acks) == len(range(0, MESSAGES, 3)), acks
            assert not b_socket.of_type("message.ack")

            history = await api(
                first, "GET", f"/api/messages/{conversation_id}?limit=200", token=b_token
            )
            assert [m["id"] for m in history] == sent_ids
            assert history == sent
        finally:
            await a_socket.close()
            await b_socket.close()

    await bounded(deployment, scenario, timeout=OVERALL_TIMEOUT)


async def test_concurrent_sends_from_both_processes_arrive_once(deployment):
    """Sends racing on both processes: seq stays gap-free and every socket gets
    each message once. Arrival order is not asserted: two processes publish
    after their own commits, so seq k+1 may overtake seq k (clients resync
    when a version skips)."""
    first, second = await asyncio.to_thread(start_servers, deployment, 2)

    async def scenario() -> None:
        a_id, a_token = await sign_up(first, "alice")
        b_id, b_token = await sign_up(first, "bob")
        conversation_id = await create_direct(first, a_token, b_id)
        b_socket = await open_socket("B", first, b_token)
        a_socket = await open_socket("A", second, a_token)
        try:

            async def send(index: int) -> None:
                client_id = f"race-{index}"
                text = f"race {index}"
                if index % 3 == 0:
                    frame = {
                        "type": "message.send",
                        "conversationId": conversation_id,
                        "text": text,
                        "clientMessageId": client_id,
                    }
                    await a_socket.send(frame)
                else:
                    server = second if index % 3 == 1 else first
                    await post_message(server, a_token, a_id, conversation_id, text, client_id)

            await asyncio.gather(*(send(index) for index in range(MESSAGES)))
            await a_socket.wait_for(
                "every ack",
                lambda: (
                    len(a_socket.of_type("message.ack")) >= len(range(0, MESSAGES, 3))
                    or a_socket.of_type("error")
                ),
            )
            await b_socket.wait_for(
                f"{MESSAGES} message.new",
                lambda: len(message_frames(b_socket, conversation_id)) >= MESSAGES,
            )
            await barrier(a_socket, [b_socket], conversation_id)
            await barrier(b_socket, [a_socket], conversation_id)

            history = await api(
                first, "GET", f"/api/messages/{conversation_id}?limit=200", token=b_token
            )
            assert [m["seq"] for m in history] == list(range(1, MESSAGES + 1)), history
            assert sorted(m["clientMessageId"] for m in history) == sorted(
                f"race-{index}" for index in range(MESSAGES)
            )
            for socket in (b_socket, a_socket):
                frames = message_frames(socket, conversation_id)
                assert sorted(frame["seq"] for frame in frames) == list(range(1, MESSAGES + 1)), (
                    f"{socket.name} got {socket.summary()}"
                )
                by_seq = {frame["seq"]: frame["message"] for frame in frames}
                assert [by_seq[m["seq"]] for m in history] == history
                assert not socket.of_type("error"), socket.of_type("error")
        finally:
            await a_socket.close()
            await b_socket.close()

    await bounded(deployment, scenario, timeout=OVERALL_TIMEOUT)


async def test_later_process_gets_conversation_created_after_connecting(deployment):
    first, second = await asyncio.to_thread(start_servers, deployment, 2)

    async def scenario() -> None:
        a_id, a_token = await sign_up(first, "alice")
        c_id, c_token = await sign_up(second, "carol")
        third = await asyncio.to_thread(deployment.start_server)
        c_socket = await open_socket("C", third, c_token)
        a_socket = await open_socket("A", second, a_token)
        try:
            # C has no conversation yet: only its own presence at connect.
            assert {frame["type"] for frame in c_socket.frames} <= {"presence"}, c_socket.summary()
            conversation_id = await create_direct(first, a_token, c_id)
            for socket in (c_socket, a_socket):
                new = await socket.wait_for(
                    "conversation.new", lambda s=socket: s.of_type("conversation.new")
                )
                assert len(new) == 1 and new[0]["conversation"]["id"] == conversation_id, new

            await a_socket.send(
                {
                    "type": "message.send",
                    "conversationId": conversation_id,
                    "text": "over the socket on process 2",
                    "clientMessageId": "late-1",
                }
            )
            await a_socket.wait_for(
                "ack", lambda: a_socket.of_type("message.ack") or a_socket.of_type("error")
            )
            await post_message(
                first, a_token, a_id, conversation_id, "over REST on process 1", "late-2"
            )
            await c_socket.wait_for(
                "2 message.new", lambda: len(message_frames(c_socket, conversation_id)) >= 2
            )
            await barrier(a_socket, [c_socket], conversation_id)

            frames = message_frames(c_socket, conversation_id)
            assert [frame["seq"] for frame in frames] == [1, 2], c_socket.summary()
            assert [frame["message"]["clientMessageId"] for frame in frames] == [
                "late-1",
                "late-2",
            ]
            history = await api(
                third, "GET", f"/api/messages/{conversation_id}?limit=200", token=c_token
            )
            assert [frame["message"] for frame in frames] == history
            assert not c_socket.of_type("error") and not a_socket.of_type("error")

            # A's last socket closing on process 2 reaches C on process 3.
            await a_socket.close()
            offline = await c_socket.wait_for(
                "A's presence offline",
                lambda: [
                    frame
                    for frame in c_socket.of_type("presence")
                    if frame["userId"] == a_id and not frame["online"]
                ],
            )
            assert len(offline) == 1 and offline[0]["lastSeenAt"], offline
        finally:
            await a_socket.close()
            await c_socket.close()

    await bounded(deployment, scenario, timeout=OVERALL_TIMEOUT)


GROUP_EXPIRY = 2


async def test_socket_open_longer_than_group_expiry_still_gets_events(deployment):
    """channels-redis drops a channel from a group `group_expiry` seconds after
    it joined (3600 s here by default): a socket open longer must stay in its
    groups, or it silently stops getting events. Shrunk to 2 s to see it."""
    deployment.env["CHANNEL_LAYER_GROUP_EXPIRY"] = str(GROUP_EXPIRY)
    first, second = await asyncio.to_thread(start_servers, deployment, 2)

    async def scenario() -> None:
        a_id, a_token = await sign_up(first, "alice")
        b_id, b_token = await sign_up(first, "bob")
        conversation_id = await create_direct(first, a_token, b_id)
        b_socket = await open_socket("B", first, b_token)
        try:
            await asyncio.sleep(GROUP_EXPIRY * 2.5)
            await post_message(second, a_token, a_id, conversation_id, "still there?", "old-1")
            frames = await b_socket.wait_for(
                "message.new after the group expiry",
                lambda: message_frames(b_socket, conversation_id),
            )
            assert [frame["message"]["clientMessageId"] for frame in frames] == ["old-1"]
            # The user group too: a conversation created now still reaches B.
            group = await api(
                second,
                "POST",
                "/api/conversations",
                {"users": [b_id], "kind": "group"},
                token=a_token,
                expect=201,
            )
            new = await b_socket.wait_for(
                "conversation.new after the group expiry",
                lambda: b_socket.of_type("conversation.new"),
            )
            assert [frame["conversation"]["id"] for frame in new] == [group["id"]]
        finally:
            await b_socket.close()

    await bounded(deployment, scenario, timeout=OVERALL_TIMEOUT)


async def test_revoking_a_token_closes_its_sockets_on_every_process(deployment):
    """A token revoked through one process closes, within a second, the
    sockets opened with it on the other process (4401), and only those."""
    first, second = await asyncio.to_thread(start_servers, deployment, 2)

    async def scenario() -> None:
        _, a_token = await sign_up(first, "alice")
        b_id, b_token = await sign_up(first, "bob")
        conversation = await create_direct(first, a_token, b_id)
        me = await api(first, "GET", "/api/users/me", token=a_token)
        second_token = await another_token(first, me["username"])
        revoked = await open_socket("A on the second process", second, a_token)
        kept = await open_socket("A with another token", second, second_token)
        bob = await open_socket("B", first, b_token)
        await barrier(bob, [revoked, kept], conversation)
        tokens = await api(first, "GET", "/api/auth/tokens", token=second_token)
        token_id = next(t["id"] for t in tokens if a_token.startswith(t["prefix"]))
        started = asyncio.get_running_loop().time()
        await api(first, "DELETE", f"/api/auth/tokens/{token_id}", token=second_token)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(revoked.reader), 1.5)
        elapsed = asyncio.get_running_loop().time() - started
        assert revoked.reader.done(), f"still open {elapsed:.1f} s after the revocation"
        assert revoked.connection.close_code == 4401
        # The other token's socket, and bob's, still get events.
        await post_message(first, b_token, b_id, conversation, "still here", "k1")
        await kept.wait_for("the message after", lambda: message_frames(kept, conversation))
        assert not revoked.of_type("credential.revoked") and not kept.of_type("credential.revoked")
        for socket in (kept, bob):
            await socket.close()

    await bounded(deployment, scenario, timeout=OVERALL_TIMEOUT)


async def another_token(server: Server, username: str) -> str:
    """A second token for an account that sign_up made (same password)."""
    body = await api(
        server, "POST", "/api/auth/token", {"username": username, "password": PASSWORD}
    )
    return body["token"]
