"""Socket send path sweep: this server against a bare Channels relay, in one run.

P direct pairs (20 by default), one socket per user, both users of each pair
sending 64-byte texts at a fixed total rate (open loop, bench/fanout.py's
client) for --step-seconds a step, the rate raised step by step. Each step
starts a fresh single server process (daphne) on an empty Redis database (the
bench's own: FLUSHDB of --redis-url's db only) with the channel layer's
capacity at --capacity, connects the sockets, sends, counts and stops it. A
step is good when p99 send→deliver ≤ 200 ms and nothing is lost (not
delivered within --timeout), duplicated, reordered or refused. The sweep goes
on --past-knee steps after the first bad one, to show how it degrades. The
same sweep then runs against bench/relay.py (one group_send per message, no
auth, no database): the framework's ceiling. Prints each step, the last good
rate of each and their ratio, one JSON line, and a chart (p50/p99 by offered
rate, both servers).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chat_bench \\
        .venv/bin/python bench/send_path.py --redis-url redis://127.0.0.1:6379/5 \\
        --step-seconds 20 --chart var/bench/send-path.png

DATABASE_URL must name a migrated database (bench/run.py's `chat_bench`);
the users are made there by bench/provision.py unless --tokens names them.
"""

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from bench.client import BenchError, bounded_gather, emit, read_tokens  # noqa: E402
from bench.fanout import (  # noqa: E402
    P99_LIMIT_MS,
    Conversation,
    Fanout,
    FanoutConfig,
    FanoutResult,
)
from bench.run import BENCH_RATE_LIMITS  # noqa: E402
from tests.support.live_server import Deployment, Server, base_env  # noqa: E402

DEFAULT_RATES = "20,40,60,80,100,120,160,200,240,280,320,360,400,480"
TEXT_BYTES = 64
WARM_UP_RATE = 10.0


