"""History benchmark: the newest page of a long conversation against a page
deep in it, over one keep-alive HTTP connection, then catch-up by version
over REST and over the socket.

1. `GET /api/messages/{id}?limit=P` (the newest page) and the page `--deep`
   messages back (`?before=<last seq - deep + 1>&limit=P`, keyset on seq),
   alternated, `--samples` of each after a warm-up: p50/p95/p99/max of each
   and the ratio deep p50 / newest p50 (about 1 when paging is keyset).
2. The conversation's current version V; `--changes` sends (POST
   /api/messages, `--writers` threads), then every change after V fetched
   back with `?sinceVersion=V`, following the `Link: rel="next"` pages, and
   over a new socket with the `sync` frame (message frames, then
   `sync.done`): the time each takes and whether exactly the messages sent
   came back, each once, in version order.

The conversation is seed_demo's "Load test" (`manage.py seed_demo --messages
1000000`); the token is one of its members' (alice). bench/run.py calls it so:

    .venv/bin/python bench/history.py --server http://127.0.0.1:8001 \\
        --conversation 7 --token $TOKEN [--samples 200] [--page-size 50] \\
        [--deep 900000] [--changes 1000]

The server's rate limits must be off (CHAT_RATE_*=off): the sends go out as
fast as the writers manage.
"""

import argparse
import asyncio
import contextlib
import json
import re
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.client import BenchError, KeepAlive, emit, fmt_ms, latency_summary, open_socket

WARM_UP = 5  # requests of each page before the samples
CATCH_UP_LIMIT = 200  # the API's largest page
SYNC_TIMEOUT = 60.0  # seconds for the socket to answer a sync with sync.done
NEXT_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="next"')


def next_page(reply_headers: Any) -> str | None:
    """The path and query of the Link header's rel="next", if any."""
    match = NEXT_LINK.search(reply_headers.get("Link", ""))
    if not match:
        return None
    url = urlsplit(match.group(1))
    return f"{url.path}?{url.query}"


def page_latencies(
    session: KeepAlive, paths: dict[str, str], samples: int, page_size: int
) -> dict[str, list[float]]:
    """`samples` timings of each path, alternating (the order flips every
    round, so that neither always follows the other)."""
    seconds: dict[str, list[float]] = {name: [] for name in paths}
    names = list(paths)
    for round_number in range(WARM_UP + samples):
        for name in names if round_number % 2 == 0 else reversed(names):
            reply = session.request("GET", paths[name])
            if reply.status != 200 or len(reply.body or ()) != page_size:
                got = len(reply.body) if isinstance(reply.body, list) else reply.body
                raise BenchError(f"GET {paths[name]}: {reply.status}, {got}")
            if round_number >= WARM_UP:
                seconds[name].append(reply.seconds)
    return seconds


def changes_after(session: KeepAlive, conversation: str, version: int) -> tuple[list[dict], int]:
    """Every change after `version` over REST, page by page as the Link
    header leads, and the number of pages it took."""
    changes: list[dict] = []
    pages = 0
    path: str | None = f"/api/messages/{conversation}?sinceVersion={version}&limit={CATCH_UP_LIMIT}"
    while path:
        reply = session.request("GET", path)
        if reply.status != 200:
            raise BenchError(f"GET {path}: {reply.status} {json.dumps(reply.body)[:300]}")
        pages += 1
        changes += reply.body
        path = next_page(reply.headers)
    return changes, pages


def make_changes(
    server: str, token: str, sender: str, conversation: str, count: int, writers: int
) -> list[str]:
    """`count` sends from `writers` threads, each on its own connection; the
    ids of the stored messages."""
    run = uuid.uuid4().hex[:8]
    numbers = iter(range(count))
    lock = threading.Lock()

    def write() -> list[str]:
        ids = []
        with contextlib.closing(KeepAlive(server, token)) as session:
            while True:
                with lock:
                    number = next(numbers, None)
                if number is None:
                    return ids
                body = {
                    "conversationId": conversation,
                    "sender": sender,
                    "text": f"history catch-up {run} {number}",
                    "clientMessageId": f"history-{run}-{number}",
                }
                ids.append(session.json("POST", "/api/messages", body)["id"])

    with ThreadPoolExecutor(writers) as pool:
        return [
            message_id for ids in pool.map(lambda _: write(), range(writers)) for message_id in ids
        ]


async def socket_sync(
    server: str, token: str, conversation: str, version: int
) -> tuple[float, list[dict]]:
    """Seconds from the sync frame to sync.done on a new socket, and the
    message frames of the conversation that came before it."""
    frames: list[dict] = []
    connection = await open_socket(server, token)
    try:
        async with asyncio.timeout(SYNC_TIMEOUT):
            started = time.perf_counter()
            await connection.send(
                json.dumps(
                    {"type": "sync", "conversationId": conversation, "sinceVersion": version}
                )
            )
            async for raw in connection:
                frame = json.loads(raw)
                if frame.get("conversationId") != conversation:
                    continue  # presence and the like, or another conversation's event
                if frame.get("type") == "sync.done":
                    return time.perf_counter() - started, frames
                if frame.get("type") == "error":
                    raise BenchError(f"sync answered with {frame}")
                if frame.get("type", "").startswith("message."):
                    frames.append(frame)
    except TimeoutError:
        raise BenchError(f"no sync.done within {SYNC_TIMEOUT:.0f} s") from None
    finally:
        await connection.close()
    raise BenchError("the socket closed before sync.done")


def exactly(expected: list[str], messages: list[dict]) -> bool:
    """The messages are the expected ones, each once, in version order."""
    versions = [message["version"] for message in messages]
    ids = [message["id"] for message in messages]
    return sorted(ids) == sorted(expected) and versions == sorted(set(versions))


