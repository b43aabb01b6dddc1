"""One Redis or two as the channel layer's shards, under the chat's fan-out,
across hosts (docs/performance.md "Scale-out"). Builds the namespaced
hosts of tests/support/hosts.py: two Redis servers on host C; on hosts A and B
worker processes, each a RedisChannelLayer as a daphne process has one, with
--members channels (its sockets) in every one of --groups groups
(conversations whose members are on every process). The workers publish
group_send to the groups in turn at --rate in all (at most --concurrency in
flight per worker), for --seconds; every channel counts what it receives.

Per layer (hosts=[one Redis] and hosts=[two Redis]) it prints group_sends/s,
deliveries/s, how many were not received within 3 s of the end (late, or
dropped at capacity), send->receive p50/p99, each Redis's CPU (INFO's
used_cpu_* over the run) and the ceiling that CPU implies: deliveries/s when
the busiest Redis reaches one core. Then one JSON line.

    flock /tmp/bench.lock .venv/bin/python bench/scaleout/shards.py       # ~1 min
    flock /tmp/bench.lock .venv/bin/python bench/scaleout/shards.py \
        --rate 200 --groups 200 --repeat 2                                  # ~2 min

Needs root and iproute2 (network namespaces), redis-server.
"""

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import redis
from channels_redis.core import RedisChannelLayer

from tests.support import hosts

SETUP_SECONDS = 4  # for the workers to start and join their groups
DRAIN_SECONDS = 3  # after the last send, for the last deliveries


# A worker (in host A's or B's namespace) --------------------------------------


async def work(args: argparse.Namespace) -> dict:
    layer = RedisChannelLayer(
        hosts=[{"address": url, "socket_timeout": None} for url in args.hosts.split(",")],
        prefix=args.prefix,
        capacity=1000,
        expiry=60,
    )
    groups = [f"conversation.{index}" for index in range(args.groups)]
    channels = [await layer.new_channel() for _ in range(args.members)]
    for group in groups:
        for channel in channels:
            await layer.group_add(group, channel)
    latencies: list[float] = []
    received = 0
    sent = 0

    async def consume(channel: str) -> None:
        nonlocal received
        while True:
            event = await layer.receive(channel)
            latencies.append(time.time() - event["sent"])
            received += 1

    # This worker's share of --rate, spread over its lanes; a lane that falls
    # behind sends at once (the offered rate is then not reached: see sends/s).
    per_second = args.rate / args.workers

    async def publish(lane: int) -> None:
        nonlocal sent
        index = lane
        while (due := args.start + index / per_second) < args.start + args.seconds:
            await asyncio.sleep(max(0.0, due - time.time()))
            event = {"type": "chat.event", "sent": time.time()}
            await layer.group_send(groups[index % len(groups)], event)
            sent += 1
            index += args.concurrency

    consumers = [asyncio.create_task(consume(channel)) for channel in channels]
    await asyncio.sleep(max(0.0, args.start - time.time()))
    await asyncio.gather(*(publish(lane) for lane in range(args.concurrency)))
    await asyncio.sleep(DRAIN_SECONDS)
    for task in consumers:
        task.cancel()
    await asyncio.gather(*consumers, return_exceptions=True)
    for group in groups:
        for channel in channels:
            await layer.group_discard(group, channel)
    await layer.close_pools()
    # Latencies of the deliveries within the sending window only (the drain is slack).
    return {"sent": sent, "received": received, "latencies": latencies}


# The run (root namespace) -----------------------------------------------------------


def redis_cpu(url: str) -> float:
    client = redis.Redis.from_url(url)
    info = client.info("cpu")
    client.close()
    return info["used_cpu_user"] + info["used_cpu_sys"]


