"""Listening to the channel layer as a socket's consumer would: a channel in
a group, and the live-event frames that reach it (chatproject/bus.py)."""

import asyncio
import json

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from chatproject.bus import EVENT_HANDLER, user_group


def listen(group: str, layer=None) -> str:
    """A fresh channel added to `group`; returns the channel name."""
    layer = layer or get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)
    return channel


def listen_as_user(user_id: int) -> str:
    """A channel in the user's group, as each of their sockets is."""
    return listen(user_group(user_id))


def received(channel: str, layer=None, wait: float = 0.05) -> list[dict]:
    """Every event waiting on the channel (waiting up to `wait` for each)."""
    layer = layer or get_channel_layer()

    async def collect() -> list[dict]:
        events = []
        while True:
            try:
                events.append(await asyncio.wait_for(layer.receive(channel), wait))
            except TimeoutError:
                return events

    return async_to_sync(collect)()


def frames(channel: str, layer=None, wait: float = 0.05) -> list[dict]:
    """The frames of every bus event waiting on the channel, decoded."""
    events = received(channel, layer, wait)
    for event in events:
        assert event["type"] == EVENT_HANDLER
        assert isinstance(event["frame"], str)
    return [json.loads(event["frame"]) for event in events]
