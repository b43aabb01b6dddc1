"""Sync flood: what one user replaying a long history costs everyone else.

1. Baseline: another user's `GET /api/users/me`, one request after another
   on a keep-alive connection, for `--seconds`: p50/p95/max.
2. Flood: one socket of a member of a long conversation sends `--syncs`
   `sync` frames at once, each from `--changes` versions back, and reads
   everything; meanwhile the other user's requests are timed again. Reported:
   frames received, syncs refused (`sync_in_progress`: one is in flight per
   socket), the seconds to the last `sync.done`, and the other user's
   latency during the flood against the baseline.
3. Sockets: the member opens `--sockets` sockets at once: how many stay
   open and how many are closed with 4409 (the per-user cap).

bench/run.py runs it on the history conversation (seed_demo's "Load test"):

    .venv/bin/python bench/sync_flood.py --server http://127.0.0.1:8001 \\
        --conversation 7 --token $ALICE --observer-token $OTHER \\
        [--changes 30000] [--syncs 5] [--sockets 150] [--seconds 5]
"""

import argparse
import asyncio
import contextlib
import json
import sys
import threading
import time
from pathlib import Path

from websockets.exceptions import ConnectionClosed

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.client import BenchError, KeepAlive, emit, fmt_ms, latency_summary, open_socket

FLOOD_TIMEOUT = 120.0  # seconds for every accepted sync to reach sync.done
SOCKET_WAIT = 3.0  # seconds each of the many sockets is watched for a close


def observe(server: str, token: str, stop: threading.Event, seconds: float) -> list[float]:
    """Request durations of GET /api/users/me until `stop` is set or `seconds` pass."""
    session = KeepAlive(server, token)
    durations: list[float] = []
    deadline = time.monotonic() + seconds
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            reply = session.request("GET", "/api/users/me")
            if reply.status != 200:
                raise BenchError(f"GET /api/users/me: {reply.status}")
            durations.append(reply.seconds)
    finally:
        session.close()
    return durations


def last_version(server: str, token: str, conversation: str) -> int:
    session = KeepAlive(server, token)
    try:
        newest = session.json("GET", f"/api/messages/{conversation}?limit=1")
    finally:
        session.close()
    if not newest:
        raise BenchError(f"conversation {conversation} has no messages")
    return newest[-1]["version"]


async def flood(
    server: str, token: str, conversation: str, since: int, syncs: int
) -> dict[str, float | int]:
    frames = refused = done = 0
    connection = await open_socket(server, token, max_queue=None)
    sync = {"type": "sync", "conversationId": conversation, "sinceVersion": since}
    started = time.perf_counter()
    try:
        for _ in range(syncs):
            await connection.send(json.dumps(sync))
        async with asyncio.timeout(FLOOD_TIMEOUT):
            async for raw in connection:
                frame = json.loads(raw)
                frames += 1
                if frame.get("type") == "error" and frame.get("code") == "sync_in_progress":
                    refused += 1
                elif frame.get("type") == "error":
                    raise BenchError(f"sync answered with {frame}")
                elif frame.get("type") == "sync.done":
                    done += 1
                if done + refused == syncs:
                    break
    except TimeoutError:
        raise BenchError(f"the syncs took longer than {FLOOD_TIMEOUT:.0f} s") from None
    finally:
        await connection.close()
    return {
        "frames": frames,
        "syncs_served": done,
        "syncs_refused": refused,
        "seconds": round(time.perf_counter() - started, 2),
    }


async def many_sockets(server: str, token: str, count: int) -> dict[str, int]:
    async def one() -> str:
        try:
            connection = await open_socket(server, token)
        except Exception:
            return "refused"
        try:
            async with asyncio.timeout(SOCKET_WAIT):
                async for _ in connection:
                    pass
        except TimeoutError:
            return "open"
        except ConnectionClosed:
            pass
        finally:
            with contextlib.suppress(Exception):
                await connection.close()
        return f"closed {connection.close_code}"

    outcomes = await asyncio.gather(*(one() for _ in range(count)))
    return {outcome: outcomes.count(outcome) for outcome in sorted(set(outcomes))}


def run(args: argparse.Namespace) -> dict:
    baseline = observe(args.server, args.observer_token, threading.Event(), args.seconds)
    since = max(0, last_version(args.server, args.token, args.conversation) - args.changes)
    stop = threading.Event()
    during: list[float] = []
    watcher = threading.Thread(
        target=lambda: during.extend(observe(args.server, args.observer_token, stop, FLOOD_TIMEOUT))
    )
    watcher.start()
    try:
        flooded = asyncio.run(flood(args.server, args.token, args.conversation, since, args.syncs))
    finally:
        stop.set()
        watcher.join()
    sockets = asyncio.run(many_sockets(args.server, args.token, args.sockets))
    return {
        "bench": "sync_flood",
        "changes_per_sync": args.changes,
        "syncs_sent": args.syncs,
        **{f"flood_{key}": value for key, value in flooded.items()},
        "other_user_baseline": latency_summary(baseline),
        "other_user_during_flood": latency_summary(during),
        "sockets_opened": args.sockets,
        "socket_outcomes": sockets,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", required=True)
    parser.add_argument("--conversation", required=True)
    parser.add_argument("--token", required=True, help="a member of the conversation")
    parser.add_argument("--observer-token", required=True, help="another user")
    parser.add_argument("--changes", type=int, default=30_000)
    parser.add_argument("--syncs", type=int, default=5)
    parser.add_argument("--sockets", type=int, default=150)
    parser.add_argument("--seconds", type=float, default=5.0, help="of baseline requests")
    args = parser.parse_args(argv)
    try:
        result = run(args)
    except BenchError as error:
        print(f"sync_flood: {error}", file=sys.stderr)
        return 1
    base, during = result["other_user_baseline"], result["other_user_during_flood"]
    print(
        f"Sync flood: {args.syncs} syncs of {args.changes:,} changes on one socket: "
        f"{result['flood_syncs_served']} served, {result['flood_syncs_refused']} refused, "
        f"{result['flood_frames']:,} frames in {result['flood_seconds']} s"
    )
    print(
        f"  another user's GET /api/users/me: p50 {fmt_ms(base['p50_ms'])} -> "
        f"{fmt_ms(during['p50_ms'])}, p95 {fmt_ms(base['p95_ms'])} -> "
        f"{fmt_ms(during['p95_ms'])}, max {fmt_ms(base['max_ms'])} -> {fmt_ms(during['max_ms'])}"
    )
    print(f"  {args.sockets} sockets of one user at once: {result['socket_outcomes']}")
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
