"""realtime/ordering.py: a socket forwards each conversation's message
events in version order, once, and reads from the database what does not
arrive in time."""

import asyncio
import json

import pytest

from realtime import ordering


def frame(version: int) -> str:
    return json.dumps({"type": "message.new", "version": version})


class Socket:
    def __init__(self, versions: dict[int, int], stored: dict[int, list[int]] | None = None):
        self.sent: list[int] = []
        self.fetches: list[tuple[int, int, int]] = []
        self.stored = stored or {}
        self.in_order = ordering.InOrder(self.send, self.fetch, json.dumps, versions)

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text)["version"])

    async def fetch(self, conversation_id: int, since: int, limit: int) -> list[dict]:
        self.fetches.append((conversation_id, since, limit))
        return [
            {"type": "message.new", "version": v}
            for v in self.stored.get(conversation_id, [])
            if v > since
        ][:limit]


@pytest.fixture(autouse=True)
def short_wait(monkeypatch):
    monkeypatch.setattr(ordering, "REORDER_WAIT", 0.01)


async def test_in_order_events_go_out_at_once():
    socket = Socket({1: 0})
    for version in (1, 2, 3):
        await socket.in_order.event(1, version, frame(version))
    assert socket.sent == [1, 2, 3]
    assert socket.fetches == []


async def test_an_early_event_waits_for_the_one_before_it():
    socket = Socket({1: 4})
    await socket.in_order.event(1, 6, frame(6))
    await socket.in_order.event(1, 7, frame(7))
    assert socket.sent == []
    await socket.in_order.event(1, 5, frame(5))
    assert socket.sent == [5, 6, 7]
    await asyncio.sleep(0.05)
    assert socket.fetches == [], "nothing was missing"
    assert socket.in_order.fillers == {}


async def test_an_event_without_a_frame_takes_its_turn_and_sends_nothing():
    """The socket's own acked message, or a late one: counted, not sent."""
    socket = Socket({1: 4})
    await socket.in_order.event(1, 6, None)  # early, and held without a frame
    await socket.in_order.event(1, 7, frame(7))
    await socket.in_order.event(1, 5, frame(5))
    assert socket.sent == [5, 7]
    await socket.in_order.event(1, 8, None)
    await socket.in_order.event(1, 9, frame(9))
    assert socket.sent == [5, 7, 9]
    await asyncio.sleep(0.05)
    assert socket.fetches == [], "nothing was missing"


async def test_repeated_and_old_events_are_dropped():
    socket = Socket({1: 4})
    for version in (3, 4, 5, 5, 6, 5):
        await socket.in_order.event(1, version, frame(version))
    assert socket.sent == [5, 6]


async def test_conversations_are_independent():
    socket = Socket({1: 0, 2: 10})
    await socket.in_order.event(1, 2, frame(2))
    await socket.in_order.event(2, 11, frame(11))
    assert socket.sent == [11]
    await socket.in_order.event(1, 1, frame(1))
    assert socket.sent == [11, 1, 2]


async def test_what_does_not_arrive_is_read_from_the_database():
    socket = Socket({1: 4}, stored={1: [5, 6, 7, 8]})
    await socket.in_order.event(1, 7, frame(7))
    await socket.in_order.event(1, 8, frame(8))
    await asyncio.sleep(0.1)
    assert socket.fetches == [(1, 4, ordering.MAX_FILL)]
    assert socket.sent == [5, 6, 7, 8]
    # The late event, when it comes, is not sent twice.
    await socket.in_order.event(1, 5, frame(5))
    await socket.in_order.event(1, 9, frame(9))
    assert socket.sent == [5, 6, 7, 8, 9]


async def test_held_events_go_out_in_order_when_the_gap_cannot_be_filled():
    socket = Socket({1: 1}, stored={1: []})
    await socket.in_order.event(1, 9, frame(9))
    await socket.in_order.event(1, 4, frame(4))
    await asyncio.sleep(ordering.REORDER_WAIT * (ordering.FILL_ROUNDS + 5))
    assert len(socket.fetches) == ordering.FILL_ROUNDS
    assert socket.sent == [4, 9]


async def test_a_gap_larger_than_a_page_is_left_to_the_client():
    socket = Socket({1: 1}, stored={1: list(range(2, 2000))})
    await socket.in_order.event(1, 1000, frame(1000))
    await asyncio.sleep(0.1)
    assert socket.fetches == []
    assert socket.sent == [1000]


async def test_a_sync_moves_the_socket_on():
    socket = Socket({1: 1})
    await socket.in_order.event(1, 3, frame(3))
    await socket.in_order.event(1, 6, frame(6))
    socket.in_order.seen(1, 4)  # a sync sent versions up to 4 (3 among them)
    await socket.in_order.event(1, 5, frame(5))
    assert socket.sent == [5, 6]


async def test_close_stops_the_readers():
    socket = Socket({1: 1}, stored={1: [2, 3]})
    await socket.in_order.event(1, 3, frame(3))
    socket.in_order.close()
    await asyncio.sleep(0.05)
    assert socket.fetches == [] and socket.sent == []