class RelayFanout(Fanout):
    """For bench/relay.py: its conversations need no API (the pair's number is
    its id), and a socket's token is the id of the conversation it joins."""

    async def create(self, indexes: list[int], *, kind: str) -> Conversation:
        return Conversation(str(indexes[0] // 2 + 1), indexes)


def relay_tokens(pairs: int) -> list[tuple[str, str]]:
    return [(str(index), str(index // 2 + 1)) for index in range(2 * pairs)]


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a local process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime, stime in clock ticks (100 Hz)


@dataclass
class Step:
    result: FanoutResult
    cpu_percent: float

    def figures(self) -> dict:
        return self.result.figures() | {"cpu_percent": self.cpu_percent}


@dataclass
class Sweep:
    """One server kind's steps: a fresh process on an empty Redis each."""

    name: str
    deployment: Deployment
    fanout: Fanout
    redis_url: str
    steps: list[Step] = field(default_factory=list)
    ready: bool = False

    async def step(self, rate: float, seconds: float) -> Step:
        redis.Redis.from_url(self.redis_url).flushdb()
        server: Server = await asyncio.to_thread(self.deployment.start_server)
        try:
            self.fanout.servers = [server.url]
            for member in self.fanout.members:
                member.server = server.url
            if self.ready:
                await bounded_gather([self.fanout.connect(m) for m in self.fanout.members], 32)
            else:
                await self.fanout.set_up()
                self.ready = True
            await asyncio.sleep(1)
            await self.fanout.run(WARM_UP_RATE, duration=1.0)  # the pools open; not counted
            cpu_before, started = process_cpu_seconds(server.process.pid), time.monotonic()
            result = await self.fanout.run(rate, seconds)
            cpu = process_cpu_seconds(server.process.pid) - cpu_before
            step = Step(result, round(100 * cpu / (time.monotonic() - started), 1))
        finally:
            await self.fanout.close()
            server.stop()
            self.deployment.servers.clear()
        self.steps.append(step)
        return step

    @property
    def last_good(self) -> Step | None:
        good = [s for s in self.steps if s.result.within(P99_LIMIT_MS)]
        return good[-1] if good else None

    def at_rate(self, rate: float) -> Step | None:
        return next((s for s in self.steps if s.result.rate == rate), None)


async def sweep(sweep: Sweep, rates: list[float], seconds: float, past_knee: int) -> None:
    bad = 0
    for rate in rates:
        step = await sweep.step(rate, seconds)
        print(
            f"{sweep.name:<5} {step.result.line()}; ack p99 "
            f"{step.result.ack_p99_ms} ms; server CPU {step.cpu_percent}%",
            flush=True,
        )
        if not step.result.within(P99_LIMIT_MS):
            bad += 1
            if bad > past_knee:
                return


def draw_chart(sweeps: list[Sweep], pairs: int, seconds: float, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no chart (pip install matplotlib)", file=sys.stderr)
        return False
    figure, axes = plt.subplots(figsize=(8, 5))
    for sweep, colour in zip(sweeps, ("tab:blue", "tab:orange"), strict=False):
        rates = [s.result.rate for s in sweep.steps]
        for key, style in (("p50_ms", ":"), ("p99_ms", "-")):
            axes.plot(
                rates,
                [getattr(s.result, key) or float("nan") for s in sweep.steps],
                style,
                marker="o",
                color=colour,
                label=f"{sweep.name} {key.removesuffix('_ms')}",
            )
    axes.axhline(P99_LIMIT_MS, color="grey", linestyle="--", linewidth=1)
    axes.set(
        xlabel="offered rate (messages/s)",
        ylabel="send→deliver (ms)",
        yscale="log",
        title=f"Socket send path: {pairs} direct pairs, {seconds:g} s a step, one process",
    )
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    return True


def provisioned_tokens(env: dict[str, str], users: int, work_dir: Path) -> list[tuple[str, str]]:
    out = work_dir / "tokens.txt"
    subprocess.run(
        [sys.executable, "bench/provision.py", "--users", str(users), "--out", str(out)],
        cwd=ROOT,
        env=env,
        check=True,
    )
    return read_tokens(str(out))


def server_env(database_url: str, redis_url: str, capacity: int) -> dict[str, str]:
    return base_env(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        CHANNEL_LAYER_PREFIX=f"sendpath-{uuid.uuid4().hex[:8]}",
        CHANNEL_LAYER_CAPACITY=str(capacity),
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="bench-" + uuid.uuid4().hex,
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SECURE_SSL_REDIRECT="0",
        DJANGO_SECURE_COOKIES="0",
        **BENCH_RATE_LIMITS,
    )


def summary(sweeps: list[Sweep], at: float) -> dict:
    figures: dict = {}
    for sweep in sweeps:
        good, at_rate = sweep.last_good, sweep.at_rate(at)
        figures[sweep.name] = {
            "last_good_rate": good.result.rate if good else None,
            "last_good_p99_ms": good.result.p99_ms if good else None,
            "last_good_cpu_percent": good.cpu_percent if good else None,
            f"p99_ms_at_{at:g}": at_rate.result.p99_ms if at_rate else None,
            "steps": [step.figures() for step in sweep.steps],
        }
    ours, relay = (figures.get(name, {}).get("last_good_rate") for name in ("ours", "relay"))
    figures["ratio"] = round(ours / relay, 2) if ours and relay else None
    return figures


async def main_async(args) -> dict:

    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres"):
        raise BenchError("DATABASE_URL must name the migrated PostgreSQL bench database")
    work_dir = Path(args.work_dir or tempfile.mkdtemp(prefix="send-path-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    env = server_env(database_url, args.redis_url, args.capacity)
    rates = [float(rate) for rate in args.rates.split(",")]
    config = {
        "pairs": args.pairs,
        "groups": 0,
        "text_bytes": TEXT_BYTES,
        "timeout": args.timeout,
        "duration": args.step_seconds,
    }
    sweeps = []
    if args.servers in ("ours", "both"):
        tokens = (
            read_tokens(args.tokens)
            if args.tokens
            else provisioned_tokens(env, 2 * args.pairs, work_dir)
        )
        fanout = Fanout(FanoutConfig(servers=[""], tokens=tokens, **config), log=print)
        sweeps.append(Sweep("ours", Deployment(env, work_dir), fanout, args.redis_url))
    if args.servers in ("relay", "both"):
        relay = Deployment(env, work_dir, application="bench.relay:application")
        tokens = relay_tokens(args.pairs)
        fanout = RelayFanout(FanoutConfig(servers=[""], tokens=tokens, **config), log=print)
        sweeps.append(Sweep("relay", relay, fanout, args.redis_url))
    for each in sweeps:
        await sweep(each, rates, args.step_seconds, args.past_knee)
    return {"sweeps": sweeps}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--rates", default=DEFAULT_RATES, help="offered messages/s, in order")
    parser.add_argument("--step-seconds", type=float, default=20.0)
    parser.add_argument("--past-knee", type=int, default=2, help="steps run after the first bad")
    parser.add_argument("--timeout", type=float, default=10.0, help="later than this is lost")
    parser.add_argument("--capacity", type=int, default=100, help="the channel layer's capacity")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5", help="flushed per step")
    parser.add_argument("--servers", choices=["ours", "relay", "both"], default="both")
    parser.add_argument("--tokens", help='file of "user_id token" lines (bench/provision.py)')
    parser.add_argument("--at", type=float, default=40.0, help="the rate whose p99 is reported")
    parser.add_argument("--chart", type=Path, help="write the PNG chart here")
    parser.add_argument("--work-dir", help="server logs (a temporary directory by default)")
    args = parser.parse_args(argv)
    try:
        sweeps = asyncio.run(main_async(args))["sweeps"]
    except BenchError as exc:
        print(f"send path benchmark could not run: {exc}", file=sys.stderr)
        return 2
    figures = {
        "bench": "send_path",
        "pairs": args.pairs,
        "step_seconds": args.step_seconds,
        "capacity": args.capacity,
        **summary(sweeps, args.at),
    }
    for each in sweeps:
        good = each.last_good
        print(
            f"{each.name}: last good rate "
            + (f"{good.result.rate:g} msgs/s (p99 {good.result.p99_ms} ms)" if good else "none")
        )
    print(f"ratio ours/relay: {figures['ratio']}")
    if args.chart and draw_chart(sweeps, args.pairs, args.step_seconds, args.chart):
        print(f"chart: {args.chart}")
        figures["chart"] = str(args.chart)
    emit(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
