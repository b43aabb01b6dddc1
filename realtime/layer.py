"""channels-redis's RedisChannelLayer with a group send in two round trips to
Redis instead of four, and a socket's groups joined or left in one.

channels-redis 4.3 sends to a group with four commands, one after another:
ZREMRANGEBYSCORE to drop the group's expired members, ZRANGE to read them,
a pipeline of ZREMRANGEBYSCORE to drop each channel's expired messages, and
an EVAL that pushes the message to each channel under its capacity. Here the
first two go as one pipeline, and each channel's expiry runs inside the
push's script (EVALSHA: the script's text is sent once per connection).
Same keys, same data, same capacity and expiry rules: a process with this
class and one with the stock layer share a Redis (mixed versions during a
deploy). The live publish was the largest part of a send's time on the
event loop (docs/performance.md "Socket send path").

group_add_all and group_discard_all join or leave several groups in one
pipeline per Redis shard, with the commands group_add and group_discard send
one round trip each (two for a join): a socket joins its user's group and
every conversation's when it opens (docs/performance.md "Reconnect storm").
"""

import logging
import time
from collections import defaultdict
from collections.abc import Iterable

from channels_redis.core import RedisChannelLayer as StockRedisChannelLayer
from redis.commands.core import AsyncScript

logger = logging.getLogger("realtime.layer")

# KEYS: the channels' keys. ARGV: a message per key, a capacity per key,
# then the time now and the message expiry in seconds.
PUSH_TO_CHANNELS = """
local now = tonumber(ARGV[#ARGV - 1])
local expiry = tonumber(ARGV[#ARGV])
local over_capacity = 0
for i = 1, #KEYS do
    redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, math.floor(now) - expiry)
    if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[i + #KEYS]) then
        redis.call('ZADD', KEYS[i], ARGV[#ARGV - 1], ARGV[i])
        redis.call('EXPIRE', KEYS[i], expiry)
    else
        over_capacity = over_capacity + 1
    end
end
return over_capacity
"""
# Run by its digest, loaded into a Redis the first time it is missing there.
PUSH_SCRIPT = AsyncScript(None, PUSH_TO_CHANNELS.encode())


class RedisChannelLayer(StockRedisChannelLayer):
    async def group_send(self, group, message):
        assert self.require_valid_group_name(group), "Group name not valid"
        key = self._group_key(group)
        connection = self.connection(self.consistent_hash(group))
        async with connection.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(key, min=0, max=int(time.time()) - self.group_expiry)
            pipe.zrange(key, 0, -1)
            _, members = await pipe.execute()
        channel_names = [member.decode("utf8") for member in members]
        by_connection, messages, capacities = self._map_channel_keys_to_connection(
            channel_names, message
        )
        for index, channel_keys in by_connection.items():
            over_capacity = await PUSH_SCRIPT(
                client=self.connection(index),
                keys=channel_keys,
                args=[
                    *(messages[channel_key] for channel_key in channel_keys),
                    *(capacities[channel_key] for channel_key in channel_keys),
                    time.time(),
                    int(self.expiry),
                ],
            )
            if over_capacity > 0:
                logger.info(
                    "%s of %s channels over capacity in group %s",
                    over_capacity,
                    len(channel_names),
                    group,
                )

    async def group_add_all(self, groups: Iterable[str], channel: str) -> None:
        """group_add of `channel` to each of `groups`."""
        assert self.require_valid_channel_name(channel), "Channel name not valid"
        joined_at = time.time()
        for index, keys in self.group_keys_by_shard(groups).items():
            async with self.connection(index).pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.zadd(key, {channel: joined_at})
                    pipe.expire(key, self.group_expiry)
                await pipe.execute()

    async def group_discard_all(self, groups: Iterable[str], channel: str) -> None:
        """group_discard of `channel` from each of `groups`."""
        assert self.require_valid_channel_name(channel), "Channel name not valid"
        for index, keys in self.group_keys_by_shard(groups).items():
            async with self.connection(index).pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.zrem(key, channel)
                await pipe.execute()

    def group_keys_by_shard(self, groups: Iterable[str]) -> dict[int, list[str]]:
        """The groups' keys by the index of the Redis shard that holds them."""
        by_shard: dict[int, list[str]] = defaultdict(list)
        for group in groups:
            assert self.require_valid_group_name(group), "Group name not valid"
            by_shard[self.consistent_hash(group)].append(self._group_key(group))
        return by_shard
