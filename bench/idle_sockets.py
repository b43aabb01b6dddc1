"""Idle sockets benchmark: what an open, idle, authenticated /ws/chat/ socket
costs one server process. Opens `--sockets` sockets to the process at
`--server` (whose pid is `--pid`, on this machine) at most
`--connect-concurrency` at a time, holds them idle for `--hold` seconds, and
reports the connect rate, the process's resident memory before and after
(KB per socket), the sockets that failed to open, whether the open ones are
still open at the end (none closed by the server, and a sample answering a
ping), and how long closing them all took.

    .venv/bin/python bench/idle_sockets.py --server http://127.0.0.1:8002 --pid 12345 \\
        --tokens var/bench/tokens.txt --sockets 5000 [--connect-concurrency 50] [--hold 5]

One socket per user of --tokens (`user_id token` lines, bench/provision.py);
with fewer users than sockets, users are reused round-robin (a user with
several sockets, as with several devices). "Before" is read after a few
sockets were opened and closed, so that the process's imports and pools are
warm. Use a fresh process: one that held many sockets before keeps the
memory they freed and reuses it, so a second run reads low. Everything is
bounded by --timeout: sockets not open by then count as failed.
"""

import argparse
import asyncio
import contextlib
import random
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import WebSocketException

from bench.client import BenchError, emit, open_socket, process_rss_kb, read_tokens

WARM_UP = 5  # sockets opened and closed before the "before" reading
SETTLE = 1.0  # seconds for the process to finish with the warm-up sockets
WARM_UP_PATIENCE = 30.0
PING_SAMPLE = 100
PING_TIMEOUT = 10.0
CLOSE_TIMEOUT = 30.0
MIN_OPENING = 30.0  # seconds --timeout must leave for opening the sockets
SPARE_FILES = 256  # descriptors this process needs besides its sockets


@dataclass(eq=False)
class Idle:
    connection: ClientConnection
    reader: asyncio.Task | None = None
    frames: int = 0  # what the server sent (presence and the like)


def raise_open_files(needed: int) -> int:
    """Raise this process's RLIMIT_NOFILE to `needed` if it can (the hard
    limit too when running as root); the soft limit it ends with."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return soft
    if hard == resource.RLIM_INFINITY or hard >= needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
        return needed
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, needed))
        return needed
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return hard


def server_open_files(pid: int) -> int | None:
    """The server process's soft limit on open files (None: unlimited)."""
    with open(f"/proc/{pid}/limits") as limits:
        for line in limits:
            if line.startswith("Max open files"):
                soft = line.split()[3]
                return None if soft == "unlimited" else int(soft)
    return None


def failure_name(exc: BaseException) -> str:
    response = getattr(exc, "response", None)  # websockets.InvalidStatus: the HTTP answer
    if response is not None:
        return f"HTTP {response.status_code}"
    return type(exc).__name__


async def drain(idle: Idle) -> None:
    """Read what the server sends, so that the socket never stops reading
    (and answering pings) behind a full queue; ends when the socket closes."""
    with contextlib.suppress(Exception):
        async for _ in idle.connection:
            idle.frames += 1


async def hold_open(server: str, token: str) -> Idle:
    idle = Idle(await open_socket(server, token))
    idle.reader = asyncio.create_task(drain(idle))
    return idle


async def warm_up(server: str, tokens: list[str]) -> None:
    """Open and close a few sockets, waiting up to WARM_UP_PATIENCE seconds
    for a process still busy (with the sockets of an earlier run closing)."""
    give_up = time.monotonic() + WARM_UP_PATIENCE
    waiting = False
    for token in tokens:
        while True:
            try:
                connection = await open_socket(server, token)
                break
            except (OSError, WebSocketException) as exc:
                if time.monotonic() > give_up:
                    raise BenchError(
                        f"a warm-up socket failed to open: {failure_name(exc)}"
                    ) from None
                if not waiting:
                    print(f"warm-up socket refused ({failure_name(exc)}); waiting", flush=True)
                    waiting = True
                await asyncio.sleep(SETTLE)
        await connection.close()
    await asyncio.sleep(SETTLE)


async def open_all(
    server: str, tokens: list[str], concurrency: int, budget: float
) -> tuple[list[Idle], Counter, float]:
    """The sockets that opened within `budget` seconds, the failures by
    cause, and the seconds the opening took."""
    gate = asyncio.Semaphore(concurrency)
    opened: list[Idle] = []
    failures: Counter = Counter()

    async def one(token: str) -> None:
        async with gate:
            try:
                opened.append(await hold_open(server, token))
            except Exception as exc:
                failures[failure_name(exc)] += 1

    started = time.perf_counter()
    tasks = [asyncio.create_task(one(token)) for token in tokens]
    _, pending = await asyncio.wait(tasks, timeout=budget)
    seconds = time.perf_counter() - started
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    if pending:
        failures["not open in time"] += len(pending)
    return opened, failures, seconds


async def answers_ping(idle: Idle) -> bool:
    try:
        pong = await idle.connection.ping()
        await asyncio.wait_for(pong, PING_TIMEOUT)
    except Exception:
        return False
    return True


async def close_all(sockets: list[Idle]) -> tuple[float, int]:
    """Close every socket (close frame and handshake); the seconds it took,
    and how many had not closed within CLOSE_TIMEOUT (then dropped)."""
    started = time.perf_counter()
    closing = [asyncio.create_task(idle.connection.close()) for idle in sockets]
    pending: set[asyncio.Task] = set()
    if closing:
        _, pending = await asyncio.wait(closing, timeout=CLOSE_TIMEOUT)
    seconds = time.perf_counter() - started
    for task in pending:
        task.cancel()
    for idle in sockets:
        if idle.connection.transport is not None and not idle.connection.transport.is_closing():
            idle.connection.transport.abort()
    readers = [idle.reader for idle in sockets if idle.reader is not None]
    await asyncio.gather(*pending, *readers, return_exceptions=True)
    return seconds, len(pending)


