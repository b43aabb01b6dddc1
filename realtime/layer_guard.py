"""Closes the sockets of this process when the channel layer's Redis has lost
their group memberships, so that clients reconnect and sync instead of
staying open and deaf.

channels-redis keeps every group in Redis. A Redis that comes back empty (a
restart without persistence, a FLUSHALL, a failover to an empty replica) has
forgotten which sockets are in which conversation: they stay open, but no
event reaches them until they join again (every group_expiry / 2, an hour by
default). A socket notices nothing by itself: its receive fails only if
Redis is down at the moment it reads, and a quick restart goes by unseen.

So each process keeps a marker key in each Redis of the layer and reads it
every CHAT_LAYER_CHECK_SECONDS. When the marker is gone (Redis lost its data)
every socket that joined its groups before the loss is closed with 4503:
clients reconnect, which joins the groups again, and sync what they missed
(docs/operations.md "Faults"). Sockets that connected after an outage this process saw
joined the new Redis and are left alone.

A process that cannot reach Redis at all (a network partition: no reset, every
read hangs) has deaf sockets too, though Redis lost nothing: once the marker
has been unreadable for CHAT_LAYER_UNREACHABLE_SECONDS its sockets are closed
with 4503, and their clients reconnect, through the load balancer, to a
process that can reach it (tests/integration/test_scale_out.py).
"""

import asyncio
import logging
import uuid
import weakref
from typing import Any

from django.conf import settings

logger = logging.getLogger("realtime.layer_guard")

# 4000 + 503, as the consumer closes a socket whose Redis or database failed:
# "reconnect (with backoff) and sync". daphne cannot send 1012/1013.
CLOSE_UNAVAILABLE = 4503
MARKER = "chat-layer-marker"

# The open sockets of this process: consumer -> loop time when it joined its groups.
sockets: "weakref.WeakKeyDictionary[Any, float]" = weakref.WeakKeyDictionary()
watcher: asyncio.Task | None = None


def supported(layer) -> bool:
    """RedisChannelLayer (channels_redis.core): groups live in Redis."""
    return all(hasattr(layer, name) for name in ("connection", "ring_size", "prefix"))


def watch(consumer) -> None:
    """Call once the consumer has joined its groups."""
    global watcher
    layer = consumer.channel_layer
    if not supported(layer):
        return
    loop = asyncio.get_running_loop()
    sockets[consumer] = loop.time()
    if watcher is None or watcher.done() or watcher.get_loop() is not loop:
        watcher = loop.create_task(watch_layer(layer))


def forget(consumer) -> None:
    sockets.pop(consumer, None)


async def read_markers(layer) -> list[bytes | None]:
    """Each Redis's marker, set to a new random value where there is none:
    it changes exactly when a Redis loses its data."""
    key = f"{layer.prefix}:{MARKER}"
    markers = []
    for index in range(layer.ring_size):
        connection = layer.connection(index)
        # A hung Redis (stopped, not down) counts as unreachable, not as a wait.
        async with asyncio.timeout(settings.CHAT_LAYER_TIMEOUT_SECONDS):
            await connection.set(key, uuid.uuid4().hex, nx=True)
            markers.append(await connection.get(key))
    return markers


async def close_sockets(consumers: list, reason: str) -> None:
    logger.warning(
        "%s: closing %d socket(s) with %d so that they reconnect and sync",
        reason,
        len(consumers),
        CLOSE_UNAVAILABLE,
    )
    for consumer in consumers:
        forget(consumer)
        try:
            await consumer.close(code=CLOSE_UNAVAILABLE)
        except Exception:
            logger.exception("Closing a socket the channel layer cannot reach failed")


async def watch_layer(layer) -> None:
    loop = asyncio.get_running_loop()
    known: list[bytes | None] | None = None
    failed_at: float | None = None  # the last failed read since the markers were known
    unreachable_since = 0.0  # the first failed read of the current outage
    while True:
        # At once when the first socket has joined its groups, then every interval.
        checked_at = loop.time()
        try:
            markers = await read_markers(layer)
        except Exception as exc:
            if failed_at is None:
                logger.warning("The channel layer is unreachable: %s: %s", type(exc).__name__, exc)
                unreachable_since = checked_at
            failed_at = checked_at
            down_for = checked_at - unreachable_since
            if sockets and down_for >= settings.CHAT_LAYER_UNREACHABLE_SECONDS:
                reason = f"The channel layer has been unreachable for {down_for:.0f} s"
                await close_sockets(list(sockets), reason)
            await asyncio.sleep(settings.CHAT_LAYER_CHECK_SECONDS)
            continue
        if known is not None and markers != known:
            # Sockets that joined after an outage we saw joined the new Redis.
            cutoff = failed_at if failed_at is not None else checked_at
            stale = [consumer for consumer, joined in list(sockets.items()) if joined < cutoff]
            await close_sockets(
                stale, "The channel layer lost its groups (Redis restarted or was emptied)"
            )
        elif failed_at is not None:
            logger.warning("The channel layer is reachable again")
        known, failed_at = markers, None
        await asyncio.sleep(settings.CHAT_LAYER_CHECK_SECONDS)
