"""realtime/layer_guard.py against a channel layer whose Redis cannot be
reached: the sockets of the process are closed with 4503 once the marker has
been unreadable for CHAT_LAYER_UNREACHABLE_SECONDS, and not for a shorter
outage. (A real partition between hosts: tests/integration/test_scale_out.py.)"""

import asyncio

import pytest

from realtime import layer_guard

CHECK = 0.02
UNREACHABLE = 0.2


class Connection:
    """A Redis connection that fails while `down` is set."""

    def __init__(self) -> None:
        self.down = asyncio.Event()
        self.values: dict[str, str] = {}

    async def set(self, key: str, value: str, nx: bool) -> None:
        if self.down.is_set():
            raise ConnectionError("unreachable")
        self.values.setdefault(key, value)

    async def get(self, key: str) -> str:
        if self.down.is_set():
            raise ConnectionError("unreachable")
        return self.values[key]


class Layer:
    prefix = "guard-test"
    ring_size = 1

    def __init__(self) -> None:
        self.shard = Connection()

    def connection(self, index: int) -> Connection:
        return self.shard


class Consumer:
    def __init__(self, layer: Layer) -> None:
        self.channel_layer = layer
        self.closed_with: int | None = None

    async def close(self, code: int) -> None:
        self.closed_with = code


@pytest.fixture
async def guarded(settings):
    settings.CHAT_LAYER_CHECK_SECONDS = CHECK
    settings.CHAT_LAYER_UNREACHABLE_SECONDS = UNREACHABLE
    layer = Layer()
    consumers = [Consumer(layer) for _ in range(3)]
    for consumer in consumers:
        layer_guard.watch(consumer)
    yield layer, consumers
    layer_guard.watcher.cancel()
    await asyncio.gather(layer_guard.watcher, return_exceptions=True)
    for consumer in consumers:
        layer_guard.forget(consumer)


async def test_sockets_are_closed_once_redis_is_unreachable_long_enough(guarded):
    layer, consumers = guarded
    await asyncio.sleep(CHECK * 3)  # the markers are known
    layer.shard.down.set()
    await asyncio.sleep(UNREACHABLE / 2)
    assert [c.closed_with for c in consumers] == [None] * 3, "closed before the limit"
    await asyncio.sleep(UNREACHABLE + CHECK * 10)
    assert [c.closed_with for c in consumers] == [layer_guard.CLOSE_UNAVAILABLE] * 3
    assert not any(c in layer_guard.sockets for c in consumers)


async def test_an_outage_shorter_than_the_limit_closes_nothing(guarded):
    layer, consumers = guarded
    await asyncio.sleep(CHECK * 3)
    layer.shard.down.set()
    await asyncio.sleep(UNREACHABLE / 2)
    layer.shard.down.clear()  # back, with its data: the same marker
    await asyncio.sleep(UNREACHABLE + CHECK * 10)
    assert [c.closed_with for c in consumers] == [None] * 3
    assert all(c in layer_guard.sockets for c in consumers)
