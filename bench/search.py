"""Search benchmark: `GET /api/search/messages?q=<word>` over one keep-alive
HTTP connection, for a rare word, a common word, the next page of the common
word (its Link header's cursor) and a scattered prefix, alternated,
`--samples` of each after a warm-up: p50/p95/p99/max of each against the
target p50 <= 50 ms (docs/performance.md "Search").

The data is seed_demo's "Load test" conversation (`manage.py seed_demo
--messages 1000000`), whose texts are "Load test message N", N = 1, 2, 3 …:
`message` is in every one of them (common: the newest messages hold a page),
a number such as `500000` in one (rare: found through the GIN index), and
`42` begins the numbers of 11,111 of them, none among the newest (scattered:
every hit gathered through the index, then sorted; the costliest of
messaging.search.postgres_hits' steps). The token is one of its members'
(alice).

With --explain (DATABASE_URL set to the servers' database) the queries the
search ran for each word are run again under EXPLAIN ANALYZE in this process,
and the shape of each plan is printed and recorded. bench/run.py calls it so:

    .venv/bin/python bench/search.py --server http://127.0.0.1:8001 \\
        --token $TOKEN [--rare 500000] [--common message] [--scattered 42] \\
        [--samples 200] [--limit 20] [--explain]

The server's search rate limit must be out of reach (CHAT_RATE_SEARCH).
"""

import argparse
import contextlib
import os
import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

from bench.client import BenchError, KeepAlive, emit, fmt_ms, latency_summary  # noqa: E402
from bench.history import next_page  # noqa: E402

WARM_UP = 5  # requests of each query before the samples
TARGET_P50_MS = 50.0
# The hit queries of messaging.search.postgres_hits, by what their SQL holds.
STEPS = {"WITH recent": "newest", "WITH hits": "gather", "ts_match_vq": "walk"}
PLAN_NODE = re.compile(r"^\s*(?:->\s*)?(?P<node>[^(]+?)\s*\(actual time=[^)]*rows=(?P<rows>\d+)")


def search_path(q: str, limit: int) -> str:
    return "/api/search/messages?" + urlencode({"q": q, "limit": limit})


def first_page(session: KeepAlive, path: str) -> tuple[list[dict], str | None]:
    """The hits of one search and the path of its next page, if any."""
    reply = session.request("GET", path)
    if reply.status != 200:
        raise BenchError(f"GET {path}: {reply.status} {str(reply.body)[:300]}")
    return reply.body["results"], next_page(reply.headers)


def timings(session: KeepAlive, paths: dict[str, str], samples: int) -> dict[str, list[float]]:
    """`samples` timings of each path, alternating (the order flips every round)."""
    seconds: dict[str, list[float]] = {name: [] for name in paths}
    names = list(paths)
    for round_number in range(WARM_UP + samples):
        for name in names if round_number % 2 == 0 else reversed(names):
            reply = session.request("GET", paths[name])
            if reply.status != 200:
                raise BenchError(f"GET {paths[name]}: {reply.status} {str(reply.body)[:300]}")
            if round_number >= WARM_UP:
                seconds[name].append(reply.seconds)
    return seconds


