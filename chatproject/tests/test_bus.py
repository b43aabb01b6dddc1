"""The bus bounds every channel-layer call in time, and a hung layer costs
one timeout, not one per publish."""

import asyncio
import time

from channels.layers import get_channel_layer

from chatproject import bus


def recording(layer, monkeypatch, behaviour):
    calls: list[str] = []

    async def group_send(group, event):
        calls.append(group)
        await behaviour()

    monkeypatch.setattr(layer, "group_send", group_send)
    return calls


async def test_a_hung_layer_costs_one_timeout_then_publishes_wait_for_it(settings, monkeypatch):
    settings.CHAT_LAYER_TIMEOUT_SECONDS = 0.05
    layer = get_channel_layer()

    async def hang():
        await asyncio.sleep(30)

    calls = recording(layer, monkeypatch, hang)
    started = time.monotonic()
    await bus.publish_async(["first"], {"type": "x"})
    await bus.publish_async(["second"], {"type": "x"})
    assert time.monotonic() - started < 5
    assert calls == ["first"]  # the second was skipped, not waited for

    async def answer():
        return None

    calls = recording(layer, monkeypatch, answer)
    await bus.group_add("any", await layer.new_channel())  # a call that succeeds
    await bus.publish_async(["third"], {"type": "x"})
    assert calls == ["third"]


async def test_a_refused_layer_pauses_nothing(settings, monkeypatch):
    layer = get_channel_layer()

    async def refuse():
        raise ConnectionError("refused")

    calls = recording(layer, monkeypatch, refuse)
    await bus.publish_async(["first"], {"type": "x"})
    await bus.publish_async(["second"], {"type": "x"})
    assert calls == ["first", "second"]
