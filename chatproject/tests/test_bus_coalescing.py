"""The publisher task sends what queued up meanwhile in fewer channel-layer
messages: a conversation group's events together, in order, and never across
a publish to a user group."""

import asyncio
import json
from dataclasses import dataclass, field

from channels.layers import get_channel_layer

from chatproject import bus


def event(name: str) -> dict:
    return bus.event_for({"type": "message.new", "conversationId": "1", "name": name})


def names(message: dict) -> list[str]:
    events = message["events"] if message["type"] == bus.EVENTS_HANDLER else [message]
    return [json.loads(e["frame"])["name"] for e in events]


@dataclass
class HeldLayer:
    """The layer's group_send replaced: each message recorded as (group, its
    events' names), and held until `release` is set when `holds(message)`;
    `held` is set once one is."""

    sent: list[tuple[str, list[str]]] = field(default_factory=list)
    held: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)


def holding_group_send(monkeypatch, holds=lambda message: True) -> HeldLayer:
    layer = HeldLayer()

    async def group_send(group, message):
        layer.sent.append((group, names(message)))
        if holds(message):
            layer.held.set()
            await layer.release.wait()

    monkeypatch.setattr(get_channel_layer(), "group_send", group_send)
    return layer


def test_a_conversation_groups_events_go_together_at_the_first_ones_place():
    a1, b1, a2, a3 = event("a1"), event("b1"), event("a2"), event("a3")
    merged = bus.coalesced(
        [
            (["conversation.1"], a1),
            (["conversation.2"], b1),
            (["conversation.1"], a2),
            (["conversation.1"], a3),
        ]
    )
    assert [(groups, names(message)) for groups, message in merged] == [
        (["conversation.1"], ["a1", "a2", "a3"]),
        (["conversation.2"], ["b1"]),
    ]
    assert merged[1][1] is b1  # one event goes as itself, not as a list of one


def test_a_publish_to_any_other_group_is_a_barrier():
    merged = bus.coalesced(
        [
            (["conversation.1"], event("before")),
            (["user.7"], event("joined")),
            (["conversation.1"], event("after")),
            (["conversation.1", "conversation.2"], event("both")),
            (["conversation.1"], event("last")),
        ]
    )
    assert [(groups, names(message)) for groups, message in merged] == [
        (["conversation.1"], ["before"]),
        (["user.7"], ["joined"]),
        (["conversation.1"], ["after"]),
        (["conversation.1", "conversation.2"], ["both"]),
        (["conversation.1"], ["last"]),
    ]


def test_a_run_is_cut_at_the_most_events_one_message_carries():
    publishes = [(["conversation.1"], event(str(n))) for n in range(bus.MAX_EVENTS_PER_MESSAGE + 1)]
    merged = bus.coalesced(publishes)
    assert [len(names(message)) for _, message in merged] == [bus.MAX_EVENTS_PER_MESSAGE, 1]
    assert names(merged[1][1]) == [str(bus.MAX_EVENTS_PER_MESSAGE)]


async def test_what_queues_while_a_publish_is_out_goes_in_one_message_per_group(monkeypatch):
    layer = holding_group_send(monkeypatch)
    bus.enqueue_publish(["conversation.1"], event("first"))
    await asyncio.wait_for(layer.held.wait(), 5)
    for name in ("second", "third", "fourth"):  # queued while "first" is out
        bus.enqueue_publish(["conversation.1"], event(name))
    layer.release.set()
    for _ in range(100):
        if len(layer.sent) == 2:
            break
        await asyncio.sleep(0.01)
    assert layer.sent == [
        ("conversation.1", ["first"]),
        ("conversation.1", ["second", "third", "fourth"]),
    ]


def test_publishes_to_distinct_conversations_go_out_side_by_side_and_barriers_alone():
    publishes = [
        (["conversation.1"], event("a1")),
        (["conversation.2"], event("b1")),
        (["user.7"], event("u")),
        (["conversation.1"], event("a2")),
        (["conversation.1"], event("a3")),
    ]
    batches = bus.concurrent_batches(publishes)
    assert [[[names(e)[0] for _, e in run] for run in batch] for batch in batches] == [
        [["a1"], ["b1"]],
        [["u"]],
        [["a2", "a3"]],
    ]


async def test_presences_published_together_go_in_one_message_and_each_waits_for_it(monkeypatch):
    """Two users' presence, published while another publish is out: one
    message to each of their conversations, and neither publish_together
    returns before its message has gone out."""
    layer = holding_group_send(monkeypatch)
    bus.enqueue_publish(["conversation.1"], event("first"))
    await asyncio.wait_for(layer.held.wait(), 5)
    presences = [
        asyncio.create_task(
            bus.publish_together(
                ["conversation.1", "conversation.2"], {"type": "presence", "name": name}
            )
        )
        for name in ("alice", "bob")
    ]
    await asyncio.sleep(0.1)
    assert not any(presence.done() for presence in presences)
    layer.release.set()
    await asyncio.wait_for(asyncio.gather(*presences), 5)
    assert layer.sent[0] == ("conversation.1", ["first"])
    assert sorted(layer.sent[1:]) == [
        ("conversation.1", ["alice", "bob"]),
        ("conversation.2", ["alice", "bob"]),
    ]


async def test_a_chat_event_does_not_wait_behind_presence(monkeypatch):
    layer = holding_group_send(monkeypatch, lambda message: message["frameType"] == "presence")
    presence = asyncio.create_task(
        bus.publish_together(["conversation.1"], {"type": "presence", "name": "alice"})
    )
    await asyncio.wait_for(layer.held.wait(), 5)
    bus.enqueue_publish(["conversation.1"], event("message"))
    for _ in range(100):
        if len(layer.sent) == 2:
            break
        await asyncio.sleep(0.01)
    assert layer.sent == [("conversation.1", ["alice"]), ("conversation.1", ["message"])]
    layer.release.set()
    await asyncio.wait_for(presence, 5)