def run(args: argparse.Namespace, server: str, conversation: str, session: KeepAlive) -> dict:
    me = session.json("GET", "/api/users/me")
    newest = session.json("GET", f"/api/messages/{conversation}?limit={args.page_size}")
    if not newest:
        raise BenchError(f"conversation {conversation} has no messages")
    last_seq = newest[-1]["seq"]
    if args.deep + args.page_size > last_seq:
        raise BenchError(
            f"conversation {conversation} has {last_seq} messages: too few for a page "
            f"{args.deep} deep (seed more, or lower --deep)"
        )
    base = f"/api/messages/{conversation}?limit={args.page_size}"
    paths = {"newest": base, "deep": f"{base}&before={last_seq - args.deep + 1}"}
    deep_page = session.json("GET", paths["deep"])
    if deep_page[-1]["seq"] != last_seq - args.deep:
        raise BenchError(f"GET {paths['deep']} ends at seq {deep_page[-1]['seq']}")
    print(f"conversation {conversation}: {last_seq:,} messages; pages of {args.page_size}")
    seconds = page_latencies(session, paths, args.samples, args.page_size)
    newest_summary, deep_summary = (
        latency_summary(seconds["newest"]),
        latency_summary(seconds["deep"]),
    )
    ratio = round(deep_summary["p50_ms"] / newest_summary["p50_ms"], 2)
    for name, summary in (("newest", newest_summary), (f"{args.deep:,} deep", deep_summary)):
        print(
            f"  {name:>14}: p50 {fmt_ms(summary['p50_ms'])}, p95 {fmt_ms(summary['p95_ms'])}, "
            f"p99 {fmt_ms(summary['p99_ms'])}, max {fmt_ms(summary['max_ms'])} "
            f"({args.samples} samples)"
        )
    print(f"  deep p50 / newest p50: {ratio}")

    # The current version: the newest page's, then whatever changed since
    # (an edit of an older message takes a version the newest page lacks).
    drained, _ = changes_after(session, conversation, max(m["version"] for m in newest))
    version = max(m["version"] for m in newest + drained)
    started = time.perf_counter()
    sent = make_changes(server, args.token, me["id"], conversation, args.changes, args.writers)
    send_seconds = time.perf_counter() - started
    print(
        f"{args.changes} sends after version {version} in {send_seconds:.1f} s "
        f"({args.changes / send_seconds:.0f}/s, {args.writers} writers)"
    )
    started = time.perf_counter()
    changes, pages = changes_after(session, conversation, version)
    rest_seconds = time.perf_counter() - started
    rest_exact = exactly(sent, changes)
    print(
        f"  REST ?sinceVersion={version}: {len(changes)} changes in {pages} pages of "
        f"≤{CATCH_UP_LIMIT}, {rest_seconds * 1000:.1f} ms; "
        f"exactly the {len(sent)} sent: {rest_exact}"
    )
    socket_seconds, frames = asyncio.run(socket_sync(server, args.token, conversation, version))
    socket_exact = exactly(sent, [frame["message"] for frame in frames])
    print(
        f"  socket sync from {version}: {len(frames)} message frames, sync.done after "
        f"{socket_seconds * 1000:.1f} ms; exactly the {len(sent)} sent: {socket_exact}"
    )
    print(f"HTTP connections opened for the page timings and catch-up: {session.opened}")
    return {
        "bench": "history",
        "conversation": conversation,
        "messages": last_seq,
        "page_size": args.page_size,
        "samples": args.samples,
        "deep_offset": args.deep,
        "newest": newest_summary,
        "deep": deep_summary,
        "ratio": ratio,
        "http_connections": session.opened,
        "since_version": {
            "from_version": version,
            "changes": len(sent),
            "sends_per_second": round(args.changes / send_seconds, 1),
            "rest_ms": round(rest_seconds * 1000, 1),
            "rest_pages": pages,
            "rest_changes": len(changes),
            "rest_exact": rest_exact,
            "socket_ms": round(socket_seconds * 1000, 1),
            "socket_frames": len(frames),
            "socket_exact": socket_exact,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", required=True, help="base URL of one process")
    parser.add_argument("--conversation", required=True, help='id of the "Load test" conversation')
    parser.add_argument("--token", required=True, help="API token of a member (alice)")
    parser.add_argument("--samples", type=int, default=200, help="timed requests of each page")
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--deep", type=int, default=900_000, help="messages back from the newest")
    parser.add_argument("--changes", type=int, default=1000, help="sends to catch up on")
    parser.add_argument("--writers", type=int, default=4, help="threads making the changes")
    args = parser.parse_args(argv)
    if args.samples < 1 or args.writers < 1 or args.changes < 0 or args.deep < 0:
        parser.error(
            "--samples and --writers must be at least 1; --changes and --deep not negative"
        )
    if not 1 <= args.page_size <= CATCH_UP_LIMIT:
        parser.error(f"--page-size must be 1 to {CATCH_UP_LIMIT} (the API's limit)")
    server = args.server.rstrip("/")
    conversation = str(args.conversation)
    try:
        with contextlib.closing(KeepAlive(server, args.token)) as session:
            figures = run(args, server, conversation, session)
    except (BenchError, OSError) as exc:
        print(f"history benchmark could not run: {exc}", file=sys.stderr)
        return 2
    emit(figures)
    catch_up = figures["since_version"]
    return 0 if catch_up["rest_exact"] and catch_up["socket_exact"] else 1


if __name__ == "__main__":
    sys.exit(main())
