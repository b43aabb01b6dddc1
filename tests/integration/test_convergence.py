"""Randomized convergence (issue 13), in the spirit of Zulip's verify_action:
hypothesis drives three people's socket clients, on two daphne processes
sharing PostgreSQL and Redis, through random sends (some replies, some with
@mentions, over the socket or REST on either process), edits, deletes,
reactions added and taken back, syncs, and disconnects (clean or cut) with a
reconnect to either process. Each client keeps only what the frames it
received tell it (message.new/updated/deleted, message.ack, sync replies:
by message id, the highest version wins) and syncs as docs/websocket.md
says a client does: after every (re)connect, and on a version gap, from the
last version up to which it holds everything. At the end, once every client
has synced, each client's view of every conversation equals what the REST
API returns, both as history (`?limit=200`) and as the `sinceVersion=0`
feed, paged; no live event arrived out of version order; no unexpected error.

Bounded: CONVERGENCE_SETTINGS (15 examples of 10 to 25 rounds of one to
three people acting at once), each example under EXAMPLE_TIMEOUT. The
examples are reproducible from a seed: fixed in CI, random otherwise,
printed on failure; CHAT_CONVERGENCE_SEED=N replays one and shrinks its
failure to a minimal example.
"""

import asyncio
import os
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from tests.support.live_server import Deployment, Server, postgres_deployment
from tests.support.servers import (
    FRAME_TIMEOUT,
    Socket,
    api,
    http_json,
    open_socket,
    server_logs,
    sign_up,
    start_servers,
)

pytestmark = pytest.mark.redis

IN_CI = os.environ.get("CI") == "true"
CI_SEED = 13
REPLAYED_SEED = os.environ.get("CHAT_CONVERGENCE_SEED")
SEED = int(REPLAYED_SEED or (CI_SEED if IN_CI else random.getrandbits(32)))
EXAMPLE_TIMEOUT = 45
PEOPLE = ("alice", "bob", "carol")
# Two new groups an example: alice and bob's, and all three's (alice creates both).
MEMBERS = ((0, 1), (0, 1, 2))
EMOJI = ("👍", "🎉", "❤️", "😂", "✓")
MESSAGE_EVENTS = ("message.new", "message.updated", "message.deleted")
BARRIER = "test.barrier"  # an unknown frame type: its error answers after every frame before it
# (code, frameType): the barriers' answers, and a socket reaction that reached
# the server after a REST delete of its message.
EXPECTED_ERRORS = {
    ("unknown_type", BARRIER),
    ("message_deleted", "reaction.add"),
    ("message_deleted", "reaction.remove"),
}