async def run(args: argparse.Namespace, tokens: list[str]) -> dict:
    server = args.server.rstrip("/")
    deadline = time.monotonic() + args.timeout
    await warm_up(server, tokens[:WARM_UP])
    rss_before = process_rss_kb(args.pid)
    # What the hold, the pings and the closing may take is kept back.
    budget = deadline - time.monotonic() - args.hold - PING_TIMEOUT - CLOSE_TIMEOUT
    print(f"RSS of process {args.pid} before: {rss_before / 1024:.1f} MB; opening…", flush=True)
    opened, failures, connect_seconds = await open_all(
        server, tokens, args.connect_concurrency, budget
    )
    try:
        connect_rate = round(len(opened) / connect_seconds, 1)
        failed = sum(failures.values())
        print(
            f"{len(opened)} open in {connect_seconds:.1f} s ({connect_rate} sockets/s, "
            f"{args.connect_concurrency} at a time); failed: {failed}"
            f"{f' {dict(failures)}' if failures else ''}",
            flush=True,
        )
        await asyncio.sleep(args.hold)
        rss_after = process_rss_kb(args.pid)
        kb_per_socket = round((rss_after - rss_before) / len(opened), 1) if opened else None
        print(
            f"RSS after {args.hold:g} s idle: {rss_after / 1024:.1f} MB "
            f"(+{(rss_after - rss_before) / 1024:.1f} MB): {kb_per_socket} KB per socket"
        )
        closed = [idle for idle in opened if idle.reader is not None and idle.reader.done()]
        close_codes = Counter(str(idle.connection.close_code) for idle in closed)
        still_open = [idle for idle in opened if idle.reader is not None and not idle.reader.done()]
        sample = random.sample(still_open, min(PING_SAMPLE, len(still_open)))
        pongs = sum(await asyncio.gather(*(answers_ping(idle) for idle in sample)))
        print(
            f"closed by the server meanwhile: {len(closed)}"
            f"{f' (codes {dict(close_codes)})' if closed else ''}; "
            f"ping answered by {pongs}/{len(sample)} sampled sockets"
        )
    finally:
        close_seconds, not_closed = await close_all(opened)
    print(
        f"closed {len(opened)} in {close_seconds:.1f} s"
        f"{f' ({not_closed} did not close within {CLOSE_TIMEOUT:.0f} s)' if not_closed else ''}"
    )
    return {
        "bench": "idle_sockets",
        "sockets": len(tokens),
        "connect_concurrency": args.connect_concurrency,
        "opened": len(opened),
        "failed": failed,
        "failures": dict(failures),
        "connect_seconds": round(connect_seconds, 2),
        "connect_rate": connect_rate,
        "hold_s": args.hold,
        "rss_before_kb": rss_before,
        "rss_after_kb": rss_after,
        "kb_per_socket": kb_per_socket,
        "closed_by_server": len(closed),
        "close_codes": dict(close_codes),
        "pinged": len(sample),
        "pongs": pongs,
        "frames_received": sum(idle.frames for idle in opened),
        "close_seconds": round(close_seconds, 2),
        "not_closed_in_time": not_closed,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", required=True, help="base URL of the process")
    parser.add_argument("--pid", type=int, required=True, help="its process id (for its RSS)")
    parser.add_argument("--tokens", required=True, help='file of "user_id token" lines')
    parser.add_argument("--sockets", type=int, default=5000)
    parser.add_argument("--connect-concurrency", type=int, default=50)
    parser.add_argument("--hold", type=float, default=5.0, help="seconds idle before measuring")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds for the whole run")
    args = parser.parse_args(argv)
    if args.sockets < 1 or args.connect_concurrency < 1:
        parser.error("--sockets and --connect-concurrency must be at least 1")
    if args.timeout - args.hold - PING_TIMEOUT - CLOSE_TIMEOUT - WARM_UP_PATIENCE < MIN_OPENING:
        parser.error("--timeout is too short for --hold, the pings and the closing")
    if not Path(f"/proc/{args.pid}").exists():
        parser.error(f"no process {args.pid} on this machine")
    users = read_tokens(args.tokens)
    if not users:
        parser.error(f"no users in {args.tokens}")
    tokens = [users[index % len(users)][1] for index in range(args.sockets)]
    if len(users) < args.sockets:
        print(f"{len(users)} users for {args.sockets} sockets: users reused round-robin")
    limit = raise_open_files(args.sockets + SPARE_FILES)
    if limit < args.sockets + SPARE_FILES:
        print(f"this process may open only {limit} files: some sockets will fail", file=sys.stderr)
    try:
        server_limit = server_open_files(args.pid)
        if server_limit is not None and server_limit < args.sockets + SPARE_FILES:
            print(
                f"process {args.pid} may open only {server_limit} files: expect failures",
                file=sys.stderr,
            )
        figures = asyncio.run(run(args, tokens))
    except (BenchError, OSError) as exc:
        print(f"idle sockets benchmark could not run: {exc}", file=sys.stderr)
        return 2
    figures |= {
        "users": min(len(users), args.sockets),
        "users_reused": len(users) < args.sockets,
        "server_open_files_limit": server_limit,
    }
    emit(figures)
    healthy = not figures["failed"] and not figures["closed_by_server"]
    return 0 if healthy and figures["pongs"] == figures["pinged"] else 1


if __name__ == "__main__":
    sys.exit(main())
