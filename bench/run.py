"""`make bench`: the benchmarks of docs/performance.md, on this machine.

Uses PostgreSQL and Redis at DATABASE_URL / REDIS_URL when set, else the
local defaults (127.0.0.1:5432 and :6379), starting them when nothing
answers. Works in a database of its own (`chat_bench` on that server, kept
between runs so that the 1,000,000-message history is loaded once; --fresh
drops it). For each server kind (daphne, uvicorn) it starts two processes of
chatproject.asgi with rate limits out of reach and DEBUG off, then runs each benchmark
as its own process against them over real sockets, and prints a table.
Every figure is also in var/bench/results.json (one JSON line per benchmark);
the fan-out latency chart is var/bench/fanout-<server>.png.

    make bench                                  # the default sizes: a few minutes
    make bench BENCH_ARGS="--servers daphne --only fanout --pairs 200 --groups 40"
    .venv/bin/python bench/run.py --help
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench.client import http_json  # noqa: E402
from tests.support.live_server import Deployment, Server, base_env  # noqa: E402

OUT = ROOT / "var" / "bench"
BENCHMARKS = ("fanout", "send_path", "history", "search", "flood", "rest", "idle", "reconnect")
# The commands the machine's own services start with (the env notes).
START_POSTGRES = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
START_REDIS = (
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" '
    "--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log"
)
# Limits far above what the benchmarks send, rather than "off": the limiter
# still runs (its Redis round trips are part of every send), it never refuses.
BENCH_RATE_LIMITS = {
    "CHAT_RATE_MESSAGE_SEND": "1000000/min",
    "CHAT_RATE_AUTH_IP": "1000000/min",
    "CHAT_RATE_AUTH_USERNAME": "1000000/min",
    "CHAT_RATE_SOCKET_FRAMES": "1000000/min",
    "CHAT_RATE_CONVERSATION_CREATE": "1000000/min",
    "CHAT_RATE_SEARCH": "1000000/min",
}


def reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def ensure_service(name: str, url: str, port: int, start: str, given: bool) -> None:
    if reachable(url, port):
        return
    if given:
        sys.exit(f"{name} does not answer at {url}")
    print(f"{name} is not running: starting it ({start})")
    subprocess.run(start, shell=True, check=True)
    deadline = time.monotonic() + 30
    while not reachable(url, port):
        if time.monotonic() > deadline:
            sys.exit(f"{name} did not start")
        time.sleep(0.5)


def bench_database(server_url: str, name: str, fresh: bool) -> str:
    admin_url = urlparse(server_url)._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as connection:
        if fresh:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')
    return urlparse(server_url)._replace(path=f"/{name}").geturl()


def history_size(database_url: str) -> int:
    """Messages in seed_demo's "Load test" conversation (0 before the first load)."""
    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "SELECT last_seq FROM conversations_conversation WHERE title = 'Load test' "
            "AND kind = 'group' ORDER BY id LIMIT 1"
        ).fetchone()
    return row[0] if row else 0


def redis_database(redis_url: str, database: int | None) -> str:
    """`redis_url` with database `database`, by default the one after its own
    (bench/send_path.py empties it every step)."""
    parsed = urlparse(redis_url)
    if database is None:
        database = (int(parsed.path.strip("/") or 0) + 1) % 16
    return parsed._replace(path=f"/{database}").geturl()


def run_benchmark(script: str, arguments: list[str], env: dict[str, str], results: Path) -> int:
    command = [sys.executable, str(ROOT / "bench" / script), *arguments]
    print(f"\n$ {' '.join(command[1:])}", flush=True)
    return subprocess.run(command, cwd=ROOT, env=env | {"BENCH_RESULTS": str(results)}).returncode


def options(**values: object) -> list[str]:
    """`--name=value` arguments (underscores in names become dashes); one
    word each, so that a value starting with "-" (a token can) stays a value."""
    return [f"--{name.replace('_', '-')}={value}" for name, value in values.items()]


def start_servers(deployment: Deployment, count: int) -> list[Server]:
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: deployment.start_server(), range(count)))


def stop_servers(deployment: Deployment) -> None:
    for server in deployment.servers:
        server.stop()
    deployment.servers.clear()


def demo_login(server: Server) -> tuple[str, str]:
    """alice's token (seed_demo's user) and the "Load test" conversation id."""
    token = http_json(
        "POST",
        f"{server.url}/api/auth/token",
        {"username": "alice", "password": "chat-demo-pass"},
    )["token"]
    conversations = http_json("GET", f"{server.url}/api/conversations?limit=200", token=token)
    items = conversations["items"] if isinstance(conversations, dict) else conversations
    load_test = next(c for c in items if c.get("title") == "Load test")
    return token, load_test["id"]


