"""REST send benchmark: `--concurrency` workers, each a thread with its own
keep-alive HTTP connection and its own user, post messages into a direct
conversation with another user (POST /api/messages) back to back (closed
loop) for `--duration` seconds. Reports successful sends per second,
p50/p95/p99/max latency of the successful ones, and the failures by status
(or by exception, for a connection that failed).

    .venv/bin/python bench/rest_send.py --server http://127.0.0.1:8001 \\
        --tokens var/bench/tokens-rest.txt --concurrency 16 --duration 10

--tokens holds `user_id token` lines (bench/provision.py), at least
twice --concurrency: worker i sends as user 2i to user 2i+1. The server's rate
limits must be off (CHAT_RATE_*=off; bench/run.py starts it so), or most
sends are 429.
"""

import argparse
import contextlib
import http.client
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.client import BenchError, KeepAlive, emit, fmt_ms, latency_summary, read_tokens

ERROR_PAUSE = 0.05  # seconds after a failed connection, so that a dead server is not spun on


@dataclass
class Worker:
    number: int
    user_id: str
    session: KeepAlive
    conversation: str = ""
    latencies: list[float] = field(default_factory=list)  # of the successful sends
    errors: Counter = field(default_factory=Counter)
    finished_at: float = 0.0


def set_up(worker: Worker, other_id: str) -> None:
    """The pair's direct conversation, created over the worker's own
    connection (so it is open before the clock starts)."""
    answer = worker.session.json("POST", "/api/conversations", {"users": [other_id]})
    worker.conversation = answer["id"]


def send_loop(worker: Worker, run: str, start: threading.Barrier, duration: float) -> None:
    start.wait()
    deadline = time.perf_counter() + duration
    number = 0
    while time.perf_counter() < deadline:
        number += 1
        body = {
            "conversationId": worker.conversation,
            "sender": worker.user_id,
            "text": f"rest send {run} {worker.number} {number}",
            "clientMessageId": f"{run}-{worker.number}-{number}",
        }
        try:
            reply = worker.session.request("POST", "/api/messages", body)
        except (OSError, http.client.HTTPException) as exc:  # no answer, or a broken one
            worker.errors[type(exc).__name__] += 1
            time.sleep(ERROR_PAUSE)
            continue
        if reply.status in (200, 201):
            worker.latencies.append(reply.seconds)
        else:
            worker.errors[str(reply.status)] += 1
    worker.finished_at = time.perf_counter()


def run_sends(workers: list[Worker], duration: float) -> float:
    """Every worker sends until `duration` seconds after they all start;
    the seconds from the start to the last worker's last answer."""
    run = uuid.uuid4().hex[:8]
    start = threading.Barrier(len(workers) + 1)  # the workers and this thread
    with ThreadPoolExecutor(len(workers)) as pool:
        futures = [pool.submit(send_loop, worker, run, start, duration) for worker in workers]
        start.wait()
        started = time.perf_counter()
        for future in futures:
            future.result()
    return max(worker.finished_at for worker in workers) - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", required=True, help="base URL of one process")
    parser.add_argument("--tokens", required=True, help='file of "user_id token" lines')
    parser.add_argument("--concurrency", type=int, default=16, help="workers (connections)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of sending")
    args = parser.parse_args(argv)
    tokens = read_tokens(args.tokens)
    if args.concurrency < 1 or len(tokens) < 2 * args.concurrency:
        print(
            f"rest_send needs {2 * args.concurrency} users; {args.tokens} has {len(tokens)}",
            file=sys.stderr,
        )
        return 2
    server = args.server.rstrip("/")
    workers = [
        Worker(number, tokens[2 * number][0], KeepAlive(server, tokens[2 * number][1]))
        for number in range(args.concurrency)
    ]
    try:
        with ThreadPoolExecutor(min(8, args.concurrency)) as pool:
            list(pool.map(lambda w: set_up(w, tokens[2 * w.number + 1][0]), workers))
        print(f"{args.concurrency} workers, each in a direct conversation of its own; sending…")
        seconds = run_sends(workers, args.duration)
    except (BenchError, OSError) as exc:
        print(f"REST send benchmark could not run: {exc}", file=sys.stderr)
        return 2
    finally:
        for worker in workers:
            with contextlib.suppress(OSError):
                worker.session.close()
    latencies = [latency for worker in workers for latency in worker.latencies]
    errors = sum((worker.errors for worker in workers), Counter())
    summary = latency_summary(latencies)
    rate = round(len(latencies) / seconds, 1)
    opened = sum(worker.session.opened for worker in workers)
    print(
        f"{len(latencies)} sends in {seconds:.1f} s: {rate} requests/s; "
        f"p50 {fmt_ms(summary['p50_ms'])}, p95 {fmt_ms(summary['p95_ms'])}, "
        f"p99 {fmt_ms(summary['p99_ms'])}, max {fmt_ms(summary['max_ms'])}"
    )
    print(
        f"errors: {sum(errors.values())}{f' {dict(errors)}' if errors else ''}; "
        f"HTTP connections opened: {opened} for {args.concurrency} workers"
    )
    emit(
        {
            "bench": "rest_send",
            "concurrency": args.concurrency,
            "duration_s": round(seconds, 2),
            "successes": len(latencies),
            "requests_per_second": rate,
            **summary,
            "errors": sum(errors.values()),
            "errors_by_status": dict(errors),
            "http_connections": opened,
        }
    )
    return 0 if latencies and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
