"""Fan-out benchmark: P direct pairs and G groups of S members, one socket per
user, spread across the given servers (so every conversation spans
processes), senders at a fixed total rate (open loop: a send goes out on its
schedule whether or not earlier ones were answered). Each message carries
its send time; every recipient socket measures send-to-deliver latency from
it. Reports p50/p95/p99/max, delivered/expected, duplicates and reorders;
`--sweep` raises the rate step by step until p99 passes 200 ms or anything is
lost, and reports the last good rate.

    .venv/bin/python bench/fanout.py --servers http://127.0.0.1:8001 http://127.0.0.1:8002 \\
        --pairs 50 --groups 10 --group-size 20 --rate 100 --duration 10 [--sweep] [--chart f.png]

A delivery is a message.new frame reaching a member's socket other than the
sender's (the sender's socket gets the ack). The servers' rate limits must be
out of reach (CHAT_RATE_*; bench/run.py starts them so). Users come from --tokens
(bench/provision.py) or are signed up over the API. `run_fanout` is the
importable core; tests/integration/test_load_small.py runs it in CI.
"""

import argparse
import asyncio
import contextlib
import json
import random
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.client import (
    BenchError,
    api,
    bounded_gather,
    emit,
    fmt_ms,
    latency_summary,
    open_socket,
    read_tokens,
)

PASSWORD = "bench-fanout-pass-9f3c"
P99_LIMIT_MS = 200.0  # the sweep's bound


@dataclass
class FanoutConfig:
    servers: list[str]
    pairs: int = 10
    groups: int = 2
    group_size: int = 10
    group_share: float = 0.5  # of the sends, the share that goes to groups
    rate: float = 50.0  # sends per second, all senders together
    duration: float = 5.0  # seconds of sending per run
    timeout: float = 15.0  # seconds to wait for acks and deliveries after the last send
    text_bytes: int = 0  # texts padded to this length (bench/send_path.py: 64)
    tokens: list[tuple[str, str]] | None = None

    @property
    def users(self) -> int:
        return 2 * self.pairs + self.groups * self.group_size

    def deliveries_per_send(self) -> float:
        """Expected recipients of one send, given the mix of conversations."""
        if not self.groups:
            return 1.0
        if not self.pairs:
            return self.group_size - 1.0
        return (1 - self.group_share) * 1 + self.group_share * (self.group_size - 1)


@dataclass
class FanoutResult:
    rate: float = 0.0
    sockets: int = 0
    conversations: int = 0
    sent: int = 0
    send_rate: float = 0.0
    acked: int = 0
    errors: int = 0
    refused: int = 0  # sends answered with an error (e.g. overloaded): not expected anywhere
    expected: int = 0
    delivered: int = 0
    sync_needed: int = 0  # sync.needed frames: live delivery fell behind
    synced: int = 0  # deliveries that came in the sync a sync.needed asked for, not live
    lost: int = 0
    duplicates: int = 0
    reorders: int = 0
    deliveries_per_second: float = 0.0
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    ack_p50_ms: float | None = None
    ack_p99_ms: float | None = None
    error_codes: dict[str, int] = field(default_factory=dict)
    # (seconds since the first send, latency in ms) of every delivery, for the chart
    samples: list[tuple[float, float]] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicates or self.reorders or self.errors or self.synced)

    def within(self, p99_limit_ms: float) -> bool:
        return self.ok and self.p99_ms is not None and self.p99_ms <= p99_limit_ms

    def line(self) -> str:
        caught_up = (
            f"; {self.synced} caught up by sync after {self.sync_needed} sync.needed"
            if self.sync_needed
            else ""
        )
        return (
            f"{self.send_rate:7.1f} sends/s → {self.deliveries_per_second:7.1f} deliveries/s: "
            f"p50 {fmt_ms(self.p50_ms)}, p95 {fmt_ms(self.p95_ms)}, p99 {fmt_ms(self.p99_ms)}, "
            f"max {fmt_ms(self.max_ms)}; delivered {self.delivered}/{self.expected}, "
            f"duplicates {self.duplicates}, reorders {self.reorders}, errors {self.errors}"
            f"{caught_up}"
            f"{f' ({self.refused} sends refused)' if self.refused else ''}"
            f"{' ' + str(self.error_codes) if self.error_codes else ''}"
        )

    def figures(self) -> dict:
        figures = asdict(self)
        del figures["samples"]
        return figures | {"ok": self.ok}