def run_layer(net: hosts.Network, name: str, urls: list[str], args: argparse.Namespace) -> dict:
    start = time.time() + SETUP_SECONDS
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    workers = []
    for role in "ab":
        for index in range(args.workers_per_host):
            log = net.work_dir / f"worker-{name}-{role}{index}.json"
            command = [sys.executable, str(Path(__file__).resolve()), "worker"]
            command += ["--hosts", ",".join(urls), "--prefix", prefix, "--start", str(start)]
            command += ["--seconds", str(args.seconds), "--groups", str(args.groups)]
            command += ["--members", str(args.members), "--concurrency", str(args.concurrency)]
            command += ["--rate", str(args.rate), "--workers", str(2 * args.workers_per_host)]
            workers.append((net.popen(net.hosts[role], command, log, cwd=hosts.ROOT), log))
    time.sleep(max(0.0, start - time.time()))
    cpu_before = [redis_cpu(url) for url in urls]
    time.sleep(args.seconds)
    cpu_after = [redis_cpu(url) for url in urls]
    results = []
    for process, log in workers:
        process.wait(timeout=args.seconds + SETUP_SECONDS + DRAIN_SECONDS + 30)
        output = log.read_text()
        if process.returncode != 0:
            raise RuntimeError(f"a worker failed:\n{output}")
        results.append(json.loads(output.strip().splitlines()[-1]))
    sent = sum(r["sent"] for r in results)
    received = sum(r["received"] for r in results)
    members = args.members * len(workers)
    latencies = sorted(latency for r in results for latency in r["latencies"])
    cpu = [
        (after - before) / args.seconds for before, after in zip(cpu_before, cpu_after, strict=True)
    ]
    return {
        "layer": name,
        "redis": len(urls),
        "group_sends_per_s": round(sent / args.seconds),
        "deliveries_per_s": round(received / args.seconds),
        # Not received DRAIN_SECONDS after the last send: late, or dropped at capacity.
        "undelivered": sent * members - received,
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1),
        "redis_cpu": [round(share, 3) for share in cpu],
        # Deliveries/s when the busiest Redis is at one core, at this mix.
        "ceiling_deliveries_per_s": round(received / args.seconds / max(cpu)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", nargs="?", default="run", choices=["run", "worker"])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers-per-host", type=int, default=2)
    parser.add_argument("--groups", type=int, default=40)
    parser.add_argument("--members", type=int, default=5, help="channels per worker")
    parser.add_argument(
        "--concurrency", type=int, default=8, help="group_sends in flight per worker"
    )
    parser.add_argument("--rate", type=float, default=400, help="group_sends/s offered, in all")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each layer, in turn")
    parser.add_argument("--workers", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--hosts", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    parser.add_argument("--start", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode == "worker":
        print(json.dumps(asyncio.run(work(args))))
        return
    reason = hosts.reason_unavailable()
    if reason:
        sys.exit(f"cannot build the hosts: {reason}")
    with hosts.network() as net:
        urls = [hosts.start_redis(net, port) for port in hosts.REDIS_PORTS]
        # In turn, --repeat times: the machine's other load falls on both alike.
        rows = []
        for _ in range(args.repeat):
            rows.append(run_layer(net, "one Redis", urls[:1], args))
            rows.append(run_layer(net, "two Redis shards", urls, args))
    workers = 2 * args.workers_per_host
    print(
        f"{workers} workers on hosts A and B, {args.members} channels each in each of "
        f"{args.groups} groups (every group_send reaches {workers * args.members} channels), "
        f"{args.rate:.0f} group_sends/s offered ({args.concurrency} in flight per worker at most), "
        f"{args.seconds:.0f} s"
    )
    print(
        f"{'layer':<18} {'sends/s':>8} {'deliv/s':>8} {'undeliv':>8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'Redis CPU':>12} {'ceiling deliv/s':>16}"
    )
    for row in rows:
        cpu = "+".join(f"{share:.0%}" for share in row["redis_cpu"])
        print(
            f"{row['layer']:<18} {row['group_sends_per_s']:>8} {row['deliveries_per_s']:>8} "
            f"{row['undelivered']:>8} {row['p50_ms']:>7} {row['p99_ms']:>7} {cpu:>12} "
            f"{row['ceiling_deliveries_per_s']:>16}"
        )
    internal = {"mode", "hosts", "prefix", "start", "workers"}
    options = {key: value for key, value in vars(args).items() if key not in internal}
    print(json.dumps({"benchmark": "scaleout_shards", "args": options, "rows": rows}))


if __name__ == "__main__":
    main()