CONVERGENCE_SETTINGS = settings(
    max_examples=15,
    deadline=None,
    database=None,  # nothing written to the tree; a failure replays from its seed
    # A failure is reported as found: shrinking replays scenarios for minutes
    # (five, measured). Replaying its seed shrinks it.
    phases=list(Phase) if REPLAYED_SEED else [Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)


# Actions ----------------------------------------------------------------------
# Indices are taken modulo what exists when the action runs (the person's
# conversations, the messages there), so every generated list is playable.


@dataclass(frozen=True)
class Send:
    person: int
    conversation: int
    reply_to: int | None
    mentions: tuple[int, ...]
    over_socket: bool
    server: int


@dataclass(frozen=True)
class Edit:
    person: int
    conversation: int
    target: int
    mentions: tuple[int, ...]
    server: int


@dataclass(frozen=True)
class Delete:
    person: int
    conversation: int
    target: int
    server: int


@dataclass(frozen=True)
class React:
    person: int
    conversation: int
    target: int
    emoji: str
    add: bool
    over_socket: bool
    server: int


@dataclass(frozen=True)
class Sync:
    person: int
    conversation: int


@dataclass(frozen=True)
class Disconnect:
    person: int
    cut: bool  # the connection aborted (no close handshake) rather than closed


@dataclass(frozen=True)
class Reconnect:
    person: int
    server: int


people = st.integers(0, len(PEOPLE) - 1)
indices = st.integers(0, 30)
servers_ = st.integers(0, 1)
mention_lists = st.lists(people, max_size=3).map(tuple)

sends = st.builds(
    Send, people, indices, st.none() | indices, mention_lists, st.booleans(), servers_
)
reactions = st.builds(
    React, people, indices, indices, st.sampled_from(EMOJI), st.booleans(), st.booleans(), servers_
)
# Weighted: a scenario needs messages before edits, deletes and reactions have
# targets (one_of would draw every kind alike).
actions = st.sampled_from(
    [sends] * 5
    + [reactions] * 3
    + [
        st.builds(Edit, people, indices, indices, mention_lists, servers_),
        st.builds(Delete, people, indices, indices, servers_),
        st.builds(Sync, people, indices),
        st.builds(Disconnect, people, st.booleans()),
        st.builds(Reconnect, people, servers_),
    ]
).flatmap(lambda kind: kind)
# A round's actions (one per person) run at once: the two processes race.
scenarios = st.lists(
    st.lists(actions, min_size=1, max_size=3, unique_by=lambda action: action.person),
    min_size=10,
    max_size=25,
)


# Clients ----------------------------------------------------------------------


@dataclass
class Person:
    name: str
    user_id: str
    token: str
    username: str


@dataclass
class Client:
    """One person's socket client: its state comes only from the frames it got."""

    person: Person
    conversations: list[str]
    socket: Socket | None = None
    cursor: int = 0  # socket.frames handled so far
    # conversation id -> message id -> the message as the latest frame had it
    messages: dict[str, dict[str, dict]] = field(default_factory=dict)
    synced: dict[str, int] = field(default_factory=dict)  # everything up to this version is held
    highest: dict[str, int] = field(default_factory=dict)  # the highest version of any frame
    # Versions this client's acks carried: its socket gets no message.new for them.
    acked: dict[str, set[int]] = field(default_factory=dict)
    sync_queue: list[str] = field(default_factory=list)
    syncing: str | None = None  # the conversation whose sync is in flight
    barriers_sent: int = 0
    gaps: list[tuple[str, int, int]] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        for conversation_id in self.conversations:
            self.messages[conversation_id] = {}
            self.synced[conversation_id] = 0
            self.highest[conversation_id] = 0
            self.acked[conversation_id] = set()

    @property
    def connected(self) -> bool:
        return self.socket is not None

    def catching_up(self, conversation_id: str) -> bool:
        return conversation_id == self.syncing or conversation_id in self.sync_queue

    async def connect(self, server: Server) -> None:
        self.socket = await open_socket(self.person.name, server, self.person.token)
        self.cursor = 0
        self.barriers_sent = 0
        self.sync_queue = list(self.conversations)
        await self.pump()

    async def disconnect(self, *, cut: bool) -> None:
        """After the server has handled every frame sent (so that none lands
        later, unseen by the final comparison); frames on their way to the
        client are lost, as on a real drop."""
        await self.barrier()
        socket = self.socket
        if cut:
            socket.connection.transport.abort()
        await socket.close()
        await self.pump()
        self.socket = None
        self.sync_queue = []
        self.syncing = None

    async def barrier(self) -> None:
        self.barriers_sent += 1
        await self.socket.send({"type": BARRIER})
        await self.socket.wait_for(
            f"barrier {self.barriers_sent}",
            lambda: len(self.barrier_replies()) >= self.barriers_sent,
        )
        await self.pump()

    def barrier_replies(self) -> list[dict]:
        return [f for f in self.socket.of_type("error") if f.get("frameType") == BARRIER]

    def queue_sync(self, conversation_id: str) -> None:
        if not self.catching_up(conversation_id):
            self.sync_queue.append(conversation_id)

    async def pump(self) -> None:
        """Apply the frames that came since the last pump; start the next sync."""
        if self.socket is None:
            return
        frames = self.socket.frames
        while self.cursor < len(frames):
            self.apply(frames[self.cursor])
            self.cursor += 1
        if self.syncing is None and self.sync_queue and not self.socket.reader.done():
            self.syncing = self.sync_queue.pop(0)
            since = self.synced[self.syncing]
            frame = {"type": "sync", "conversationId": self.syncing, "sinceVersion": since}
            await self.socket.send(frame)

    def apply(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind in MESSAGE_EVENTS:
            conversation_id, version = frame["conversationId"], frame["version"]
            self.keep(frame["message"])
            self.highest[conversation_id] = max(self.highest[conversation_id], version)
            if self.catching_up(conversation_id):
                return
            self.skip_acked(conversation_id)
            if version == self.synced[conversation_id] + 1:
                self.synced[conversation_id] = version
                self.skip_acked(conversation_id)
            elif version > self.synced[conversation_id] + 1:
                self.gaps.append((conversation_id, self.synced[conversation_id], version))
                self.queue_sync(conversation_id)
        elif kind == "message.ack":
            self.keep(frame["message"])
            conversation_id = frame["conversationId"]
            self.highest[conversation_id] = max(self.highest[conversation_id], frame["version"])
            self.acked[conversation_id].add(frame["version"])
        elif kind == "sync.done":
            conversation_id = frame["conversationId"]
            assert conversation_id == self.syncing, (frame, self.syncing)
            # The replay covered every change up to when it was read, and the
            # live events since came in order after it.
            self.synced[conversation_id] = max(
                self.synced[conversation_id], self.highest[conversation_id]
            )
            self.syncing = None
        elif kind == "error":
            self.errors.append(frame)

    def skip_acked(self, conversation_id: str) -> None:
        """Held up to `synced`, and the acked versions right after it: the
        ack of a send can come before an earlier message's event, which the
        server then sends it (the ack is answered before the socket handles
        the events that queued meanwhile)."""
        while self.synced[conversation_id] + 1 in self.acked[conversation_id]:
            self.synced[conversation_id] += 1

    def keep(self, message: dict[str, Any]) -> None:
        held = self.messages[message["conversationId"]]
        current = held.get(message["id"])
        if current is None or message["version"] >= current["version"]:
            held[message["id"]] = message

    def unexpected_errors(self) -> list[dict]:
        return [e for e in self.errors if (e["code"], e.get("frameType")) not in EXPECTED_ERRORS]


def essence(message: dict[str, Any]) -> dict[str, Any]:
    """What a client must agree on with the server (`me` is REST-only, the
    reply's excerpt is read at read time without a version)."""
    return {
        "seq": message["seq"],
        "text": message["text"],
        "deleted": message["deletedAt"] is not None,
        "replyTo": message["replyTo"] and message["replyTo"]["id"],
        "mentions": message["mentions"],
        "reactions": {r["emoji"]: sorted(r["users"]) for r in message["reactions"]},
        "editCount": message["editCount"],
        "version": message["version"],
    }


# The scenario -----------------------------------------------------------------


@dataclass
class Sent:
    id: str
    sender: int
    deleted: bool = False


async def sign_up_people(server: Server) -> list[Person]:
    """The three people, once per test (a sign-up hashes a password: slow)."""
    people = []
    for name in PEOPLE:
        user_id, token = await sign_up(server, name)
        me = await api(server, "GET", "/api/users/me", token=token)
        people.append(Person(name, user_id, token, me["username"]))
    return people


class Scenario:
    """Plays one generated list of rounds against the running servers, in
    conversations of its own."""

    def __init__(self, servers: list[Server], people: list[Person]) -> None:
        self.servers = servers
        self.people = people
        self.clients: list[Client] = []
        self.conversations: list[str] = []
        self.sent: dict[str, list[Sent]] = {}
        self.step = 0

    async def set_up(self) -> None:
        owner = self.people[MEMBERS[0][0]]
        for members in MEMBERS:
            body = {"users": [self.people[m].user_id for m in members[1:]], "kind": "group"}
            created = await api(
                self.servers[0], "POST", "/api/conversations", body, token=owner.token, expect=201
            )
            self.conversations.append(created["id"])
        self.sent = {conversation_id: [] for conversation_id in self.conversations}
        for index, person in enumerate(self.people):
            mine = [self.conversations[c] for c, members in enumerate(MEMBERS) if index in members]
            client = Client(person, mine)
            self.clients.append(client)
            await client.connect(self.servers[index % len(self.servers)])

    async def close(self) -> None:
        for client in self.clients:
            if client.socket is not None:
                await client.socket.close()

    def conversation_of(self, person: int, index: int) -> str:
        mine = self.clients[person].conversations
        return mine[index % len(mine)]

    def text(self, prefix: str, mentions: tuple[int, ...]) -> str:
        self.step += 1
        return " ".join(
            [f"{prefix} {self.step}", *(f"@{self.people[m].username}" for m in mentions)]
        )

    async def play(self, round_: list[Any]) -> None:
        """The round's actions (one per person) at once."""
        await asyncio.gather(*(getattr(self, type(a).__name__.lower())(a) for a in round_))
        for client in self.clients:
            await client.pump()

    async def send(self, action: Send) -> None:
        client = self.clients[action.person]
        conversation_id = self.conversation_of(action.person, action.conversation)
        earlier = self.sent[conversation_id]
        body: dict[str, Any] = {
            "conversationId": conversation_id,
            "text": self.text("message", action.mentions),
            "clientMessageId": f"c-{uuid.uuid4().hex[:12]}",
        }
        if action.reply_to is not None and earlier:
            body["replyTo"] = earlier[action.reply_to % len(earlier)].id
        if action.over_socket and client.connected:
            message = await self.send_over_socket(client, body)
        else:
            body["sender"] = client.person.user_id
            server = self.servers[action.server]
            message = await api(server, "POST", "/api/messages", body, token=client.person.token)
        earlier.append(Sent(message["id"], action.person))

    async def send_over_socket(self, client: Client, body: dict[str, Any]) -> dict[str, Any]:
        socket, client_id = client.socket, body["clientMessageId"]
        await socket.send({"type": "message.send", **body})
        answer = await socket.wait_for(
            f"the ack of {client_id}",
            lambda: [
                f
                for f in socket.frames
                if f["type"] in ("message.ack", "error") and f.get("clientMessageId") == client_id
            ],
        )
        assert answer[0]["type"] == "message.ack", answer
        return answer[0]["message"]

    def own_target(self, action: Edit | Delete) -> tuple[str, Sent | None]:
        """The conversation, and the person's message there the action names
        (None when they have none that is not deleted)."""
        conversation_id = self.conversation_of(action.person, action.conversation)
        sent = self.sent[conversation_id]
        mine = [s for s in sent if s.sender == action.person and not s.deleted]
        return conversation_id, mine[action.target % len(mine)] if mine else None

    async def edit(self, action: Edit) -> None:
        conversation_id, target = self.own_target(action)
        if target is None:
            return
        await api(
            self.servers[action.server],
            "PATCH",
            f"/api/messages/{conversation_id}/{target.id}",
            {"text": self.text("edited", action.mentions)},
            token=self.people[action.person].token,
        )

    async def delete(self, action: Delete) -> None:
        conversation_id, target = self.own_target(action)
        if target is None:
            return
        target.deleted = True  # before it is sent: no later action picks it
        await api(
            self.servers[action.server],
            "DELETE",
            f"/api/messages/{conversation_id}/{target.id}",
            token=self.people[action.person].token,
        )

    async def react(self, action: React) -> None:
        client = self.clients[action.person]
        conversation_id = self.conversation_of(action.person, action.conversation)
        live = [s for s in self.sent[conversation_id] if not s.deleted]
        if not live:
            return
        target = live[action.target % len(live)]
        if action.over_socket and client.connected:
            frame_type = "reaction.add" if action.add else "reaction.remove"
            await client.socket.send(
                {
                    "type": frame_type,
                    "conversationId": conversation_id,
                    "messageId": target.id,
                    "emoji": action.emoji,
                }
            )
            return
        path = f"/api/messages/{conversation_id}/{target.id}/reactions"
        if action.add:
            method, body, statuses = "POST", {"emoji": action.emoji}, (200, 201)
        else:
            method, body, statuses = "DELETE", None, (200,)
            path += f"/{quote(action.emoji)}"
        url, token = self.servers[action.server].url + path, client.person.token
        status, payload = await asyncio.to_thread(http_json, method, url, body, token)
        # 409 message_deleted when the same round's delete got there first.
        deleted_meanwhile = status == 409 and target.deleted and "message_deleted" in payload
        assert status in statuses or deleted_meanwhile, f"{method} {path}: {status} {payload}"

    async def sync(self, action: Sync) -> None:
        client = self.clients[action.person]
        if client.connected:
            client.queue_sync(self.conversation_of(action.person, action.conversation))

    async def disconnect(self, action: Disconnect) -> None:
        client = self.clients[action.person]
        if client.connected:
            await client.disconnect(cut=action.cut)

    async def reconnect(self, action: Reconnect) -> None:
        client = self.clients[action.person]
        if client.connected:
            await client.disconnect(cut=False)
        await client.connect(self.servers[action.server])

    # The end --------------------------------------------------------------

    async def settle(self) -> None:
        """Everyone connected and synced, every change since delivered."""
        for index, client in enumerate(self.clients):
            if not client.connected:
                await client.connect(self.servers[index % len(self.servers)])
            # Also the barrier of the socket's own frames: the server handles a
            # socket's frames one after another.
            for conversation_id in client.conversations:
                client.queue_sync(conversation_id)
        await self.wait_until("every sync done", lambda c: c.syncing is None and not c.sync_queue)
        last = {}
        for conversation_id in self.conversations:
            owner = self.people[0]
            details = await api(
                self.servers[0],
                "GET",
                f"/api/conversations/{conversation_id}/details",
                token=owner.token,
            )
            last[conversation_id] = details["lastVersion"]
        await self.wait_until(
            "every change up to the last version",
            lambda c: (
                all(c.synced[cid] >= last[cid] for cid in c.conversations)
                and c.syncing is None
                and not c.sync_queue
            ),
        )

    async def wait_until(self, what: str, done: Callable[[Client], bool]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FRAME_TIMEOUT
        while True:
            for client in self.clients:
                await client.pump()
                assert not client.socket.reader.done(), f"{client.person.name}'s socket closed"
            if all(done(client) for client in self.clients):
                return
            if loop.time() > deadline:
                state = {
                    c.person.name: {"synced": c.synced, "syncing": c.syncing, "queue": c.sync_queue}
                    for c in self.clients
                }
                raise AssertionError(f"no {what} within {FRAME_TIMEOUT} s: {state}")
            await asyncio.sleep(0.02)

    async def rest_views(self, person: Person, conversation_id: str) -> dict[str, dict]:
        """The conversation from REST, as history and as the paged version feed
        (which must agree), by message id."""
        server = self.servers[0]
        history = await api(
            server, "GET", f"/api/messages/{conversation_id}?limit=200", token=person.token
        )
        feed: list[dict] = []
        since, page_size = 0, 7
        while True:
            page = await api(
                server,
                "GET",
                f"/api/messages/{conversation_id}?sinceVersion={since}&limit={page_size}",
                token=person.token,
            )
            feed.extend(page)
            if len(page) < page_size:
                break
            since = page[-1]["version"]
        versions = [m["version"] for m in feed]
        assert versions == sorted(set(versions)), f"the feed is not in version order: {versions}"
        by_history = {m["id"]: essence(m) for m in history}
        by_feed = {m["id"]: essence(m) for m in feed}
        assert len(by_feed) == len(feed), "the feed repeats a message"
        assert by_history == by_feed, differences("history", by_history, "feed", by_feed)
        return by_history

    async def check(self) -> None:
        for client in self.clients:
            name = client.person.name
            for conversation_id in client.conversations:
                expected = await self.rest_views(client.person, conversation_id)
                got = {i: essence(m) for i, m in client.messages[conversation_id].items()}
                assert got == expected, (
                    f"{name}'s view of conversation {conversation_id} differs from REST:\n"
                    + differences(name, got, "REST", expected)
                )
            assert not client.gaps, f"{name} saw live events out of version order: {client.gaps}"
            assert not client.unexpected_errors(), client.unexpected_errors()


def differences(left_name: str, left: dict, right_name: str, right: dict) -> str:
    lines = []
    for message_id in sorted(left.keys() | right.keys(), key=int):
        a, b = left.get(message_id), right.get(message_id)
        if a != b:
            lines.append(f"  message {message_id}: {left_name} {a}\n{' ' * 14}{right_name} {b}")
    return "\n".join(lines)


async def converge(servers: list[Server], people: list[Person], rounds: list[list[Any]]) -> None:
    scenario = Scenario(servers, people)
    try:
        await scenario.set_up()
        for round_ in rounds:
            await scenario.play(round_)
        await scenario.settle()
        await scenario.check()
    finally:
        await scenario.close()


# The test ---------------------------------------------------------------------


@pytest.fixture
def deployment(tmp_path, postgres_url, redis_url) -> Iterator[Deployment]:
    with postgres_deployment(tmp_path, postgres_url, redis_url) as deployment:
        # The limits are not what this test is about: every step must go through.
        for limit in ("MESSAGE_SEND", "REACTION_ADD", "SOCKET_FRAMES", "CONVERSATION_CREATE"):
            deployment.env[f"CHAT_RATE_{limit}"] = "off"
        yield deployment


def test_every_client_converges_on_the_server_state(deployment):
    servers = start_servers(deployment, 2)
    people = asyncio.run(sign_up_people(servers[0]))

    @seed(SEED)
    @CONVERGENCE_SETTINGS
    @given(rounds=scenarios)
    def run(rounds: list[list[Any]]) -> None:
        asyncio.run(asyncio.wait_for(converge(servers, people, rounds), EXAMPLE_TIMEOUT))

    try:
        run()
    except Exception as exc:
        exc.add_note(f"Replay with CHAT_CONVERGENCE_SEED={SEED}.")
        exc.add_note(f"Server logs (the end):\n{server_logs(deployment)[-20000:]}")
        raise