@dataclass
class Member:
    index: int
    user_id: str
    token: str
    server: str
    connection: object = None
    reader: asyncio.Task | None = None


@dataclass
class Conversation:
    id: str
    members: list[int]


class Fanout:
    """Users, conversations and open sockets, reused by every run of a sweep."""

    def __init__(self, config: FanoutConfig, log=print) -> None:
        self.config = config
        self.log = log
        self.servers = [server.rstrip("/") for server in config.servers]
        self.members: list[Member] = []
        self.pair_conversations: list[Conversation] = []
        self.group_conversations: list[Conversation] = []
        self.run_id = uuid.uuid4().hex[:8]
        self.round = 0
        self.frames: list[list[tuple[float, dict]]] = []

    async def set_up(self) -> None:
        config = self.config
        if config.pairs < 0 or config.groups < 0 or config.users < 2:
            raise BenchError("need at least one pair or one group")
        if config.groups and config.group_size < 2:
            raise BenchError("--group-size must be at least 2")
        if config.tokens:
            if len(config.tokens) < config.users:
                raise BenchError(f"{config.users} users needed; --tokens has fewer")
            users = config.tokens[: config.users]
        else:
            users = await bounded_gather([self.sign_up(i) for i in range(config.users)])
        self.members = [
            Member(index, user_id, token, self.servers[index % len(self.servers)])
            for index, (user_id, token) in enumerate(users)
        ]
        creations = [
            self.create(list(range(2 * p, 2 * p + 2)), kind="direct") for p in range(config.pairs)
        ]
        first = 2 * config.pairs
        creations += [
            self.create(
                list(range(first + g * config.group_size, first + (g + 1) * config.group_size)),
                kind="group",
            )
            for g in range(config.groups)
        ]
        conversations = await bounded_gather(creations)
        self.pair_conversations = conversations[: config.pairs]
        self.group_conversations = conversations[config.pairs :]
        self.frames = [[] for _ in self.members]
        await bounded_gather([self.connect(member) for member in self.members], limit=32)
        self.log(
            f"{len(self.members)} sockets on {len(self.servers)} server(s); "
            f"{config.pairs} pairs, {config.groups} groups of {config.group_size}"
        )

    async def sign_up(self, index: int) -> tuple[str, str]:
        body = {
            "username": f"fanout_{self.run_id}_{index}",
            "password": PASSWORD,
            "displayName": f"Fanout {index}",
        }
        answer = await api("POST", f"{self.servers[0]}/api/auth/signup", body)
        return answer["user"]["id"], answer["token"]

    async def create(self, indexes: list[int], *, kind: str) -> Conversation:
        creator = self.members[indexes[0]]
        body = {"users": [self.members[i].user_id for i in indexes[1:]], "kind": kind}
        if kind == "group":
            body["title"] = f"fanout {self.run_id}"
        answer = await api("POST", f"{self.servers[0]}/api/conversations", body, creator.token)
        return Conversation(answer["id"], indexes)

    async def connect(self, member: Member) -> None:
        member.connection = await open_socket(member.server, member.token)
        member.reader = asyncio.create_task(self.read(member))

    async def read(self, member: Member) -> None:
        """Record every frame; as the web page does, answer `sync.needed` with
        a `sync` from the last version held. What arrives for a conversation
        between that sync and its `sync.done` is marked `_synced`."""
        frames = self.frames[member.index]
        versions: dict[str, int] = {}
        syncing: set[str] = set()
        again: set[str] = set()  # told sync.needed during its sync: one more after it

        async def sync(conversation: str) -> None:
            syncing.add(conversation)
            since = versions.get(conversation, 0)
            frame = {"type": "sync", "conversationId": conversation, "sinceVersion": since}
            await member.connection.send(json.dumps(frame))

        with contextlib.suppress(Exception):
            async for raw in member.connection:
                at, frame = time.perf_counter(), json.loads(raw)
                kind, conversation = frame.get("type"), frame.get("conversationId")
                if kind == "sync.needed":
                    if conversation in syncing:
                        again.add(conversation)
                    else:
                        await sync(conversation)
                elif kind == "sync.done":
                    syncing.discard(conversation)
                    if conversation in again:
                        again.discard(conversation)
                        await sync(conversation)
                elif conversation is not None and "version" in frame:
                    frame["_synced"] = conversation in syncing
                    versions[conversation] = max(versions.get(conversation, 0), frame["version"])
                frames.append((at, frame))

    async def close(self) -> None:
        for member in self.members:
            if member.connection is not None:
                with contextlib.suppress(Exception):
                    await member.connection.close()
            if member.reader is not None:
                member.reader.cancel()
        await asyncio.gather(*(m.reader for m in self.members if m.reader), return_exceptions=True)

    def plan(self, rate: float, duration: float) -> list[tuple[Conversation, int]]:
        """Which conversation and sender each message of a run has."""
        config = self.config
        chooser = random.Random(f"{self.run_id}-{self.round}")
        total = max(1, round(rate * duration))
        planned = []
        for _ in range(total):
            to_group = self.group_conversations and (
                not self.pair_conversations or chooser.random() < config.group_share
            )
            pool = self.group_conversations if to_group else self.pair_conversations
            conversation = chooser.choice(pool)
            planned.append((conversation, chooser.choice(conversation.members)))
        return planned

    async def run(self, rate: float, duration: float | None = None) -> FanoutResult:
        """Send at `rate` for `duration` (the configured one by default), wait, and count."""
        self.round += 1
        tag = f"{self.run_id}.{self.round}"
        for frames in self.frames:
            frames.clear()
        planned = self.plan(rate, duration or self.config.duration)
        sent_at: list[float] = []
        started = time.perf_counter()
        for number, (conversation, sender) in enumerate(planned):
            delay = started + number / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.perf_counter()
            sent_at.append(now)
            # The send time travels in the text; recipients measure from it.
            await self.members[sender].connection.send(
                json.dumps(
                    {
                        "type": "message.send",
                        "conversationId": conversation.id,
                        "text": f"{tag} {number} {now!r} ".ljust(self.config.text_bytes, "x"),
                        "clientMessageId": f"{tag}-{number}",
                    }
                )
            )
        seconds_sending = time.perf_counter() - started
        # Every member socket but the sender's gets message.new (the sender's
        # has the ack; another tab of the sender gets message.new too).
        deliveries_expected = sum(len(conversation.members) - 1 for conversation, _ in planned)
        deadline = time.perf_counter() + self.config.timeout
        while time.perf_counter() < deadline:
            if self.deliveries(tag, planned) >= deliveries_expected:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # late duplicates would show up here
        return self.result(tag, rate, planned, sent_at, seconds_sending, started)

    def deliveries(self, tag: str, planned: list[tuple[Conversation, int]]) -> int:
        """message.new frames of this run received so far on sockets other than the sender's."""
        prefix = f"{tag} "
        return sum(
            1
            for index, frames in enumerate(self.frames)
            for _, frame in frames
            if frame.get("type") == "message.new"
            and frame["message"]["text"].startswith(prefix)
            and planned[int(frame["message"]["text"].split(" ")[1])][1] != index
        )

    def result(self, tag, rate, planned, sent_at, seconds_sending, started) -> FanoutResult:
        result = FanoutResult(
            rate=rate,
            sockets=len(self.members),
            conversations=len(self.pair_conversations) + len(self.group_conversations),
            sent=len(planned),
            send_rate=round(len(planned) / seconds_sending, 1) if seconds_sending else 0.0,
        )
        prefix = f"{tag} "
        latencies: list[float] = []
        ack_latencies: list[float] = []
        received: set[tuple[int, int]] = set()
        refused: set[int] = set()
        last_delivery = started
        for index, frames in enumerate(self.frames):
            last_seq: dict[str, int] = {}
            for at, frame in frames:
                kind = frame.get("type")
                if kind == "message.ack" and (frame.get("clientMessageId") or "").startswith(tag):
                    number = int(frame["clientMessageId"].rsplit("-", 1)[1])
                    result.acked += 1
                    ack_latencies.append(at - sent_at[number])
                elif kind == "error":
                    result.errors += 1
                    refused_id = frame.get("clientMessageId") or ""
                    if refused_id.startswith(f"{tag}-"):
                        refused.add(int(refused_id.rsplit("-", 1)[1]))
                    code = frame.get("code", "?")
                    result.error_codes[code] = result.error_codes.get(code, 0) + 1
                elif kind == "sync.needed":
                    result.sync_needed += 1
                elif kind == "message.new" and frame["message"]["text"].startswith(prefix):
                    _, number, stamp = frame["message"]["text"].split(" ")[:3]
                    if planned[int(number)][1] == index:
                        continue  # the sender's own socket: not a delivery
                    key = (index, int(number))
                    if frame.get("_synced"):
                        if key not in received:
                            result.synced += 1
                            received.add(key)
                        continue
                    result.delivered += 1
                    if key in received:
                        result.duplicates += 1
                        continue
                    received.add(key)
                    conversation = frame["conversationId"]
                    if frame["seq"] < last_seq.get(conversation, 0):
                        result.reorders += 1
                    last_seq[conversation] = max(last_seq.get(conversation, 0), frame["seq"])
                    latencies.append(at - float(stamp))
                    result.samples.append((float(stamp) - started, (at - float(stamp)) * 1000))
                    last_delivery = max(last_delivery, at)
        result.refused = len(refused)
        for number, (conversation, sender) in enumerate(planned):
            if number in refused:
                continue
            for index in conversation.members:
                if index != sender:
                    result.expected += 1
                    if (index, number) not in received:
                        result.lost += 1
        result.deliveries_per_second = round(
            (result.delivered - result.duplicates) / max(seconds_sending, last_delivery - started),
            1,
        )
        summary = latency_summary(latencies)
        result.p50_ms, result.p95_ms = summary["p50_ms"], summary["p95_ms"]
        result.p99_ms, result.max_ms = summary["p99_ms"], summary["max_ms"]
        acks = latency_summary(ack_latencies)
        result.ack_p50_ms, result.ack_p99_ms = acks["p50_ms"], acks["p99_ms"]
        return result


