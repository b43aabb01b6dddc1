"""The same GET against two or more running servers (the code before a change
and after it, each from its own git worktree), alternated in batches on one
keep-alive connection each: p50/p95/p99 of each and each p50 over the
first's.

This machine's speed drifts from minute to minute (one history page's p50
went from 4.7 to 8.8 ms within an hour, the code unchanged), so runs one
after another compare the hours as much as the code; alternating batches
gives both servers the same minutes (docs/performance.md "History pages").

    .venv/bin/python bench/side_by_side.py --token $TOKEN \\
        --path "/api/messages/3?limit=50&before=100001" \\
        http://127.0.0.1:8124 http://127.0.0.1:8123
"""

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.client import BenchError, KeepAlive, emit, fmt_ms, latency_summary

WARM_UP = 30  # requests to each server before the samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("servers", nargs="+", help="base URLs, the reference first")
    parser.add_argument("--path", required=True, help="path and query to GET")
    parser.add_argument("--token", help="API token sent as a Bearer credential")
    parser.add_argument("--samples", type=int, default=2000, help="requests to each server")
    parser.add_argument("--batch", type=int, default=20, help="requests in a row to one server")
    args = parser.parse_args()

    clients = [KeepAlive(server, args.token) for server in args.servers]
    timings: list[list[float]] = [[] for _ in clients]

    def get(client: KeepAlive) -> float:
        reply = client.request("GET", args.path)
        if reply.status != 200:
            raise BenchError(f"GET {args.path}: {reply.status}")
        return reply.seconds

    for client in clients:
        for _ in range(WARM_UP):
            get(client)
    for batch in range(-(-args.samples // args.batch)):
        # The order flips every batch: neither server always goes first.
        order = list(enumerate(clients))
        for index, client in order if batch % 2 == 0 else reversed(order):
            for _ in range(args.batch):
                timings[index].append(get(client))

    summaries = [latency_summary(seconds) for seconds in timings]
    reference = summaries[0]["p50_ms"]
    for server, summary in zip(args.servers, summaries, strict=True):
        print(
            f"{server}: p50 {fmt_ms(summary['p50_ms'])}, p95 {fmt_ms(summary['p95_ms'])}, "
            f"p99 {fmt_ms(summary['p99_ms'])} ({len(timings[0])} requests); "
            f"p50 / first's {summary['p50_ms'] / reference:.2f}"
        )
    emit(
        {
            "bench": "side_by_side",
            "path": args.path,
            "samples": len(timings[0]),
            "servers": [
                {"server": server, **summary}
                for server, summary in zip(args.servers, summaries, strict=True)
            ],
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
