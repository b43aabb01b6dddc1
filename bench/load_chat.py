"""Load test of running chat servers: N sockets across the given daphne
processes, in conversations (pairs plus one group of everyone), each sending M
messages over its socket at a fixed total rate; then checks that every
acknowledged message is stored once and was delivered once to every member
socket, in seq order per conversation. Prints the counts and one JSON line;
exits 1 on any loss, duplicate, reorder or unacknowledged send.

    .venv/bin/python bench/load_chat.py --servers http://127.0.0.1:8001 \\
        http://127.0.0.1:8002 --sockets 20 --messages 20 --rate 100

It signs up one user per socket (the servers' sign-up and send rate limits
must allow it: CHAT_RATE_AUTH_IP=off CHAT_RATE_MESSAGE_SEND=off
CHAT_RATE_SOCKET_FRAMES=off), or takes existing users from --tokens (lines
"user_id token"). Bounded: it waits at most --timeout seconds for acks and
deliveries after the last send. `run_load` is the importable core
(tests/integration/test_load_small.py runs it in CI).
"""

import argparse
import asyncio
import contextlib
import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))
HTTP_TIMEOUT = 15
PASSWORD = "load-test-pass-9f3c"
SETUP_CONCURRENCY = 8


class LoadError(RuntimeError):
    pass


@dataclass
class LoadConfig:
    servers: list[str]
    sockets: int = 20
    messages: int = 20
    rate: float = 100.0  # sends per second, all sockets together
    timeout: float = 30.0  # for acks and deliveries after the last send
    tokens: list[tuple[str, str]] | None = None  # existing (user id, token) pairs


@dataclass
class LoadResult:
    sockets: int = 0
    conversations: int = 0
    sent: int = 0
    acked: int = 0
    errors: int = 0
    unacked: int = 0
    stored: int = 0
    expected_deliveries: int = 0
    delivered: int = 0
    duplicates: int = 0
    reorders: int = 0
    lost: int = 0
    not_stored: int = 0
    seconds_sending: float = 0.0
    send_rate: float = 0.0
    ack_p50_ms: float | None = None
    ack_p99_ms: float | None = None
    delivery_p50_ms: float | None = None
    delivery_p99_ms: float | None = None
    error_codes: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (
            self.lost
            or self.duplicates
            or self.reorders
            or self.unacked
            or self.errors
            or self.not_stored
        )

    def summary(self) -> str:
        lines = [
            f"sockets {self.sockets} in {self.conversations} conversations",
            f"sent {self.sent} in {self.seconds_sending:.1f} s ({self.send_rate:.0f}/s), "
            f"acked {self.acked}, errors {self.errors} {self.error_codes or ''}, "
            f"unacked {self.unacked}",
            f"stored {self.stored} (acked but not stored once: {self.not_stored})",
            f"expected deliveries {self.expected_deliveries}, delivered {self.delivered}, "
            f"duplicates {self.duplicates}, reorders {self.reorders}, lost {self.lost}",
            f"ack latency p50 {fmt(self.ack_p50_ms)} p99 {fmt(self.ack_p99_ms)}; "
            f"send→deliver p50 {fmt(self.delivery_p50_ms)} p99 {fmt(self.delivery_p99_ms)}",
            "OK" if self.ok else "FAILED",
        ]
        return "\n".join(lines)


def fmt(ms: float | None) -> str:
    return "-" if ms is None else f"{ms:.1f} ms"


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000, 2)


# REST ----------------------------------------------------------------------------


def http_json(method: str, url: str, body: Any = None, token: str | None = None) -> Any:
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with HTTP.open(request, timeout=HTTP_TIMEOUT) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")[:300]
        hint = ""
        if error.code == 429:
            hint = " (rate limited: run the servers with CHAT_RATE_AUTH_IP=off etc., see --help)"
        raise LoadError(f"{method} {url}: {error.code} {detail}{hint}") from None


async def api(method: str, url: str, body: Any = None, token: str | None = None) -> Any:
    return await asyncio.to_thread(http_json, method, url, body, token)


async def bounded_gather(coroutines: list, limit: int = SETUP_CONCURRENCY) -> list:
    gate = asyncio.Semaphore(limit)

    async def run(coroutine):
        async with gate:
            return await coroutine

    return await asyncio.gather(*(run(c) for c in coroutines))


async def sign_up(server: str, run: str, index: int) -> tuple[str, str]:
    body = {
        "username": f"load_{run}_{index}",
        "password": PASSWORD,
        "displayName": f"Load {index}",
    }
    answer = await api("POST", f"{server}/api/auth/signup", body)
    return answer["user"]["id"], answer["token"]


