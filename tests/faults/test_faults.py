"""Faults under real servers (docs/operations.md "Faults"): Redis going away and coming
back empty, PostgreSQL unreachable (refusing, or swallowing connections), a
daphne process killed mid-conversation. In each, nothing acknowledged is
lost, errors are the envelope or a close code that says "reconnect", and
clients that reconnect and sync end with exactly what the database holds.

The faults are our own: a private redis-server (tests/support/faults.py) and
a TCP proxy in front of PostgreSQL. The machine's shared PostgreSQL and Redis
are never stopped. Each test runs under one overall timeout; a failure
carries every server's log.
"""

import asyncio
import contextlib
import json
import time
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from realtime.layer import RedisChannelLayer
from tests.support.faults import (
    BLACKHOLE,
    FORWARD,
    REDIS_SERVER,
    REFUSE,
    postgres_proxy,
    private_redis,
    redis_command,
    through_proxy,
)
from tests.support.live_server import Server, postgres_deployment
from tests.support.servers import (
    Socket,
    api,
    bounded,
    create_direct,
    http_json,
    open_socket,
    post_message,
    sign_up,
    start_servers,
)
from tests.support.services import require_service
from tests.support.settings import load_production_settings

OVERALL_TIMEOUT = 45
CLOSE_TIMEOUT = 8
# Every channel-layer call of the servers is bounded by LAYER_TIMEOUT; a REST
# send while Redis is dead or hung costs at most that once, plus a loaded
# machine's request round trip (SLACK). Unbounded, a send waits on a hung
# Redis forever, so LAYER_TIMEOUT + SLACK still tells the two apart.
LAYER_TIMEOUT = 0.5
SLACK = 2.0
SERVER_ENV = {
    "CHAT_LAYER_TIMEOUT_SECONDS": str(LAYER_TIMEOUT),
    # The servers' rate limits are not under test here.
    "CHAT_RATE_MESSAGE_SEND": "off",
    "CHAT_RATE_AUTH_IP": "off",
    "CHAT_RATE_AUTH_USERNAME": "off",
    "CHAT_RATE_SOCKET_FRAMES": "off",
    "CHAT_RATE_CONVERSATION_CREATE": "off",
}
# The close code that tells a client to reconnect and sync (realtime/consumers.py,
# realtime/layer_guard.py).
CLOSE_UNAVAILABLE = 4503
CRASH = "Exception inside application"


@pytest.fixture
def redis_server_binary() -> None:
    if not REDIS_SERVER:
        require_service("redis-server", "the binary is missing; apt-get install -y redis-server")


# Clients ------------------------------------------------------------------------


async def open_ready(name: str, server: Server, token: str) -> Socket:
    """A socket whose connect has finished on the server (its `presence`
    frames, sent last, have arrived), so that a fault injected next does not
    land in the middle of the handshake."""
    socket = await open_socket(name, server, token)
    await socket.wait_for("presence at connect", lambda: socket.of_type("presence"))
    return socket


