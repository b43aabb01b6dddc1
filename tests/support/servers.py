"""Clients of real server processes (tests/support/live_server.py) for the
multi-process and fault tests: the REST API over urllib, chat sockets over
websockets whose frames a background task collects, several daphne processes
started at once, their logs, and a scenario bounded in time.

Every wait is bounded: HTTP_TIMEOUT for a request, FRAME_TIMEOUT for a frame.
"""

import asyncio
import contextlib
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.support.live_server import Deployment, Server

FRAME_TIMEOUT = 10
HTTP_TIMEOUT = 10
PASSWORD = "correct-horse-battery-9"

# The servers listen on loopback: never go through a proxy from the environment.
HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# REST -------------------------------------------------------------------------


def http_json(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with HTTP.open(request, timeout=HTTP_TIMEOUT) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


async def api(
    server: Server,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = None,
    expect: int = 200,
) -> Any:
    status, payload = await asyncio.to_thread(http_json, method, server.url + path, body, token)
    assert status == expect, f"{method} {path} on :{server.port}: {status} {payload}"
    return payload


async def sign_up(server: Server, name: str) -> tuple[str, str]:
    """A new user; returns (user id, API token)."""
    username = f"{name}_{uuid.uuid4().hex[:8]}"
    body = {"username": username, "password": PASSWORD, "displayName": name.title()}
    answer = await api(server, "POST", "/api/auth/signup", body, expect=201)
    return answer["user"]["id"], answer["token"]


async def create_direct(server: Server, token: str, other_id: str) -> str:
    answer = await api(
        server, "POST", "/api/conversations", {"users": [other_id]}, token=token, expect=201
    )
    return answer["id"]


async def post_message(
    server: Server, token: str, sender: str, conversation_id: str, text: str, client_id: str
) -> dict[str, Any]:
    body = {
        "conversationId": conversation_id,
        "sender": sender,
        "text": text,
        "clientMessageId": client_id,
    }
    return await api(server, "POST", "/api/messages", body, token=token)


# Sockets ----------------------------------------------------------------------


class Socket:
    """A chat socket whose frames a background task collects, so that waiting
    for one frame never drops another."""

    def __init__(self, name: str, server: Server, connection: ClientConnection) -> None:
        self.name = name
        self.server = server
        self.connection = connection
        self.frames: list[dict[str, Any]] = []
        self.changed = asyncio.Event()
        self.reader = asyncio.create_task(self.read())

    async def read(self) -> None:
        try:
            async for raw in self.connection:
                self.frames.append(json.loads(raw))
                self.changed.set()
        finally:
            self.changed.set()

    async def send(self, frame: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(frame))

    def of_type(self, frame_type: str, conversation_id: str | None = None) -> list[dict]:
        return [
            frame
            for frame in self.frames
            if frame.get("type") == frame_type
            and (conversation_id is None or frame.get("conversationId") == conversation_id)
        ]

    async def wait_for(self, what: str, found: Callable[[], Any]) -> Any:
        """Wait until found() is truthy and return it; fail naming `what`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FRAME_TIMEOUT
        while True:
            self.changed.clear()
            result = found()
            if result:
                return result
            if self.reader.done():
                raise AssertionError(
                    f"{self.name}'s socket on :{self.server.port} closed while waiting for "
                    f"{what}: {self.reader.exception() or self.connection.close_code}; "
                    f"frames: {self.summary()}"
                )
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"{self.name}'s socket on :{self.server.port} got no {what} within "
                    f"{FRAME_TIMEOUT} s; frames: {self.summary()}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)

    def ack_or_error(self, client_id: str) -> list[dict]:
        """The ack of this clientMessageId, or any error frame (which fails fast)."""
        acks = [f for f in self.of_type("message.ack") if f["clientMessageId"] == client_id]
        return acks or self.of_type("error")

    def summary(self) -> str:
        return ", ".join(
            f"{frame.get('type')}"
            + (f"#{frame['seq']}" if "seq" in frame else "")
            + (f"({frame.get('code')})" if frame.get("type") == "error" else "")
            for frame in self.frames
        )

    async def close(self) -> None:
        await self.connection.close()
        self.reader.cancel()
        await asyncio.gather(self.reader, return_exceptions=True)


async def open_socket(name: str, server: Server, token: str) -> Socket:
    connection = await connect(
        server.ws_url,
        additional_headers={"Authorization": f"Bearer {token}"},
        proxy=None,
        open_timeout=FRAME_TIMEOUT,
        close_timeout=2,
    )
    return Socket(name, server, connection)


def message_frames(socket: Socket, conversation_id: str) -> list[dict]:
    """The new messages a socket was told live, in the order it got them:
    `message.new`, and for its own sends their `message.ack` (the sending
    socket gets no `message.new` for them)."""
    return [
        frame
        for frame in socket.frames
        if frame.get("type") in ("message.new", "message.ack")
        and frame.get("conversationId") == conversation_id
    ]


async def barrier(sender: Socket, receivers: list[Socket], conversation_id: str) -> None:
    """Every event published before now has reached `receivers`: a typing
    frame from `sender` goes through the same conversation group after them
    (it is not stored, and not echoed to the typist)."""
    await sender.send({"type": "typing", "conversationId": conversation_id, "active": True})
    for receiver in receivers:
        await receiver.wait_for(
            f"typing from {sender.name}", lambda r=receiver: r.of_type("typing", conversation_id)
        )


# Servers ----------------------------------------------------------------------


def start_servers(deployment: Deployment, count: int) -> list[Server]:
    """Start `count` daphne processes at once (each takes a second or two)."""
    with ThreadPoolExecutor(count) as pool:
        servers = list(pool.map(lambda _: deployment.start_server(), range(count)))
    # Two processes on one port would make a "multi-process" test use one.
    assert len({server.port for server in deployment.servers}) == len(deployment.servers)
    return servers


def server_logs(deployment: Deployment) -> str:
    return "\n".join(
        f"----- daphne :{server.port} (exit {server.process.poll()}) -----\n{server.log()}"
        for server in deployment.servers
    )


async def bounded(
    deployment: Deployment, scenario: Callable[[], Awaitable[None]], *, timeout: float
) -> None:
    """Run the scenario under the test's overall timeout; any failure carries
    every server's log."""
    try:
        await asyncio.wait_for(scenario(), timeout)
    except Exception as exc:
        pytest.fail(
            f"{type(exc).__name__}: {exc}\n\nServer logs:\n{server_logs(deployment)}",
            pytrace=True,
        )