async def stored_messages(server: str, token: str, conversation: str, after: int) -> list[dict]:
    """Every message after seq `after`, page by page."""
    messages: list[dict] = []
    while True:
        page = await api(
            "GET", f"{server}/api/messages/{conversation}?after={after}&limit=200", token=token
        )
        messages += page
        if len(page) < 200:
            return messages
        after = page[-1]["seq"]


async def last_seq(server: str, token: str, conversation: str) -> int:
    page = await api("GET", f"{server}/api/messages/{conversation}?limit=1", token=token)
    return page[-1]["seq"] if page else 0


# Sockets ---------------------------------------------------------------------------


def ws_url(server: str) -> str:
    return server.replace("https://", "wss://").replace("http://", "ws://") + "/ws/chat/"


@dataclass
class LoadSocket:
    index: int
    user_id: str
    token: str
    server: str
    connection: ClientConnection | None = None
    frames: list[tuple[float, dict]] = field(default_factory=list)
    reader: asyncio.Task | None = None

    async def open(self) -> None:
        self.connection = await connect(
            ws_url(self.server),
            additional_headers={"Authorization": f"Bearer {self.token}"},
            proxy=None,
            open_timeout=HTTP_TIMEOUT,
            close_timeout=2,
            max_size=2**20,
        )
        self.reader = asyncio.create_task(self.read())

    async def read(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self.connection:
                self.frames.append((time.perf_counter(), json.loads(raw)))

    async def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(Exception):
                await self.connection.close()
        if self.reader is not None:
            self.reader.cancel()
            await asyncio.gather(self.reader, return_exceptions=True)


# The run -------------------------------------------------------------------------------


async def run_load(config: LoadConfig, log=print) -> LoadResult:
    """Set up, send, wait, verify. Raises LoadError when the setup fails."""
    if config.sockets < 2 or config.messages < 1 or config.rate <= 0:
        raise LoadError("--sockets must be at least 2, --messages at least 1, --rate positive")
    servers = [server.rstrip("/") for server in config.servers]
    run = uuid.uuid4().hex[:8]
    count = config.sockets

    if config.tokens:
        if len(config.tokens) < count:
            raise LoadError(f"{count} sockets need {count} users; --tokens has fewer")
        users = list(config.tokens[:count])
    else:
        users = await bounded_gather([sign_up(servers[0], run, i) for i in range(count)])
    ids = [user_id for user_id, _ in users]

    # Conversations: pairs (0,1), (2,3)… and one group of everyone.
    members: dict[str, list[int]] = {}
    pair_of: dict[int, str] = {}

    async def create_pair(first: int) -> None:
        answer = await api(
            "POST", f"{servers[0]}/api/conversations", {"users": [ids[first + 1]]}, users[first][1]
        )
        members[answer["id"]] = [first, first + 1]
        pair_of[first] = pair_of[first + 1] = answer["id"]

    await bounded_gather([create_pair(first) for first in range(0, count - 1, 2)])
    group = await api(
        "POST",
        f"{servers[0]}/api/conversations",
        {"users": ids[1:], "kind": "group", "title": f"load {run}"},
        users[0][1],
    )
    members[group["id"]] = list(range(count))
    conversations = list(members)
    member_token = {cid: users[indexes[0]][1] for cid, indexes in members.items()}
    seq_before = dict(
        zip(
            conversations,
            await bounded_gather([last_seq(servers[0], member_token[c], c) for c in conversations]),
            strict=True,
        )
    )

    sockets = [
        LoadSocket(index, user_id, token, servers[index % len(servers)])
        for index, (user_id, token) in enumerate(users)
    ]
    try:
        await bounded_gather([socket.open() for socket in sockets])
        log(f"{count} sockets open on {len(servers)} server(s), {len(conversations)} conversations")

        # Send: message j goes from socket j % N, at j / rate; a socket's even
        # messages to its pair (if it has one), odd ones to the group.
        sent_at: dict[str, float] = {}
        conversation_of: dict[str, str] = {}
        total = count * config.messages
        started = time.perf_counter()
        for number in range(total):
            index, nth = number % count, number // count
            conversation = pair_of.get(index) if nth % 2 == 0 else None
            conversation = conversation or group["id"]
            client_id = f"{run}-{index}-{nth}"
            delay = started + number / config.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent_at[client_id] = time.perf_counter()
            conversation_of[client_id] = conversation
            await sockets[index].connection.send(
                json.dumps(
                    {
                        "type": "message.send",
                        "conversationId": conversation,
                        "text": f"load {client_id}",
                        "clientMessageId": client_id,
                    }
                )
            )
        seconds_sending = time.perf_counter() - started
        log(f"sent {total} in {seconds_sending:.1f} s; waiting for acks and deliveries")

        def acks_and_errors() -> tuple[dict[str, tuple[float, dict]], list[dict]]:
            acks, errors = {}, []
            for socket in sockets:
                for at, frame in socket.frames:
                    if frame.get("type") == "message.ack":
                        acks[frame["clientMessageId"]] = (at, frame["message"])
                    elif frame.get("type") == "error":
                        errors.append(frame)
            return acks, errors

        def deliveries() -> int:
            return sum(1 for s in sockets for _, f in s.frames if f.get("type") == "message.new")

        deadline = time.perf_counter() + config.timeout
        while time.perf_counter() < deadline:
            acks, errors = acks_and_errors()
            if len(acks) + len(errors) >= total:
                expected = sum(
                    len(members[conversation_of[cid]]) for cid in acks if cid in conversation_of
                )
                if deliveries() >= expected:
                    break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # late duplicates would show up here
        acks, errors = acks_and_errors()
    finally:
        await asyncio.gather(*(socket.close() for socket in sockets))

    # Verify ----------------------------------------------------------------------
    result = LoadResult(
        sockets=count,
        conversations=len(conversations),
        sent=total,
        acked=len(acks),
        errors=len(errors),
        seconds_sending=round(seconds_sending, 2),
        send_rate=round(total / seconds_sending, 1) if seconds_sending else 0.0,
    )
    for error in errors:
        code = error.get("code", "?")
        result.error_codes[code] = result.error_codes.get(code, 0) + 1
    result.unacked = total - len(acks) - len(errors)

    stored_pages = await bounded_gather(
        [stored_messages(servers[0], member_token[c], c, seq_before[c]) for c in conversations]
    )
    stored_by_client_id: dict[str, list[dict]] = {}
    for page in stored_pages:
        for message in page:
            if (message.get("clientMessageId") or "").startswith(f"{run}-"):
                stored_by_client_id.setdefault(message["clientMessageId"], []).append(message)
    result.stored = sum(len(found) for found in stored_by_client_id.values())
    for client_id, (_, message) in acks.items():
        found = stored_by_client_id.get(client_id, [])
        if len(found) != 1 or found[0]["id"] != message["id"]:
            result.not_stored += 1

    acked_ids = {message["id"]: client_id for client_id, (_, message) in acks.items()}
    ack_latencies = [at - sent_at[cid] for cid, (at, _) in acks.items() if cid in sent_at]
    delivery_latencies: list[float] = []
    for socket in sockets:
        seen: dict[str, set[str]] = {}
        last: dict[str, int] = {}
        for at, frame in socket.frames:
            if frame.get("type") != "message.new":
                continue
            message = frame["message"]
            conversation = frame["conversationId"]
            result.delivered += 1
            if message["id"] in seen.setdefault(conversation, set()):
                result.duplicates += 1
                continue
            seen[conversation].add(message["id"])
            if frame["seq"] < last.get(conversation, 0):
                result.reorders += 1
            last[conversation] = max(last.get(conversation, 0), frame["seq"])
            client_id = acked_ids.get(message["id"])
            if client_id in sent_at:
                delivery_latencies.append(at - sent_at[client_id])
        for conversation, indexes in members.items():
            if socket.index not in indexes:
                continue
            expected = {
                m["id"] for cid, (_, m) in acks.items() if conversation_of.get(cid) == conversation
            }
            result.expected_deliveries += len(expected)
            result.lost += len(expected - seen.get(conversation, set()))

    result.ack_p50_ms = percentile(ack_latencies, 0.5)
    result.ack_p99_ms = percentile(ack_latencies, 0.99)
    result.delivery_p50_ms = percentile(delivery_latencies, 0.5)
    result.delivery_p99_ms = percentile(delivery_latencies, 0.99)
    return result


def read_tokens(path: str) -> list[tuple[str, str]]:
    pairs = []
    with open(path) as handle:
        for line in handle:
            parts = line.split()
            if len(parts) == 2:
                pairs.append((parts[0], parts[1]))
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--servers", nargs="+", required=True, help="base URLs of daphne processes")
    parser.add_argument("--sockets", type=int, default=20, help="sockets (one user each)")
    parser.add_argument("--messages", type=int, default=20, help="messages per socket")
    parser.add_argument("--rate", type=float, default=100.0, help="sends per second, in total")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait after sending")
    parser.add_argument("--tokens", help='file of "user_id token" lines instead of signing up')
    args = parser.parse_args(argv)
    config = LoadConfig(
        servers=args.servers,
        sockets=args.sockets,
        messages=args.messages,
        rate=args.rate,
        timeout=args.timeout,
        tokens=read_tokens(args.tokens) if args.tokens else None,
    )
    try:
        result = asyncio.run(run_load(config))
    except LoadError as exc:
        print(f"load test could not run: {exc}", file=sys.stderr)
        return 2
    print(result.summary())
    print(json.dumps(asdict(result) | {"ok": result.ok}, sort_keys=True))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
