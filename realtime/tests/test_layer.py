"""realtime.layer.RedisChannelLayer: the stock layer's group send in two
round trips, with the same keys, data, capacity and expiry (a process with
either layer reads what the other wrote)."""

import asyncio
import time

import pytest
from channels_redis.core import RedisChannelLayer as StockRedisChannelLayer

from realtime.layer import RedisChannelLayer

pytestmark = pytest.mark.redis


@pytest.fixture
def config(redis_url):
    # A prefix of its own per test: nothing left by another run is read.
    return {"hosts": [redis_url], "prefix": f"layer-test-{time.monotonic_ns()}", "capacity": 3}


async def test_a_group_send_reaches_every_member_once(config):
    layer = RedisChannelLayer(**config)
    first, second = await layer.new_channel(), await layer.new_channel()
    for channel in (first, second):
        await layer.group_add("room", channel)
    await layer.group_send("room", {"type": "chat.event", "n": 1})
    for channel in (first, second):
        assert await asyncio.wait_for(layer.receive(channel), 5) == {"type": "chat.event", "n": 1}
    await layer.flush()


async def test_the_stock_layer_reads_what_it_sends_and_the_other_way(config):
    ours, stock = RedisChannelLayer(**config), StockRedisChannelLayer(**config)
    channel = await stock.new_channel()
    await ours.group_add("room", channel)
    await ours.group_send("room", {"type": "chat.event", "by": "ours"})
    assert (await asyncio.wait_for(stock.receive(channel), 5))["by"] == "ours"
    mine = await ours.new_channel()
    await stock.group_add("room", mine)
    await stock.group_send("room", {"type": "chat.event", "by": "stock"})
    assert (await asyncio.wait_for(ours.receive(mine), 5))["by"] == "stock"
    await ours.flush()


async def test_a_full_channel_takes_no_more_and_the_others_still_get_it(config, caplog):
    layer = RedisChannelLayer(**config)
    full, free = "specific.full!one", await layer.new_channel()
    for channel in (full, free):
        await layer.group_add("room", channel)
    for n in range(4):
        await layer.group_send("room", {"type": "chat.event", "n": n})
        await asyncio.wait_for(layer.receive(free), 5)
    connection = layer.connection(0)
    assert await connection.zcard(layer.prefix + "specific.full!") == config["capacity"]
    assert "1 of 2 channels over capacity in group room" in caplog.text
    await layer.flush()


async def test_expired_messages_are_dropped_before_the_capacity_is_counted(config):
    layer = RedisChannelLayer(**config, expiry=60)
    await layer.group_add("room", "specific.gone!one")
    key = layer.prefix + "specific.gone!"
    connection = layer.connection(0)
    stale = time.time() - 120
    await connection.zadd(key, {b"old-1": stale, b"old-2": stale, b"old-3": stale})
    await layer.group_send("room", {"type": "chat.event"})
    assert await connection.zcard(key) == 1
    await layer.flush()


async def test_expired_members_leave_the_group(config):
    layer = RedisChannelLayer(**config, group_expiry=60)
    channel = await layer.new_channel()
    await layer.group_add("room", channel)
    connection = layer.connection(0)
    await connection.zadd(layer._group_key("room"), {"specific.left!one": time.time() - 120})
    await layer.group_send("room", {"type": "chat.event"})
    assert await connection.zrange(layer._group_key("room"), 0, -1) == [channel.encode()]
    await layer.flush()


async def test_groups_joined_and_left_together_are_as_joined_one_by_one(config, redis_url):
    """group_add_all writes what group_add does (the stock layer's group
    send reaches the channel, the keys expire after group_expiry) across two
    shards, and group_discard_all leaves every group."""
    shards = config | {"hosts": [redis_url, redis_url.rsplit("/", 1)[0] + "/15"]}
    ours, stock = RedisChannelLayer(**shards), StockRedisChannelLayer(**shards)
    groups = [f"room{n}" for n in range(20)]
    assert len({ours.consistent_hash(group) for group in groups}) == 2, "one shard only"
    channel = await ours.new_channel()
    await ours.group_add_all(groups, channel)
    for group in groups:
        key = ours._group_key(group)
        connection = ours.connection(ours.consistent_hash(group))
        assert await connection.zrange(key, 0, -1) == [channel.encode()]
        assert 0 < await connection.ttl(key) <= ours.group_expiry
        await stock.group_send(group, {"type": "chat.event", "group": group})
        assert (await asyncio.wait_for(ours.receive(channel), 5))["group"] == group

    await ours.group_discard_all(groups, channel)
    for group in groups:
        connection = ours.connection(ours.consistent_hash(group))
        assert await connection.zcard(ours._group_key(group)) == 0
    await ours.flush()