def table(rows: list[dict]) -> str:
    """The results as a fixed-width table (docs/performance.md)."""
    lines = []
    for row in rows:
        lines.append(
            f"{row['server']:<8} {row['benchmark']:<28} {row['figure']:<58} {row['target']}"
        )
    header = f"{'server':<8} {'benchmark':<28} {'measured':<58} target"
    return "\n".join([header, "-" * len(header), *lines])


def summarize(results: list[dict]) -> list[dict]:
    rows: list[dict] = []

    def add(server: str, benchmark: str, figure: str, target: str = "") -> None:
        rows.append({"server": server, "benchmark": benchmark, "figure": figure, "target": target})

    for result in results:
        server = result.get("server_kind", "?")
        kind = result.get("bench")
        if kind == "fanout":
            good = result.get("last_good_deliveries_per_second")
            runs = result["runs"]
            at_target = next(
                (r for r in runs if r["deliveries_per_second"] >= 1000 and r["ok"]), None
            )
            if at_target:
                add(
                    server,
                    "fan-out at ≥1,000 deliv./s",
                    f"{at_target['deliveries_per_second']:.0f}/s: p50 {at_target['p50_ms']} ms, "
                    f"p99 {at_target['p99_ms']} ms, lost {at_target['lost']}",
                    "p99 ≤ 100 ms, 0 lost",
                )
            add(
                server,
                "fan-out sweep, last good",
                f"{good or 0:.0f} deliveries/s "
                f"({result.get('last_good_sends_per_second') or 0:.0f} sends/s), "
                f"p99 {result.get('last_good_p99_ms')} ms",
                "p99 ≤ 200 ms, 0 lost",
            )
        elif kind in FORMATTERS:
            for benchmark, figure, target in FORMATTERS[kind](result):
                add(server, benchmark, figure, target)
    return rows


def history_rows(result: dict) -> list[tuple[str, str, str]]:
    newest, deep = result.get("newest", {}), result.get("deep", {})
    rows = [
        (
            f"history newest / {result.get('deep_offset', 900000):,} deep",
            f"p50 {newest.get('p50_ms')} / {deep.get('p50_ms')} ms, ratio {result.get('ratio')}",
            "ratio ≤ 1.5, p50 < 10 ms",
        )
    ]
    catch_up = result.get("since_version") or {}
    if catch_up:
        rows.append(
            (
                f"sinceVersion {catch_up.get('changes')} changes",
                f"REST {catch_up.get('rest_ms')} ms ({catch_up.get('rest_pages')} pages), "
                f"socket sync {catch_up.get('socket_ms')} ms",
                "",
            )
        )
    return rows


def search_rows(result: dict) -> list[tuple[str, str, str]]:
    words = result.get("words", {})
    labels = {
        "rare": "rare",
        "common": "common",
        "common_next": "next page",
        "scattered": "scattered",
    }
    rows = []
    for kind, label in labels.items():
        summary = result.get(kind)
        if summary:
            rows.append(
                (
                    f"search {label} {words.get(kind, words.get('common'))!r}",
                    f"p50 {summary.get('p50_ms')} ms, p95 {summary.get('p95_ms')} ms",
                    "p50 ≤ 50 ms" if kind in ("rare", "common") else "",
                )
            )
    return rows


def rest_rows(result: dict) -> list[tuple[str, str, str]]:
    return [
        (
            f"REST send, concurrency {result.get('concurrency')}",
            f"{result.get('requests_per_second')} req/s, p50 {result.get('p50_ms')} ms, "
            f"p99 {result.get('p99_ms')} ms, errors {result.get('errors')}",
            "",
        )
    ]


def idle_rows(result: dict) -> list[tuple[str, str, str]]:
    return [
        (
            "idle sockets, one process",
            f"{result.get('opened')} open, {result.get('kb_per_socket')} KB each, "
            f"{result.get('connect_rate')} connects/s",
            "5,000 at < 100 KB each",
        )
    ]


def storm_rows(result: dict) -> list[tuple[str, str, str]]:
    others = result.get("others", {})
    return [
        (
            f"reconnect storm ({result.get('mode')}), {result.get('sockets')} sockets",
            f"{result.get('reconnect_rate')} sockets/s; all caught up in "
            f"{result.get('all_caught_up_seconds')} s, lost {result.get('lost')}; "
            f"others' p99 {others.get('p99_ms')} ms",
            ">= 500/s, <= 30 s, 0 lost, p99 < 500 ms",
        )
    ]