def plan_shapes(user_id: str, words: dict[str, str], limit: int) -> dict[str, list[dict]]:
    """Each word's search run in this process (Django on DATABASE_URL), its
    hit queries (the two steps of messaging.search.postgres_hits) run again
    under EXPLAIN ANALYZE: per step (newest, gather, walk) its plan nodes
    (with the rows each produced) and its execution time."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatproject.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from messaging.search import search_messages
    from users.models import User

    if connection.vendor != "postgresql":
        raise BenchError("--explain needs DATABASE_URL of the servers' PostgreSQL database")
    user = User.objects.get(pk=user_id)
    shapes: dict[str, list[dict]] = {}
    for name, q in words.items():
        with CaptureQueriesContext(connection) as captured:
            search_messages(user=user, q=q, limit=limit)
        steps = []
        for query in captured.captured_queries:
            step = next((step for marker, step in STEPS.items() if marker in query["sql"]), None)
            if step is None:
                continue  # the conversations, the statistics, the page and its prefetches
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + query["sql"])
                lines = [row[0] for row in cursor.fetchall()]
            nodes = [
                f"{match['node']} ({match['rows']} rows)"
                for match in map(PLAN_NODE.match, lines)
                if match
            ]
            executed = next(line for line in lines if line.startswith("Execution Time"))
            steps.append(
                {"step": step, "nodes": nodes, "ms": float(executed.split(":")[1].split()[0])}
            )
        shapes[name] = steps
    return shapes


def run(args: argparse.Namespace, session: KeepAlive) -> dict[str, Any]:
    me = session.json("GET", "/api/users/me")
    words = {"rare": args.rare, "common": args.common, "scattered": args.scattered}
    paths = {name: search_path(q, args.limit) for name, q in words.items()}
    hits: dict[str, int] = {}
    for name, path in list(paths.items()):
        results, following = first_page(session, path)
        hits[name] = len(results)
        if not results:
            raise BenchError(f"{words[name]!r} finds nothing: seed more messages, or pick a word")
        if name == "common":
            if following is None or len(results) < args.limit:
                raise BenchError(
                    f"{args.common!r} is not common: {len(results)} hits, no next page"
                )
            paths["common_next"] = following
    print(
        f"q={args.rare!r} (rare), q={args.common!r} (common, and its next page), "
        f"q={args.scattered!r} (scattered); pages of {args.limit}; first-page hits {hits}"
    )
    seconds = timings(session, paths, args.samples)
    summaries = {name: latency_summary(values) for name, values in seconds.items()}
    for name, summary in summaries.items():
        print(
            f"  {name:>12}: p50 {fmt_ms(summary['p50_ms'])}, p95 {fmt_ms(summary['p95_ms'])}, "
            f"p99 {fmt_ms(summary['p99_ms'])}, max {fmt_ms(summary['max_ms'])} "
            f"({args.samples} samples)"
        )
    met = all(summaries[name]["p50_ms"] <= TARGET_P50_MS for name in ("rare", "common"))
    print(f"  target p50 <= {TARGET_P50_MS:.0f} ms for the rare and the common word: {met}")
    load = os.getloadavg()[0]
    print(f"HTTP connections opened: {session.opened}; load average (1 min) {load:.1f}")
    figures: dict[str, Any] = {
        "bench": "search",
        "words": words,
        "limit": args.limit,
        "samples": args.samples,
        "first_page_hits": hits,
        **summaries,
        "target_p50_ms": TARGET_P50_MS,
        "target_met": met,
        "http_connections": session.opened,
        "load_average": round(load, 2),
    }
    if args.explain:
        figures["plans"] = plan_shapes(me["id"], words, args.limit)
        for name, steps in figures["plans"].items():
            print(f"  plan of {name} ({words[name]!r}):")
            for step in steps:
                print(f"    {step['step']:>6} step, {step['ms']} ms: " + " <- ".join(step["nodes"]))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", required=True, help="base URL of one process")
    parser.add_argument("--token", required=True, help='API token of a "Load test" member')
    parser.add_argument("--rare", default="500000", help="a word in one message")
    parser.add_argument("--common", default="message", help="a word in every message")
    parser.add_argument("--scattered", default="42", help="a prefix of hits none of them new")
    parser.add_argument("--samples", type=int, default=200, help="timed requests of each query")
    parser.add_argument("--limit", type=int, default=20, help="hits per page (1 to 100)")
    parser.add_argument(
        "--explain", action="store_true", help="EXPLAIN ANALYZE each word's queries (DATABASE_URL)"
    )
    args = parser.parse_args(argv)
    if args.samples < 1 or not 1 <= args.limit <= 100:
        parser.error("--samples must be at least 1, --limit 1 to 100")
    try:
        with contextlib.closing(KeepAlive(args.server.rstrip("/"), args.token)) as session:
            figures = run(args, session)
    except (BenchError, OSError) as exc:
        print(f"search benchmark could not run: {exc}", file=sys.stderr)
        return 2
    emit(figures)
    return 0 if figures["target_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