async def run_fanout(config: FanoutConfig, rates: list[float] | None = None, log=print):
    """Set up once, then one run per rate (the configured rate by default).
    A sweep stops after the first run over P99_LIMIT_MS or with any loss."""
    fanout = Fanout(config, log)
    results: list[FanoutResult] = []
    try:
        await fanout.set_up()
        # Connecting sockets announce presence to every conversation; a short
        # run at the first rate, not counted, lets that and the pools settle.
        await asyncio.sleep(2)
        warm_up = await fanout.run((rates or [config.rate])[0], duration=2.0)
        log(f"warm-up (not counted): {warm_up.line()}")
        for rate in rates or [config.rate]:
            result = await fanout.run(rate)
            log(result.line())
            results.append(result)
            if rates and not result.within(P99_LIMIT_MS):
                break
            await asyncio.sleep(1)  # let the servers settle between runs
    finally:
        await fanout.close()
    return results


def sweep_rates(start: float, factor: float, limit: float) -> list[float]:
    rates = []
    rate = start
    while rate <= limit:
        rates.append(round(rate, 1))
        rate *= factor
    return rates


def draw_chart(results: list[FanoutResult], config: FanoutConfig, path: Path) -> bool:
    """Latency of every delivery over time for each run, and p99 by rate."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no chart (pip install matplotlib)", file=sys.stderr)
        return False
    figure, (over_time, by_rate) = plt.subplots(1, 2, figsize=(12, 4.5))
    for result in results:
        if result.samples:
            xs, ys = zip(*result.samples, strict=True)
            over_time.scatter(xs, ys, s=2, label=f"{result.deliveries_per_second:.0f} deliveries/s")
    over_time.set(xlabel="seconds into the run", ylabel="send→deliver (ms)", yscale="log")
    over_time.legend(markerscale=4, fontsize="small")
    by_rate.plot(
        [r.deliveries_per_second for r in results],
        [r.p99_ms or 0 for r in results],
        marker="o",
        label="p99",
    )
    by_rate.plot(
        [r.deliveries_per_second for r in results],
        [r.p50_ms or 0 for r in results],
        marker="o",
        label="p50",
    )
    by_rate.axhline(P99_LIMIT_MS, color="grey", linestyle="--", linewidth=1)
    by_rate.set(xlabel="deliveries/s", ylabel="ms")
    by_rate.legend()
    figure.suptitle(
        f"Fan-out: {config.pairs} pairs + {config.groups} groups of {config.group_size}, "
        f"{len(config.servers)} processes"
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--servers", nargs="+", required=True, help="base URLs of the processes")
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--group-size", type=int, default=20)
    parser.add_argument("--group-share", type=float, default=0.5, help="share of sends to groups")
    parser.add_argument("--rate", type=float, default=100.0, help="sends per second, in total")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of sending per run")
    parser.add_argument("--timeout", type=float, default=15.0)
    parser.add_argument("--sweep", action="store_true", help="raise the rate from --rate up")
    parser.add_argument("--sweep-factor", type=float, default=1.25)
    parser.add_argument("--sweep-max", type=float, default=2000.0, help="highest sends/s tried")
    parser.add_argument("--tokens", help='file of "user_id token" lines (bench/provision.py)')
    parser.add_argument("--chart", type=Path, help="write a PNG latency chart here")
    parser.add_argument("--label", default="", help="a name for this run in the JSON line")
    args = parser.parse_args(argv)
    config = FanoutConfig(
        servers=args.servers,
        pairs=args.pairs,
        groups=args.groups,
        group_size=args.group_size,
        group_share=args.group_share,
        rate=args.rate,
        duration=args.duration,
        timeout=args.timeout,
        tokens=read_tokens(args.tokens) if args.tokens else None,
    )
    rates = sweep_rates(args.rate, args.sweep_factor, args.sweep_max) if args.sweep else None
    try:
        results = asyncio.run(run_fanout(config, rates))
    except BenchError as exc:
        print(f"fan-out benchmark could not run: {exc}", file=sys.stderr)
        return 2
    good = [r for r in results if r.within(P99_LIMIT_MS)]
    last_good = good[-1] if good else None
    figures = {
        "bench": "fanout",
        "label": args.label,
        "servers": len(config.servers),
        "pairs": config.pairs,
        "groups": config.groups,
        "group_size": config.group_size,
        "group_share": config.group_share,
        "duration_s": config.duration,
        "runs": [result.figures() for result in results],
        "last_good_sends_per_second": last_good.send_rate if last_good else None,
        "last_good_deliveries_per_second": last_good.deliveries_per_second if last_good else None,
        "last_good_p99_ms": last_good.p99_ms if last_good else None,
    }
    if args.sweep:
        print(
            "last good rate (p99 ≤ 200 ms, nothing lost): "
            + (last_good.line() if last_good else "none")
        )
    if args.chart and draw_chart(results, config, args.chart):
        print(f"chart: {args.chart}")
        figures["chart"] = str(args.chart)
    emit(figures)
    return 0 if results and results[0].ok else 1


if __name__ == "__main__":
    sys.exit(main())