def send_path_rows(result: dict) -> list[tuple[str, str, str]]:
    ours, relay = result.get("ours", {}), result.get("relay", {})
    at = next((key for key in ours if key.startswith("p99_ms_at_")), "p99_ms_at_40")
    return [
        (
            f"socket send path, {result.get('pairs')} pairs",
            f"last good {ours.get('last_good_rate')} msgs/s vs relay "
            f"{relay.get('last_good_rate')} (ratio {result.get('ratio')}); "
            f"p99 at {at.removeprefix('p99_ms_at_')}/s {ours.get(at)} ms",
            "ratio ≥ 0.6, p99 ≤ 20 ms at 40/s",
        )
    ]


def flood_rows(result: dict) -> list[tuple[str, str, str]]:
    base, during = result.get("other_user_baseline", {}), result.get("other_user_during_flood", {})
    return [
        (
            f"{result.get('syncs_sent')} syncs x {result.get('changes_per_sync'):,} changes",
            f"{result.get('flood_syncs_refused')} refused; another user's p50 "
            f"{base.get('p50_ms')} -> {during.get('p50_ms')} ms, max {during.get('max_ms')} ms",
            "others barely slowed",
        ),
        (
            f"{result.get('sockets_opened')} sockets of one user",
            str(result.get("socket_outcomes")),
            "capped (4409)",
        ),
    ]