async def wait_closed(socket: Socket, timeout: float = CLOSE_TIMEOUT) -> int | None:
    """The close code the server sent, once the socket is closed; fails if it
    stays open (deaf) longer than `timeout`."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(asyncio.shield(socket.reader), timeout)
    assert socket.reader.done(), (
        f"{socket.name}'s socket on :{socket.server.port} is still open {timeout} s later; "
        f"frames: {socket.summary()}"
    )
    return socket.connection.close_code


async def close_all(sockets: list[Socket]) -> None:
    for socket in sockets:
        with contextlib.suppress(Exception):
            await socket.close()


async def wait_for_log(server: Server, text: str, timeout: float = CLOSE_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while text not in server.log():
        assert time.monotonic() < deadline, f"no {text!r} in the log of :{server.port}"
        await asyncio.sleep(0.1)


MESSAGE_FRAMES = {"message.new", "message.updated", "message.deleted"}


async def alice_and_bobs_socket(server: Server) -> tuple[tuple[str, str], str, str, Socket]:
    """Alice and Bob signed up, their direct conversation, and Bob's socket,
    ready: ((alice's id, her token), Bob's token, the conversation, the socket)."""
    a_id, a_token = await sign_up(server, "alice")
    b_id, b_token = await sign_up(server, "bob")
    conversation = await create_direct(server, a_token, b_id)
    return (a_id, a_token), b_token, conversation, await open_ready("B", server, b_token)


def messages_of(socket: Socket, conversation_id: str) -> list[dict]:
    """The messages a socket was given (live or by sync), in arrival order."""
    return [
        frame["message"]
        for frame in socket.frames
        if frame.get("type") in MESSAGE_FRAMES and frame.get("conversationId") == conversation_id
    ]


async def socket_sync(socket: Socket, conversation_id: str, since_version: int) -> list[dict]:
    """The messages a `sync` frame replays, up to its `sync.done`."""
    start = len(socket.frames)
    await socket.send(
        {"type": "sync", "conversationId": conversation_id, "sinceVersion": since_version}
    )
    await socket.wait_for(
        "sync.done",
        lambda: [f for f in socket.frames[start:] if f.get("type") in {"sync.done", "error"}],
    )
    frames = socket.frames[start:]
    assert not [f for f in frames if f["type"] == "error"], frames
    end = next(i for i, f in enumerate(frames) if f["type"] == "sync.done")
    # Live events (read, typing, new messages) may come between a sync's frames.
    return [
        f["message"]
        for f in frames[:end]
        if f.get("conversationId") == conversation_id and f["type"] in MESSAGE_FRAMES
    ]


async def history(server: Server, token: str, conversation_id: str) -> list[dict]:
    return await api(server, "GET", f"/api/messages/{conversation_id}?limit=200", token=token)


async def since(server: Server, token: str, conversation_id: str, version: int) -> list[dict]:
    path = f"/api/messages/{conversation_id}?sinceVersion={version}&limit=200"
    return await api(server, "GET", path, token=token)


def latest(messages: list[dict]) -> dict[str, dict]:
    """id -> the latest state among `messages` (a client's view)."""
    view: dict[str, dict] = {}
    for message in messages:
        held = view.get(message["id"])
        if held is None or held["version"] < message["version"]:
            view[message["id"]] = message
    return view


def assert_view_is_history(view: dict[str, dict], stored: list[dict], who: str) -> None:
    assert [m["seq"] for m in stored] == list(range(1, len(stored) + 1)), "seq has a gap"
    missing = [m["seq"] for m in stored if m["id"] not in view]
    extra = sorted(set(view) - {m["id"] for m in stored})
    assert not missing and not extra, f"{who}: missing seq {missing}, not stored {extra}"
    assert [view[m["id"]] for m in stored] == stored, f"{who}'s view differs from the database"


def assert_everyone_holds_history(clients: list["Client"], stored: list[dict], sends: int) -> None:
    """Each client sent `sends` messages (clientMessageId "<name>-<i>"): the
    database holds each once, every client's view is that history, and each
    client's acks name the stored messages."""
    expected = {f"{c.name}-{i}" for c in clients for i in range(sends)}
    client_ids = [m["clientMessageId"] for m in stored]
    assert sorted(client_ids) == sorted(expected), "lost, duplicated or foreign sends"
    for client in clients:
        assert_view_is_history(client.view(), stored, client.name)
        assert {cid: m["id"] for cid, m in client.acked.items()} == {
            m["clientMessageId"]: m["id"]
            for m in stored
            if m["clientMessageId"].startswith(client.name)
        }


# Redis ---------------------------------------------------------------------------


async def test_layer_survives_a_redis_restart_quicker_than_it_notices(
    tmp_path, monkeypatch, redis_server_binary
):
    """The channel layer exactly as chatproject.settings configures it. Redis
    restarts before the event loop has read the EOF of the pooled
    connections: the next command on each fails with "Connection closed by
    server" unless it is retried on a new connection (the layer's `retry`).
    In daphne that was the first socket connect after a restart: HTTP 500."""
    with private_redis(tmp_path) as redis:
        monkeypatch.setenv("REDIS_URL", redis.url)
        monkeypatch.setenv("CHANNEL_LAYER_PREFIX", "quick-restart")
        settings = load_production_settings()
        config = settings["CHANNEL_LAYERS"]["default"]
        assert config["BACKEND"] == "realtime.layer.RedisChannelLayer"
        layer = RedisChannelLayer(**config["CONFIG"])
        channel = await layer.new_channel()
        groups = [f"g{index}" for index in range(3)]
        await asyncio.gather(*(layer.group_add(group, channel) for group in groups))
        redis.stop()
        redis.start()  # blocking: the loop does not run in between
        for group in groups:
            await layer.group_add(group, channel)
        await layer.group_send(groups[0], {"type": "chat.event"})
        assert (await layer.receive(channel))["type"] == "chat.event"
        await layer.close_pools()


async def test_redis_down_then_back(tmp_path, postgres_url, redis_server_binary):
    """Redis stops while people chat: REST sends are stored and answered 200
    (the publish fails with one log line), open sockets are closed with 4503
    so that clients reconnect, /readyz says 503. When Redis is back (empty)
    new sockets work at the first attempt, live events flow across processes
    again, and a sync from the last version held gives exactly the messages
    sent meanwhile."""
    with (
        private_redis(tmp_path) as redis,
        postgres_deployment(tmp_path, postgres_url, redis.url) as deployment,
    ):
        deployment.env.update(SERVER_ENV)
        first, second = await asyncio.to_thread(start_servers, deployment, 2)
        sockets: list[Socket] = []

        async def scenario() -> None:
            a_id, a_token = await sign_up(first, "alice")
            b_id, b_token = await sign_up(first, "bob")
            conversation = await create_direct(first, a_token, b_id)
            b_socket = await open_ready("B", first, b_token)
            a_socket = await open_ready("A", second, a_token)
            sockets.extend([b_socket, a_socket])
            servers = [first, second]

            sent = []
            for index in range(3):
                sent.append(
                    await post_message(
                        servers[index % 2],
                        a_token,
                        a_id,
                        conversation,
                        f"before {index}",
                        f"b{index}",
                    )
                )
            await b_socket.wait_for(
                "3 live messages", lambda: len(messages_of(b_socket, conversation)) >= 3
            )
            held_version = max(m["version"] for m in messages_of(b_socket, conversation))

            redis.stop()
            for index in range(4):
                started = time.monotonic()
                sent.append(
                    await post_message(
                        servers[index % 2],
                        a_token,
                        a_id,
                        conversation,
                        f"during {index}",
                        f"d{index}",
                    )
                )
                elapsed = time.monotonic() - started
                assert elapsed < LAYER_TIMEOUT + SLACK, f"a send waited {elapsed:.1f} s on Redis"
            for server in servers:
                await wait_for_log(
                    server, f"Live publish of message.new to conversation.{conversation} failed"
                )
                status, body = await asyncio.to_thread(http_json, "GET", server.url + "/readyz")
                checks = {c["name"]: c["ok"] for c in json.loads(body)["checks"]}
                assert status == 503 and checks == {"database": True, "channel layer": False}, body
            # The open sockets cannot get events any more: they are told so.
            for socket in (b_socket, a_socket):
                assert await wait_closed(socket) == CLOSE_UNAVAILABLE, socket.summary()
            # A socket opened meanwhile is closed at once with the same code.
            early = await open_socket("B-early", first, b_token)
            sockets.append(early)
            assert await wait_closed(early) == CLOSE_UNAVAILABLE
            # Each process has seen the outage (so it keeps sockets opened after it).
            for server in servers:
                await wait_for_log(server, "The channel layer is unreachable")

            redis.start()  # the same port, and empty
            b_again = await open_ready("B2", second, b_token)  # on the other process now
            a_again = await open_ready("A2", first, a_token)
            sockets.extend([b_again, a_again])
            replay = await socket_sync(b_again, conversation, held_version)
            assert [m["id"] for m in replay] == [m["id"] for m in sent[3:]], replay
            assert await since(first, b_token, conversation, held_version) == replay

            # Live again, both ways across the processes, socket and REST.
            await a_again.send(
                {
                    "type": "message.send",
                    "conversationId": conversation,
                    "text": "after, over the socket",
                    "clientMessageId": "a0",
                }
            )
            ack = await a_again.wait_for("ack", lambda: a_again.ack_or_error("a0"))
            assert ack[0]["type"] == "message.ack", ack
            sent.append(ack[0]["message"])
            sent.append(
                await post_message(second, a_token, a_id, conversation, "after, REST", "a1")
            )
            await b_again.wait_for(
                "2 live messages after Redis came back",
                lambda: len(messages_of(b_again, conversation)) >= len(replay) + 2,
            )
            assert [m["id"] for m in messages_of(b_again, conversation)[len(replay) :]] == [
                m["id"] for m in sent[-2:]
            ]
            stored = await history(first, b_token, conversation)
            assert [m["id"] for m in stored] == [m["id"] for m in sent]
            view = latest(messages_of(b_socket, conversation) + messages_of(b_again, conversation))
            assert_view_is_history(view, stored, "B")
            for server in servers:
                assert CRASH not in server.log()

        try:
            await bounded(deployment, scenario, timeout=OVERALL_TIMEOUT)
        finally:
            await close_all(sockets)


async def test_redis_emptied_under_open_sockets(tmp_path, postgres_url, redis_server_binary):
    """Redis loses its data without the sockets' connections noticing (a
    failover to an empty replica; here FLUSHALL), then is killed and
    restarted at once. Every group is gone: an open socket would stay open
    and deaf. It must be closed (4503) within a few seconds; reconnecting
    and syncing gives every message, and the new socket is live."""
    with (
        private_redis(tmp_path) as redis,
        postgres_deployment(tmp_path, postgres_url, redis.url) as deployment,
    ):
        deployment.env.update(SERVER_ENV)
        first, second = await asyncio.to_thread(start_servers, deployment, 2)
        sockets: list[Socket] = []

        async def scenario() -> None:
            a_id, a_token = await sign_up(first, "alice")
            b_id, b_token = await sign_up(first, "bob")
            conversation = await create_direct(first, a_token, b_id)
            b_socket = await open_ready("B", first, b_token)
            sockets.append(b_socket)
            for round_, fault in enumerate(("flushall", "restart")):
                before = await post_message(second, a_token, a_id, conversation, "hi", f"x{round_}")
                await b_socket.wait_for(
                    "the live message",
                    lambda s=b_socket, m=before: m in messages_of(s, conversation),
                )
                if fault == "flushall":
                    assert redis_command(redis.port, "FLUSHALL").startswith(b"+OK")
                else:
                    redis.stop()
                    redis.start()
                after = await post_message(second, a_token, a_id, conversation, "?", f"y{round_}")
                # Not delivered (the groups are gone): the socket must not stay open.
                code = await wait_closed(b_socket)
                assert code == CLOSE_UNAVAILABLE, (fault, code, b_socket.summary())
                assert after not in messages_of(b_socket, conversation)

                b_socket = await open_ready(f"B-after-{fault}", second, b_token)
                sockets.append(b_socket)
                replay = await socket_sync(b_socket, conversation, before["version"])
                assert replay == [after], replay
                live = await post_message(first, a_token, a_id, conversation, "live?", f"z{round_}")
                await b_socket.wait_for(
                    "a live message on the new socket",
                    lambda s=b_socket, m=live: m in messages_of(s, conversation),
                )
            assert "lost its groups" in first.log()
            for server in (first, second):
                assert CRASH not in server.log()

        try:
            await bounded(deployment, scenario, timeout=OVERALL_TIMEOUT)
        finally:
            await close_all(sockets)


# PostgreSQL ------------------------------------------------------------------------


def assert_unavailable(status: int | str, body: Any, elapsed: float, limit: float) -> None:
    assert status == 503, (status, body)
    error = json.loads(body)["error"]
    assert error["code"] == "service_unavailable" and error["requestId"], error
    assert elapsed < limit, f"answered after {elapsed:.1f} s"


async def timed(method: str, url: str, body: Any = None, token: str | None = None):
    started = time.monotonic()
    status, payload = await asyncio.to_thread(http_json, method, url, body, token)
    return status, payload, time.monotonic() - started


async def test_redis_stopped_not_killed(tmp_path, postgres_url, redis_server_binary):
    """Redis hangs (SIGSTOP: connections stay open, nothing answers). A REST
    send is stored and answered within about a second (every channel-layer
    call has a time limit), another socket's database-only sync is served,
    /readyz answers 503 at once; when Redis resumes, live events flow again
    and a sync gives every message sent meanwhile."""
    with (
        private_redis(tmp_path) as redis,
        postgres_deployment(tmp_path, postgres_url, redis.url) as deployment,
    ):
        deployment.env.update(SERVER_ENV)
        (server,) = await asyncio.to_thread(start_servers, deployment, 1)
        sockets: list[Socket] = []

        async def scenario() -> None:
            alice, b_token, conversation, b_socket = await alice_and_bobs_socket(server)
            a_id, a_token = alice
            sockets.append(b_socket)
            sent = [await post_message(server, a_token, a_id, conversation, "before", "c0")]
            await b_socket.wait_for("the live message", lambda: messages_of(b_socket, conversation))
            held_version = sent[0]["version"]

            redis.pause()
            try:
                for index in range(1, 4):
                    started = time.monotonic()
                    sent.append(
                        await post_message(
                            server, a_token, a_id, conversation, f"hung {index}", f"c{index}"
                        )
                    )
                    elapsed = time.monotonic() - started
                    assert elapsed < LAYER_TIMEOUT + SLACK, (
                        f"a send waited {elapsed:.1f} s on the hung Redis"
                    )
                started = time.monotonic()
                replay = await socket_sync(b_socket, conversation, held_version)
                assert [m["id"] for m in replay] == [m["id"] for m in sent[1:]], replay
                assert time.monotonic() - started < 5, "the database-only sync waited on Redis"
                started = time.monotonic()
                status, _ = await asyncio.to_thread(http_json, "GET", server.url + "/readyz")
                assert status == 503 and time.monotonic() - started < 3
            finally:
                redis.resume()

            # Resumed with its data: live again, and nothing is lost.
            async def live_again() -> bool:
                client_id = f"after-{time.monotonic_ns()}"
                message = await post_message(
                    server, a_token, a_id, conversation, "after", client_id
                )
                sent.append(message)
                await asyncio.sleep(0.5)
                return any(m["id"] == message["id"] for m in messages_of(b_socket, conversation))

            deadline = time.monotonic() + 15
            while not await live_again():
                assert time.monotonic() < deadline, "no live event after Redis resumed"
            stored = await history(server, b_token, conversation)
            assert [m["id"] for m in stored] == [m["id"] for m in sent]
            assert CRASH not in server.log()

        try:
            await bounded(deployment, scenario, timeout=OVERALL_TIMEOUT)
        finally:
            await close_all(sockets)


async def test_postgres_unreachable(tmp_path, postgres_url, redis_url):
    """PostgreSQL refuses connections (and the open ones are reset), then
    swallows them (no answer at all): the API answers 503 service_unavailable
    in the envelope within seconds (once the connection pool has waited its
    DATABASE_POOL_TIMEOUT for a connection),
    /readyz 503, a socket send gets an error frame and the socket stays open;
    nothing is half-written. When PostgreSQL is reachable again the same
    process serves again, seq continues without a gap, and a send retried
    with its clientMessageId is stored once."""
    connect_timeout = 2
    pool_timeout = 1
    with (
        postgres_proxy(postgres_url) as proxy,
        postgres_deployment(tmp_path, postgres_url, redis_url) as deployment,
    ):
        deployment.env.update(SERVER_ENV)
        deployment.env["DATABASE_URL"] = through_proxy(deployment.env["DATABASE_URL"], proxy)
        deployment.env["DATABASE_CONNECT_TIMEOUT"] = str(connect_timeout)
        deployment.env["DATABASE_POOL_TIMEOUT"] = str(pool_timeout)
        (server,) = await asyncio.to_thread(start_servers, deployment, 1)
        sockets: list[Socket] = []

        async def scenario() -> None:
            alice, b_token, conversation, b_socket = await alice_and_bobs_socket(server)
            a_id, a_token = alice
            sockets.append(b_socket)
            for index in range(3):
                await post_message(server, a_token, a_id, conversation, f"m{index}", f"m{index}")
            send = {"conversationId": conversation, "sender": a_id, "text": "lost?"}

            proxy.set_mode(REFUSE)
            read = await timed("GET", f"{server.url}/api/messages/{conversation}", None, a_token)
            assert_unavailable(*read, limit=pool_timeout + 1)
            write = await timed(
                "POST", f"{server.url}/api/messages", send | {"clientMessageId": "r1"}, a_token
            )
            assert_unavailable(*write, limit=pool_timeout + 1)
            status, body, _ = await timed("GET", f"{server.url}/readyz")
            checks = {c["name"]: c["ok"] for c in json.loads(body)["checks"]}
            assert status == 503 and checks == {"database": False, "channel layer": True}, body
            status, _, _ = await timed("GET", f"{server.url}/healthz")
            assert status == 200
            frame = {
                "type": "message.send",
                "conversationId": conversation,
                "text": "ws",
                "clientMessageId": "w1",
            }
            await b_socket.send(frame)
            error = await b_socket.wait_for("the error frame", lambda: b_socket.of_type("error"))
            assert (error[0]["code"], error[0]["status"], error[0]["clientMessageId"]) == (
                "service_unavailable",
                503,
                "w1",
            ), error
            assert not b_socket.reader.done(), "the socket was closed by a database error"
            # A new socket cannot be authenticated: daphne refuses the
            # handshake with a 500 (the browser retries with backoff).
            with pytest.raises(InvalidStatus) as refused:
                await open_socket("B-new", server, b_token)
            assert refused.value.response.status_code == 500
            assert server.log().count(CRASH) == 1, "anything but the refused handshake crashed"

            proxy.set_mode(BLACKHOLE)  # connections hang: only connect_timeout ends them
            write = await timed(
                "POST", f"{server.url}/api/messages", send | {"clientMessageId": "h1"}, a_token
            )
            assert_unavailable(*write, limit=connect_timeout + 3)
            status, body, elapsed = await timed("GET", f"{server.url}/readyz")
            assert status == 503 and elapsed < connect_timeout + 3, (status, body, elapsed)

            # Connections cut in the middle of a burst of sends.
            proxy.set_mode(FORWARD)

            async def burst_send(index: int) -> tuple[str, int]:
                body = send | {"text": f"burst {index}", "clientMessageId": f"burst{index}"}
                status, _ = await asyncio.to_thread(
                    http_json, "POST", f"{server.url}/api/messages", body, a_token
                )
                return body["clientMessageId"], status

            async def cut_soon() -> None:
                await asyncio.sleep(0.05)
                proxy.set_mode(REFUSE)
                await asyncio.sleep(0.3)
                proxy.set_mode(FORWARD)

            results = await asyncio.gather(*(burst_send(i) for i in range(20)), cut_soon())
            outcomes = dict(results[:-1])
            assert set(outcomes.values()) <= {200, 503}, outcomes

            # Back: the same process serves, without a restart, once its
            # connection pool's next attempt (seconds apart) has reconnected.
            deadline = time.monotonic() + 10
            while (await timed("GET", f"{server.url}/readyz"))[0] != 200:
                assert time.monotonic() < deadline, "not ready 10 s after PostgreSQL came back"
                await asyncio.sleep(0.2)
            stored = await history(server, a_token, conversation)
            client_ids = [m["clientMessageId"] for m in stored]
            assert not {"r1", "h1", "w1"} & set(client_ids), "a failed send left a message"
            assert [m["seq"] for m in stored] == list(range(1, len(stored) + 1)), "seq has a gap"
            assert len(client_ids) == len(set(client_ids))
            acknowledged = {cid for cid, status in outcomes.items() if status == 200}
            assert acknowledged <= set(client_ids), "an acknowledged send was lost"
            # A send that failed may or may not have committed (the answer was
            # lost); retrying with its clientMessageId settles it, once.
            for cid, status in outcomes.items():
                if status != 200:
                    index = cid.removeprefix("burst")
                    await post_message(server, a_token, a_id, conversation, f"burst {index}", cid)
            after = await post_message(server, a_token, a_id, conversation, "after", "after")
            stored = await history(server, a_token, conversation)
            assert [m["seq"] for m in stored] == list(range(1, len(stored) + 1)), "seq has a gap"
            assert sorted(m["clientMessageId"] for m in stored) == sorted(
                [f"m{i}" for i in range(3)] + list(outcomes) + ["after"]
            )
            assert after["seq"] == len(stored)
            # The socket that saw the outage still works.
            await b_socket.send(frame | {"clientMessageId": "w2"})
            ack = await b_socket.wait_for(
                "ack",
                lambda: [
                    f for f in b_socket.of_type("message.ack") if f["clientMessageId"] == "w2"
                ],
            )
            assert ack[0]["message"]["seq"] == len(stored) + 1
            stored = await history(server, a_token, conversation)
            # A send whose answer was lost in the cut may have committed
            # without its live event: B holds everything after a sync.
            view = latest(messages_of(b_socket, conversation))
            view.update(latest(await socket_sync(b_socket, conversation, 0)))
            assert_view_is_history(view, stored, "B")
            assert server.log().count(CRASH) == 1
            answered = sum(status == 200 for status in outcomes.values())
            print(f"burst: {answered} of 20 sends answered 200 around the cut")

        try:
            await bounded(deployment, scenario, timeout=OVERALL_TIMEOUT)
        finally:
            await close_all(sockets)


# A daphne process killed ----------------------------------------------------------


class Client:
    """A chat client as static/chat/live.js behaves: on a dropped socket it
    reconnects (to the next server that answers), syncs from the last version
    it holds without a gap, and sends again what was not acknowledged, with
    the same clientMessageId."""

    def __init__(self, name: str, token: str, servers: list[Server], conversation: str) -> None:
        self.name = name
        self.token = token
        self.servers = servers
        self.conversation = conversation
        self.sockets: list[Socket] = []
        self.unacked: dict[str, str] = {}  # clientMessageId -> text
        self.acked: dict[str, dict] = {}
        self.reconnects = 0

    @property
    def socket(self) -> Socket:
        return self.sockets[-1]

    def view(self) -> dict[str, dict]:
        messages = []
        for socket in self.sockets:
            messages += messages_of(socket, self.conversation)
            messages += [f["message"] for f in socket.of_type("message.ack")]
        return latest(messages)

    def held_version(self) -> int:
        versions = {m["version"] for m in self.view().values()}
        held = 0
        while held + 1 in versions:
            held += 1
        return held

    async def connect(self, server: Server) -> None:
        self.sockets.append(await open_ready(f"{self.name}{len(self.sockets)}", server, self.token))

    async def reconnect(self) -> None:
        """To the servers in turn, starting after the one that dropped us."""
        start = self.servers.index(self.socket.server) + 1
        for step in range(len(self.servers) * 3):
            server = self.servers[(start + step) % len(self.servers)]
            try:
                await self.connect(server)
                break
            except (OSError, InvalidStatus, TimeoutError, AssertionError):
                await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"{self.name} could not reconnect")
        self.reconnects += 1
        await socket_sync(self.socket, self.conversation, self.held_version())
        for client_id, text in list(self.unacked.items()):
            await self.send_frame(client_id, text)

    async def send_frame(self, client_id: str, text: str) -> None:
        frame = {
            "type": "message.send",
            "conversationId": self.conversation,
            "text": text,
            "clientMessageId": client_id,
        }
        with contextlib.suppress(ConnectionClosed):
            await self.socket.send(frame)

    def collect_acks(self) -> None:
        for socket in self.sockets:
            for ack in socket.of_type("message.ack"):
                self.unacked.pop(ack["clientMessageId"], None)
                self.acked[ack["clientMessageId"]] = ack["message"]

    async def chat(self, count: int, interval: float) -> None:
        for index in range(count):
            client_id = f"{self.name}-{index}"
            self.unacked[client_id] = f"{self.name} says {index}"
            await self.send_frame(client_id, self.unacked[client_id])
            await asyncio.sleep(interval)
            await self.keep_up()

    async def keep_up(self) -> None:
        self.collect_acks()
        if self.socket.reader.done():
            await self.reconnect()

    async def settle(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while True:
            await self.keep_up()
            if not self.unacked:
                return
            assert time.monotonic() < deadline, f"{self.name}: never acknowledged {self.unacked}"
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        await close_all(self.sockets)


async def test_daphne_killed_mid_conversation(tmp_path, postgres_url, redis_url):
    """Two processes; four people in a group, two on each; the first
    process is killed (SIGKILL) while all four are sending. Its clients
    reconnect to the other process, sync and resend what was not
    acknowledged; in the end every client holds exactly what the database
    holds: the same ids, seq 1..N, each clientMessageId once."""
    with postgres_deployment(tmp_path, postgres_url, redis_url) as deployment:
        deployment.env.update(SERVER_ENV)
        victim, survivor = await asyncio.to_thread(start_servers, deployment, 2)
        clients: list[Client] = []
        per_client = 15

        async def scenario() -> None:
            users = [await sign_up(survivor, name) for name in ("ann", "bea", "cid", "dee")]
            group = await api(
                survivor,
                "POST",
                "/api/conversations",
                {"users": [user_id for user_id, _ in users[1:]], "kind": "group"},
                token=users[0][1],
                expect=201,
            )
            for index, (name, (_, token)) in enumerate(zip("ABCD", users, strict=True)):
                client = Client(name, token, [victim, survivor], group["id"])
                await client.connect(victim if index < 2 else survivor)
                clients.append(client)

            async def kill_midway() -> None:
                await asyncio.sleep(per_client * 0.03 / 2)
                await asyncio.to_thread(victim.kill)

            await asyncio.gather(*(c.chat(per_client, 0.03) for c in clients), kill_midway())
            for client in clients:
                await client.settle()
            # Everyone syncs once more (what a client does on a version jump),
            # then compares with the database.
            for client in clients:
                await socket_sync(client.socket, client.conversation, client.held_version())
            stored = await history(survivor, users[0][1], group["id"])
            assert_everyone_holds_history(clients, stored, per_client)
            assert [c.reconnects for c in clients] == [1, 1, 0, 0]
            assert victim.process.returncode is not None
            assert CRASH not in survivor.log()

        try:
            await bounded(deployment, scenario, timeout=OVERALL_TIMEOUT)
        finally:
            for client in clients:
                await client.close()
