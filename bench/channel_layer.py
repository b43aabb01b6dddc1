"""Compare channels-redis layers for the chat's traffic: group_send to a group
of K sockets' channels, each receiving every event. Prints p50/p99 latency,
events/s and losses per layer, then one JSON line.

    .venv/bin/python bench/channel_layer.py --messages 2000 --members 10

Needs Redis (REDIS_URL or redis://127.0.0.1:6379/0). Bounded: it sends
--messages events per layer and gives up waiting after --timeout seconds.
"""

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid

from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer

LAYERS = {
    "RedisChannelLayer": RedisChannelLayer,
    "RedisPubSubChannelLayer": RedisPubSubChannelLayer,
}


async def run_layer(
    name: str, redis_url: str, messages: int, members: int, rate: float, timeout: float
):
    layer = LAYERS[name](
        hosts=[{"address": redis_url, "socket_timeout": None}],
        prefix=f"bench-{uuid.uuid4().hex[:8]}",
        capacity=max(1000, messages),
    )
    group = "conversation.bench"
    channels = [await layer.new_channel() for _ in range(members)]
    for channel in channels:
        await layer.group_add(group, channel)
    latencies: list[float] = []
    received = [0] * members

    async def consume(index: int, channel: str) -> None:
        while received[index] < messages:
            event = await layer.receive(channel)
            latencies.append(time.perf_counter() - event["sent"])
            received[index] += 1

    consumers = [asyncio.create_task(consume(i, c)) for i, c in enumerate(channels)]
    started = time.perf_counter()
    interval = 1 / rate
    for number in range(messages):
        await layer.group_send(
            group, {"type": "chat.event", "sent": time.perf_counter(), "n": number}
        )
        next_at = started + (number + 1) * interval
        await asyncio.sleep(max(0, next_at - time.perf_counter()))
    try:
        await asyncio.wait_for(asyncio.gather(*consumers), timeout)
    except TimeoutError:
        for task in consumers:
            task.cancel()
    elapsed = time.perf_counter() - started
    for channel in channels:
        await layer.group_discard(group, channel)
    if hasattr(layer, "flush"):
        await layer.flush()
    delivered = sum(received)
    ordered = sorted(latencies)
    return {
        "layer": name,
        "sent": messages,
        "members": members,
        "expected": messages * members,
        "delivered": delivered,
        "lost": messages * members - delivered,
        "deliveries_per_s": round(delivered / elapsed, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 2) if ordered else None,
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2) if ordered else None,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--rate", type=float, default=500, help="group_sends per second")
    parser.add_argument("--timeout", type=float, default=30)
    args = parser.parse_args()
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    results = []
    for name in LAYERS:
        result = await run_layer(
            name, redis_url, args.messages, args.members, args.rate, args.timeout
        )
        results.append(result)
        print(
            f"{name:<26} delivered {result['delivered']}/{result['expected']} "
            f"({result['deliveries_per_s']}/s)  "
            f"p50 {result['p50_ms']} ms  p99 {result['p99_ms']} ms"
        )
    print(json.dumps({"benchmark": "channel_layer", "results": results}))


if __name__ == "__main__":
    asyncio.run(main())