FORMATTERS: dict[str, Callable[[dict], list[tuple[str, str, str]]]] = {
    "history": history_rows,
    "search": search_rows,
    "sync_flood": flood_rows,
    "send_path": send_path_rows,
    "rest_send": rest_rows,
    "idle_sockets": idle_rows,
    "reconnect_storm": storm_rows,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--servers", choices=["daphne", "uvicorn", "both"], default="both")
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated subset")
    parser.add_argument("--database", default="chat_bench")
    parser.add_argument("--fresh", action="store_true", help="drop the bench database first")
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--group-size", type=int, default=20)
    parser.add_argument("--rate", type=float, default=60.0, help="first sends/s of the sweep")
    parser.add_argument("--sweep-factor", type=float, default=1.3)
    parser.add_argument("--sweep-max", type=float, default=800.0)
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per fan-out run")
    parser.add_argument("--send-path-pairs", type=int, default=20)
    # ~2 minutes in all (every step restarts its server): make bench stays under 10.
    parser.add_argument("--send-path-rates", default="40,120,160,200,240,280,360,480")
    parser.add_argument("--send-path-seconds", type=float, default=4.0, help="seconds a step")
    parser.add_argument(
        "--send-path-redis-db", type=int, help="emptied every step (default: REDIS_URL's db + 1)"
    )
    parser.add_argument("--history-messages", type=int, default=1_000_000)
    parser.add_argument("--deep", type=int, default=900_000)
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--rest-concurrency", type=int, default=16)
    parser.add_argument("--rest-duration", type=float, default=10.0)
    parser.add_argument("--idle-sockets", type=int, default=5000)
    parser.add_argument("--storm-sockets", type=int, default=5000)
    parser.add_argument("--storm-mode", choices=["close", "restart"], default="restart")
    args = parser.parse_args(argv)
    # Stopped with SIGTERM as with Ctrl-C: the servers it started stop too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(only) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    kinds = ["daphne", "uvicorn"] if args.servers == "both" else [args.servers]

    postgres_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    given_postgres, given_redis = postgres_url.startswith("postgres"), bool(redis_url)
    postgres_url = postgres_url if given_postgres else "postgres://postgres@127.0.0.1:5432/postgres"
    redis_url = redis_url or "redis://127.0.0.1:6379/0"
    ensure_service("PostgreSQL", postgres_url, 5432, START_POSTGRES, given_postgres)
    ensure_service("Redis", redis_url, 6379, START_REDIS, given_redis)

    OUT.mkdir(parents=True, exist_ok=True)
    results_path = OUT / "results.json"
    results_path.unlink(missing_ok=True)
    database_url = bench_database(postgres_url, args.database, args.fresh)
    env = base_env(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        CHANNEL_LAYER_PREFIX=args.database,
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="bench-" + uuid.uuid4().hex,
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SECURE_SSL_REDIRECT="0",
        DJANGO_SECURE_COOKIES="0",
        **BENCH_RATE_LIMITS,
    )
    work_dir = OUT / "logs"
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True)
    deployment = Deployment(env, work_dir)
    print(f"Benchmark database {database_url}, Redis {redis_url}; logs in {work_dir}")
    deployment.manage("migrate", "--no-input", "-v0")
    deployment.manage("seed_demo", "--force")  # DEBUG is off here
    if {"history", "search", "flood"} & set(only):
        missing = args.history_messages - history_size(database_url)
        if missing > 0:
            print(
                f"Loading {missing:,} messages into the history conversation (once per database)…"
            )
            started = time.monotonic()
            subprocess.run(
                [sys.executable, "manage.py", "seed_demo", "--messages", str(missing)],
                cwd=ROOT,
                env=env,
                check=True,
            )
            print(f"  loaded in {time.monotonic() - started:.0f} s")

    fanout_users = 2 * args.pairs + args.groups * args.group_size
    users = max(
        fanout_users + 2 * args.rest_concurrency,
        args.idle_sockets if "idle" in only else 0,
        # the storm's users and its 5 chatting pairs (bench/reconnect_storm.py --others)
        args.storm_sockets + 10 if "reconnect" in only else 0,
    )
    tokens = OUT / "tokens.txt"
    subprocess.run(
        [sys.executable, "bench/provision.py", "--users", str(users), "--out", str(tokens)],
        cwd=ROOT,
        env=env,
        check=True,
    )
    rest_tokens = OUT / "tokens-rest.txt"
    rest_tokens.write_text(
        "".join(
            tokens.read_text().splitlines(keepends=True)[
                fanout_users : fanout_users + 2 * args.rest_concurrency
            ]
        )
    )

    failures = 0
    for kind in kinds:
        deployment.server_kind = kind
        bench_env = env | {"BENCH_SERVER_KIND": kind}

        def bench(script: str, *arguments: str, env: dict[str, str] = bench_env) -> None:
            nonlocal failures
            failures += run_benchmark(script, list(arguments), env, results_path) != 0

        try:
            servers = start_servers(deployment, 2)
            urls = [server.url for server in servers]
            print(f"\n=== {kind}: two processes at {', '.join(urls)} ===")
            if "fanout" in only:
                bench(
                    "fanout.py",
                    "--servers",
                    *urls,
                    "--sweep",
                    *options(
                        pairs=args.pairs,
                        groups=args.groups,
                        group_size=args.group_size,
                        rate=args.rate,
                        duration=args.duration,
                        sweep_factor=args.sweep_factor,
                        sweep_max=args.sweep_max,
                        tokens=tokens,
                        chart=OUT / f"fanout-{kind}.png",
                        label=kind,
                    ),
                )
            if "send_path" in only and kind == "daphne":
                # Its own processes (one at a time, restarted on an empty
                # Redis database each step, the next one after run.py's).
                bench(
                    "send_path.py",
                    *options(
                        pairs=args.send_path_pairs,
                        rates=args.send_path_rates,
                        step_seconds=args.send_path_seconds,
                        redis_url=redis_database(redis_url, args.send_path_redis_db),
                        tokens=tokens,
                        work_dir=work_dir / "send-path",
                        chart=OUT / "send-path.png",
                    ),
                )
            if "history" in only:
                token, conversation = demo_login(servers[0])
                bench(
                    "history.py",
                    *options(
                        server=urls[0],
                        conversation=conversation,
                        token=token,
                        deep=args.deep,
                        changes=args.changes,
                    ),
                )
            if "search" in only:
                token, _ = demo_login(servers[0])
                bench(
                    "search.py",
                    *options(
                        server=urls[0],
                        token=token,
                        # "Load test message N": the N in the middle is in one message.
                        rare=max(args.history_messages // 2, 1),
                    ),
                    "--explain",
                )
            if "flood" in only:
                token, conversation = demo_login(servers[0])
                observer = rest_tokens.read_text().split()[1]
                bench(
                    "sync_flood.py",
                    *options(
                        server=urls[0],
                        conversation=conversation,
                        token=token,
                        observer_token=observer,
                    ),
                )
            if "rest" in only:
                bench(
                    "rest_send.py",
                    *options(
                        server=urls[0],
                        tokens=rest_tokens,
                        concurrency=args.rest_concurrency,
                        duration=args.rest_duration,
                    ),
                )
            if "idle" in only:
                # A process of its own: one that served the runs above would
                # reuse memory they freed, and read low.
                fresh = deployment.start_server()
                bench(
                    "idle_sockets.py",
                    *options(
                        server=fresh.url,
                        pid=fresh.process.pid,
                        tokens=tokens,
                        sockets=args.idle_sockets,
                    ),
                )
            if "reconnect" in only:
                # Starts (and kills) server processes of its own.
                bench(
                    "reconnect_storm.py",
                    *options(
                        tokens=tokens,
                        sockets=args.storm_sockets,
                        mode=args.storm_mode,
                        server_kind=kind,
                    ),
                )
        finally:
            stop_servers(deployment)

    results = []
    if results_path.exists():
        results = [json.loads(line) for line in results_path.read_text().splitlines() if line]
    print(f"\nMachine: {os.cpu_count()} cores; everything (load generator too) on this box.")
    print(table(summarize(results)))
    print(f"\nAll figures: {results_path}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
