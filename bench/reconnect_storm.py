"""Reconnect storm benchmark: what one server process does when every client
it holds reconnects at once (after a deploy or a crash) and catches up.

Starts its own server processes (tests.support.live_server, on the database
and Redis of the environment, as bench/run.py sets it): the storm process,
and in `--mode restart` a second one. `--sockets` users (of `--tokens`,
bench/provision.py) are put in groups of `--group-size`, each user opens one
socket to the storm process, and one message is posted into every group, so
that each client holds a version. Then the storm:

- `--mode close`: every client drops its socket at once (TCP abort) and
  reconnects; the storm process stays up.
- `--mode restart`: the storm process is killed (SIGKILL: no socket closes
  cleanly) and started again on the same port; clients retry until it answers.

Meanwhile one more message is posted into every group over REST (to the
other process in restart mode), and other users chat on sockets
(bench/fanout.py in its own process, `--others` direct pairs at
`--others-rate` messages/s; on the storm process in close mode, the other
process in restart mode). Each client, once open again, sends `sync` with
the version it holds, and is caught up when it holds both messages of its
group. Reports the accepted sockets/s (reconnected sockets over the seconds
from the first to the last reconnect), the seconds from the drop until the
last client was caught up, the clients not caught up within `--timeout`,
those that still lack a message after as long again (lost), and the other
users' p50/p99 send-to-deliver over the storm.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chat_bench REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/reconnect_storm.py --tokens var/bench/tokens.txt --sockets 5000 \\
        [--mode close|restart] [--group-size 10] [--connect-concurrency 200]

bench/run.py --only reconnect runs it with that environment.
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from websockets.asyncio.client import ClientConnection

from bench.client import BenchError, KeepAlive, bounded_gather, emit, open_socket, read_tokens
from bench.idle_sockets import SPARE_FILES, failure_name, raise_open_files
from tests.support.live_server import Deployment, Server

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "bench"
RETRY_SECONDS = 0.5  # a client's wait between failed reconnects (with jitter)
SETTLE_SECONDS = 3.0  # the other users' traffic before the storm
OTHERS_SECONDS = 30.0  # and from the drop on (the target's window)
POST_CONCURRENCY = 8
LIVE_PATIENCE = 10.0  # seconds for the first messages to arrive live before a sync


@dataclass(eq=False)
class Client:
    """A client as the web page is one: it keeps its socket open, and after
    every (re)connect, and when told `sync.needed`, sends `sync` with the
    last version it holds (one in flight: a `sync.needed` during it asks for
    another after its `sync.done`)."""

    user_id: str
    token: str
    group: int
    connection: ClientConnection | None = None
    versions: set[int] = field(default_factory=set)  # of the group's messages it holds
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    opened_at: float | None = None  # the last (re)connect
    reopened_at: float | None = None  # the first after the storm began
    caught_up_at: float | None = None
    syncing: bool = False
    sync_again: bool = False


@dataclass
class Group:
    conversation_id: str
    members: list[Client]
    expected: set[int] = field(default_factory=set)  # versions of the posted messages


class Storm:
    def __init__(self, args: argparse.Namespace, users: list[tuple[str, str]]) -> None:
        self.args = args
        self.run_id = uuid.uuid4().hex[:8]
        self.clients = [
            Client(user_id, token, index // args.group_size)
            for index, (user_id, token) in enumerate(users[: args.sockets])
        ]
        self.others_tokens = users[args.sockets : args.sockets + 2 * args.others]
        self.groups: list[Group] = []
        self.server: Server | None = None
        self.caught_up = asyncio.Event()
        self.stopping = False
        self.all_posted = False  # the "during" messages too
        self.caught_up_count = 0
        self.dropped_at: float | None = None
        self.connect_failures: Counter = Counter()
        self.close_codes: Counter = Counter()  # of every close (1006: dropped or killed)

    # Set-up -------------------------------------------------------------

    async def create_groups(self, server: str) -> None:
        size = self.args.group_size
        indexes = range(0, len(self.clients), size)

        def create(first: int) -> Group:
            members = self.clients[first : first + size]
            body = {
                "kind": "group",
                "title": f"storm {self.run_id}",
                "users": [member.user_id for member in members[1:]],
            }
            session = KeepAlive(server, members[0].token)
            try:
                return Group(session.json("POST", "/api/conversations", body)["id"], members)
            finally:
                session.close()

        self.groups = await bounded_gather(
            [asyncio.to_thread(create, first) for first in indexes], POST_CONCURRENCY
        )

    async def post_one_each(self, server: str, label: str) -> None:
        """One message into every group, from its first member, over REST."""

        def post(group: Group) -> None:
            session = KeepAlive(server, group.members[0].token)
            try:
                answer = session.json(
                    "POST",
                    "/api/messages",
                    {
                        "conversationId": group.conversation_id,
                        "sender": group.members[0].user_id,
                        "text": f"{label} {self.run_id}",
                        "clientMessageId": uuid.uuid4().hex,
                    },
                )
            finally:
                session.close()
            group.expected.add(answer["version"])

        await bounded_gather([asyncio.to_thread(post, g) for g in self.groups], POST_CONCURRENCY)

    # Sockets ------------------------------------------------------------

    def holds_all(self, client: Client) -> bool:
        return self.groups[client.group].expected <= client.versions

    async def read(self, client: Client) -> None:
        async for raw in client.connection:
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind in ("message.new", "message.updated"):
                client.versions.add(frame["version"])
            elif kind == "sync.needed":
                if client.syncing:
                    client.sync_again = True
                else:
                    await self.sync(client)
            elif kind == "sync.done":
                client.syncing = False
                if client.sync_again:
                    client.sync_again = False
                    await self.sync(client)
            self.check_caught_up(client)

    def check_caught_up(self, client: Client) -> None:
        """Once every message is posted: whether the client, reconnected, holds them all."""
        if (
            self.all_posted
            and client.caught_up_at is None
            and client.reopened_at is not None
            and self.holds_all(client)
        ):
            client.caught_up_at = time.perf_counter()
            self.caught_up_count += 1
            if self.caught_up_count == len(self.clients):
                self.caught_up.set()

    async def sync(self, client: Client) -> None:
        conversation_id = self.groups[client.group].conversation_id
        since = max(client.versions, default=0)
        client.syncing = True
        await client.connection.send(
            json.dumps({"type": "sync", "conversationId": conversation_id, "sinceVersion": since})
        )

    async def keep_open(self, client: Client, gate: asyncio.Semaphore) -> None:
        """Connect (retrying, with jitter), sync, read until closed; again."""
        while not self.stopping:
            async with gate:
                try:
                    client.connection = await open_socket(self.server.url, client.token)
                except Exception as exc:
                    self.connect_failures[failure_name(exc)] += 1
                    client.connection = None
            if client.connection is None:
                await asyncio.sleep(RETRY_SECONDS * (0.5 + random.random()))
                continue
            client.opened_at = time.perf_counter()
            if self.dropped_at is not None and client.reopened_at is None:
                client.reopened_at = client.opened_at
            client.opened.set()
            with contextlib.suppress(Exception):
                await self.sync(client)
                await self.read(client)
            if not self.stopping and client.connection.close_code is not None:
                self.close_codes[str(client.connection.close_code)] += 1

    def drop_all(self) -> None:
        for client in self.clients:
            if client.connection is not None and client.connection.transport is not None:
                client.connection.transport.abort()

    async def close_all(self) -> None:
        self.stopping = True
        await asyncio.gather(
            *(c.connection.close() for c in self.clients if c.connection), return_exceptions=True
        )


def others_command(server: str, tokens_path: Path, args: argparse.Namespace, seconds: float):
    return [
        sys.executable,
        str(ROOT / "bench" / "fanout.py"),
        "--servers",
        server,
        f"--pairs={args.others}",
        "--groups=0",
        f"--rate={args.others_rate}",
        f"--duration={seconds}",
        f"--tokens={tokens_path}",
    ]


async def wait_for_line(process: asyncio.subprocess.Process, marker: str, lines: list[str]) -> None:
    while True:
        raw = await process.stdout.readline()
        if not raw:
            raise BenchError("the other users' benchmark ended before it started sending")
        lines.append(raw.decode())
        if marker in lines[-1]:
            return


async def run(args: argparse.Namespace, users: list[tuple[str, str]]) -> dict:
    work_dir = OUT / "logs"
    work_dir.mkdir(parents=True, exist_ok=True)
    deployment = Deployment(dict(os.environ), work_dir, server_kind=args.server_kind)
    storm = Storm(args, users)
    clients: list[asyncio.Task] = []
    try:
        storm.server = deployment.start_server()
        other = deployment.start_server() if args.mode == "restart" else storm.server
        print(f"storm process {storm.server.process.pid} at {storm.server.url}", flush=True)
        await storm.create_groups(other.url)
        gate = asyncio.Semaphore(args.connect_concurrency)
        started = time.perf_counter()
        clients = [asyncio.create_task(storm.keep_open(c, gate)) for c in storm.clients]
        await asyncio.gather(*(c.opened.wait() for c in storm.clients))
        first_rate = len(storm.clients) / (time.perf_counter() - started)
        print(f"{len(storm.clients)} sockets open: {first_rate:.0f} sockets/s", flush=True)
        await storm.post_one_each(other.url, "before")
        # A live event the server skipped or delayed (its layer call timed
        # out) reaches a client at its next sync: here, after LIVE_PATIENCE.
        give_up = time.monotonic() + LIVE_PATIENCE
        while time.monotonic() < give_up and not all(storm.holds_all(c) for c in storm.clients):
            await asyncio.sleep(0.2)
        missed_live = [c for c in storm.clients if not storm.holds_all(c)]
        await asyncio.gather(*(storm.sync(c) for c in missed_live), return_exceptions=True)
        give_up = time.monotonic() + 2 * args.timeout
        while not all(storm.holds_all(c) for c in storm.clients):
            if time.monotonic() > give_up:
                raise BenchError("the first messages did not reach every socket")
            await asyncio.sleep(0.2)
        closes_before = sum(storm.close_codes.values())

        tokens_path = work_dir / f"storm-others-{storm.run_id}.txt"
        tokens_path.write_text("".join(f"{u} {t}\n" for u, t in storm.others_tokens))
        others_env = {k: v for k, v in os.environ.items() if k != "BENCH_RESULTS"}
        others = await asyncio.create_subprocess_exec(
            *others_command(other.url, tokens_path, args, SETTLE_SECONDS + OTHERS_SECONDS),
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
            env=others_env,
        )
        await wait_for_line(others, "sockets on", [])
        await asyncio.sleep(SETTLE_SECONDS)

        print(f"storm ({args.mode})…", flush=True)
        storm.dropped_at = dropped_at = time.perf_counter()
        if args.mode == "restart":
            await asyncio.to_thread(storm.server.kill)
        storm.drop_all()
        during = asyncio.create_task(storm.post_one_each(other.url, "during"))
        restarted_at = dropped_at
        if args.mode == "restart":
            storm.server = await asyncio.to_thread(deployment.restart_server, storm.server)
            restarted_at = time.perf_counter()
        await during
        storm.all_posted = True
        for client in storm.clients:  # caught up before the "during" versions were known
            storm.check_caught_up(client)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                storm.caught_up.wait(), max(0.0, args.timeout - (time.perf_counter() - dropped_at))
            )
        caught = [c.caught_up_at for c in storm.clients if c.caught_up_at is not None]
        rest, _ = await others.communicate()
        others_run = json.loads(rest.decode().strip().splitlines()[-1])["runs"][0]
        # Late is not lost: what a client still lacks after as long again.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(storm.caught_up.wait(), args.timeout)
        reopened = [c.reopened_at for c in storm.clients if c.reopened_at is not None]
        lost = [c for c in storm.clients if not storm.holds_all(c)]
        late = [c.caught_up_at for c in storm.clients if c.caught_up_at is not None]
        reopen_seconds = max(max(reopened) - min(reopened), 1e-6) if reopened else None
        figures = {
            "bench": "reconnect_storm",
            "mode": args.mode,
            "sockets": len(storm.clients),
            "group_size": args.group_size,
            "connect_concurrency": args.connect_concurrency,
            "first_connect_rate": round(first_rate, 1),
            "first_messages_missed_live": len(missed_live),
            "closed_before_storm": closes_before,
            "reconnected": len(reopened),
            "reconnect_rate": round(len(reopened) / reopen_seconds, 1) if reopened else None,
            "restart_seconds": round(restarted_at - dropped_at, 2),
            "all_open_seconds": round(max(reopened) - dropped_at, 2) if reopened else None,
            "all_caught_up_seconds": (
                round(max(caught) - dropped_at, 2) if len(caught) == len(storm.clients) else None
            ),
            "not_caught_up": len(storm.clients) - len(caught),
            "lost": len(lost),
            "last_caught_up_seconds": round(max(late) - dropped_at, 2) if late else None,
            "connect_failures": dict(storm.connect_failures),
            "close_codes": dict(storm.close_codes),
            "others": {
                key: others_run[key]
                for key in ("send_rate", "delivered", "expected", "lost", "p50_ms", "p99_ms")
            },
        }
        print(
            f"reconnected {len(reopened)} in {reopen_seconds or 0:.1f} s "
            f"({figures['reconnect_rate']} sockets/s); all caught up "
            f"{figures['all_caught_up_seconds']} s after the drop; lost {len(lost)}; "
            f"other users' p99 {others_run['p99_ms']} ms",
            flush=True,
        )
        return figures
    finally:
        await storm.close_all()
        for task in clients:
            task.cancel()
        await asyncio.gather(*clients, return_exceptions=True)
        for server in deployment.servers:
            server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tokens", required=True, help='file of "user_id token" lines')
    parser.add_argument("--sockets", type=int, default=5000)
    parser.add_argument("--mode", choices=["close", "restart"], default="close")
    parser.add_argument("--group-size", type=int, default=10)
    parser.add_argument("--connect-concurrency", type=int, default=200)
    parser.add_argument("--others", type=int, default=5, help="direct pairs chatting meanwhile")
    parser.add_argument("--others-rate", type=float, default=10.0, help="their messages/s")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to catch up")
    parser.add_argument("--server-kind", choices=["daphne", "uvicorn"], default="daphne")
    args = parser.parse_args(argv)
    if args.group_size < 2 or args.sockets < args.group_size:
        parser.error("--group-size must be at least 2 and at most --sockets")
    users = read_tokens(args.tokens)
    if len(users) < args.sockets + 2 * args.others:
        parser.error(f"--tokens needs {args.sockets + 2 * args.others} users")
    limit = raise_open_files(args.sockets + SPARE_FILES)
    if limit < args.sockets + SPARE_FILES:
        print(f"this process may open only {limit} files: some sockets will fail", file=sys.stderr)
    try:
        figures = asyncio.run(run(args, users))
    except (BenchError, OSError, RuntimeError) as exc:
        print(f"reconnect storm benchmark could not run: {exc}", file=sys.stderr)
        return 2
    emit(figures)
    return 0 if figures["lost"] == 0 and figures["not_caught_up"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
