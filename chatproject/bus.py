"""The event bus: the only code that calls the channel layer.

It names the groups, encodes a frame once (not once per recipient), defers a
publish to after the commit (`publish_on_commit`), and bounds every layer call
in time (CHAT_LAYER_TIMEOUT_SECONDS) and in concurrency (LAYER_CALLS per
process). It knows no models: callers hand it a frame (a dict) and the groups
to send it to. Publishing never fails the write: when the layer is down, or
hangs, the error is logged and clients catch up with `sync`/`sinceVersion`.
"""

import asyncio
import contextlib
import json
import logging
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from contextvars import Context, ContextVar
from typing import Any
from weakref import WeakKeyDictionary

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction

from chatproject.concurrency import LoopGate

logger = logging.getLogger("chatproject.bus")

EVENT_HANDLER = "chat.event"
# Several events to one group in one channel-layer message (publish_queued).
EVENTS_HANDLER = "chat.events"
# At most this many events go out in one such message.
MAX_EVENTS_PER_MESSAGE = 100

# The socket whose frame is being handled (its channel name), while its
# writes publish: the event names it as its `origin`, and that socket may
# skip what its answer already told the client (realtime.consumers).
sending_socket: ContextVar[str | None] = ContextVar("sending_socket", default=None)

# Channel-layer calls in flight per process. redis-py's pool refuses a
# 101st connection ("Too many connections") rather than wait: thousands of
# sockets closing at once (each leaving its groups) or a burst of publishes
# would fail instead of queueing.
LAYER_CALLS = 50
layer_slot = LoopGate(LAYER_CALLS)

# After a layer call times out (Redis hangs), publishes through that layer
# are skipped until this monotonic time, or until a layer call succeeds:
# each send would otherwise wait out the timeout on the process's sync
# thread, and every send queued behind it too. A refused connection fails at
# once and trips nothing.
unavailable_until: "WeakKeyDictionary[Any, float]" = WeakKeyDictionary()


def user_group(user_id: int) -> str:
    """Every socket of a user joins this group (conversation.new, presence,
    credential changes)."""
    return f"user.{user_id}"


def conversation_group(conversation_id: int) -> str:
    """Every socket of every member joins this group: one group_send per event."""
    return f"conversation.{conversation_id}"


def encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"))


def layer_failure(exc: BaseException) -> bool:
    """The layer's Redis refusing, dropping or hanging, not a bug here
    (TimeoutError is an OSError)."""
    return isinstance(exc, OSError) or type(exc).__module__.startswith("redis")


async def bounded(call, *args) -> Any:
    """One layer call within the process's cap and the time limit."""
    layer = get_channel_layer()
    async with layer_slot():
        try:
            async with asyncio.timeout(settings.CHAT_LAYER_TIMEOUT_SECONDS):
                result = await call(*args)
        except TimeoutError:
            unavailable_until[layer] = time.monotonic() + settings.CHAT_LAYER_CHECK_SECONDS
            raise
    unavailable_until.pop(layer, None)
    return result


async def group_add(group: str, channel_name: str) -> None:
    await bounded(get_channel_layer().group_add, group, channel_name)


async def group_discard(group: str, channel_name: str) -> None:
    await bounded(get_channel_layer().group_discard, group, channel_name)


async def group_add_all(groups: list[str], channel_name: str) -> None:
    """Join each group (in_each_group)."""
    await in_each_group("group_add", groups, channel_name)


async def group_discard_all(groups: list[str], channel_name: str) -> None:
    """Leave each group (in_each_group)."""
    await in_each_group("group_discard", groups, channel_name)


async def in_each_group(call: str, groups: list[str], channel_name: str) -> None:
    """The layer's `call` (group_add or group_discard) of the channel for each
    group: in one round trip per Redis shard on this project's layer (its
    `<call>_all`, realtime.layer.RedisChannelLayer), a call a group on another."""
    layer = get_channel_layer()
    together = getattr(layer, f"{call}_all", None)
    if together is not None:
        await bounded(together, groups, channel_name)
        return
    for group in groups:
        await bounded(getattr(layer, call), group, channel_name)


@contextlib.contextmanager
def published_by(channel_name: str) -> Iterator[None]:
    """Mark what is published meanwhile (in this context) as caused by the
    socket `channel_name`'s frame."""
    token = sending_socket.set(channel_name)
    try:
        yield
    finally:
        sending_socket.reset(token)


def event_for(frame: dict[str, Any], *, origin: str | None = None) -> dict[str, Any]:
    """The channel-layer message carrying `frame`: the frame encoded once, and
    the few fields a consumer routes on without decoding it. `publishedAt`
    (wall clock: the processes may be on other hosts) lets a socket tell
    that its live delivery has fallen behind (realtime.consumers)."""
    return {
        "type": EVENT_HANDLER,
        "frame": encode(frame),
        "frameType": frame["type"],
        "conversationId": frame.get("conversationId") or frame.get("conversation", {}).get("id"),
        "userId": frame.get("userId"),
        # Message events go out to each socket in version order (realtime/ordering.py).
        "version": frame.get("version"),
        "origin": origin,
        "publishedAt": time.time(),
    }


async def publish_async(groups: Iterable[str], frame: dict[str, Any]) -> None:
    await publish_event(list(groups), event_for(frame))


async def publish_event(groups: list[str], event: dict[str, Any]) -> None:
    """Send one channel-layer message (an event, or several: EVENTS_HANDLER)
    to each group, skipping the rest when the layer fails."""
    layer = get_channel_layer()
    if layer is None:
        return
    kind = event.get("frameType") or f"{len(event.get('events', ()))} events"
    if time.monotonic() < unavailable_until.get(layer, 0.0):
        logger.debug("Live publish of %s skipped: the layer failed moments ago", kind)
        return
    for index, group in enumerate(groups):
        try:
            await bounded(layer.group_send, group, event)
        except Exception as exc:
            if not layer_failure(exc):
                logger.exception("Live publish of %s to %s failed", kind, group)
                continue
            # Redis is down or hangs: one line, not a traceback per message,
            # and the remaining groups are not tried (each would cost a wait).
            logger.error(
                "Live publish of %s to %s failed (%s: %s); %d more group(s) skipped; "
                "clients catch up with sync",
                kind,
                group,
                type(exc).__name__,
                exc or "timed out",
                len(groups) - index - 1,
            )
            return


async def publish_together(groups: Iterable[str], frame: dict[str, Any]) -> None:
    """From the serving loop: `frame` to each group through the loop's
    presence publisher (its "presence" lane), after what is queued there
    already; returns once it has gone
    out, or after CHAT_LAYER_TIMEOUT_SECONDS (the publish still goes out).
    Each group's publish joins what is queued for that group meanwhile
    (coalesced): the presence of the members of a conversation who come
    online together (a reconnect storm) reaches its sockets as one
    channel-layer message instead of one each (docs/performance.md
    "Reconnect storm")."""
    event = event_for(frame)
    for group in groups:
        enqueue_publish([group], event, lane="presence")
    published = asyncio.get_running_loop().create_future()
    enqueue_publish([], published, lane="presence")
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(settings.CHAT_LAYER_TIMEOUT_SECONDS):
            await published


def publish_now(groups: Iterable[str], frame: dict[str, Any]) -> None:
    """Publish from sync code, waiting for the group_send."""
    async_to_sync(publish_async)(list(groups), frame)


# Publishes handed from the sync thread to the serving loop, published one
# after the other by one task per loop, in the order they were handed over
# (commit order: the thread runs one write at a time). Waiting for each
# group_send on the process's one sync thread (publish_now) held every
# socket's next database hop for Redis's round trips: the send path's
# ceiling (docs/performance.md "Socket send path"). Handing each to a task
# of its own was tried before: they reached Redis out of order and the
# reorder fills (realtime/ordering.py) collapsed delivery to seconds.
# Past MAX_QUEUED_PUBLISHES (Redis hangs, or far too many sends) a publish
# is dropped and logged: clients catch up with sync.
MAX_QUEUED_PUBLISHES = 10_000
# Per serving loop, by lane: a queue and the publisher task draining it.
# Chat events go in the "events" lane; presence in a lane of its own
# (publish_together), so that a message never waits behind the presence of a
# storm's thousands of sockets.
Publisher = tuple[asyncio.Queue, asyncio.Task]
publishers: "WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Publisher]]" = (
    WeakKeyDictionary()
)


def serving_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop that handed this sync thread its work
    (database_sync_to_async), as async_to_sync finds it; None outside one."""
    if getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None) != os.getpid():
        return None
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    return loop if loop is not None and loop.is_running() else None


def enqueue_publish(
    groups: list[str], event: dict[str, Any] | asyncio.Future, *, lane: str = "events"
) -> None:
    """On the serving loop: queue a publish for the publisher task of `lane`;
    or, with no groups, a future it resolves once everything queued in the
    lane before is out."""
    loop = asyncio.get_running_loop()
    lanes = publishers.setdefault(loop, {})
    if lane not in lanes:
        queue: asyncio.Queue = asyncio.Queue()
        # In a context of its own, not the one of the request or socket whose
        # publish started it: that one ends with it (chatproject.asgi).
        lanes[lane] = (queue, loop.create_task(publish_queued(queue), context=Context()))
    queue = lanes[lane][0]
    if groups and queue.qsize() >= MAX_QUEUED_PUBLISHES:
        logger.error(
            "Live publish of %s dropped: %d publishes queued", event["frameType"], queue.qsize()
        )
        return
    queue.put_nowait((groups, event))


def coalesced(publishes: list[tuple[list[str], dict[str, Any]]]) -> list[tuple[list[str], dict]]:
    """The queued publishes as fewer channel-layer messages: the events for one
    conversation group since the last publish to any other kind of group go
    out together, as one EVENTS_HANDLER message, at the place of the first
    of them. A group's events keep their order; a user group's publish (a
    conversation joined, a credential revoked) stays between what was
    committed before and after it. A send's message and the read mark it
    moved become one group_send instead of two, and a backlog (Redis slower
    than the sends for a moment) drains in fewer round trips."""
    merged: list[tuple[list[str], list[dict[str, Any]]]] = []
    open_runs: dict[str, list[dict[str, Any]]] = {}
    for groups, event in publishes:
        if len(groups) == 1 and groups[0].startswith("conversation."):
            run = open_runs.get(groups[0])
            if run is not None and len(run) < MAX_EVENTS_PER_MESSAGE:
                run.append(event)
                continue
            open_runs[groups[0]] = run = [event]
            merged.append((groups, run))
            continue
        open_runs.clear()
        merged.append((groups, [event]))
    return [
        (groups, run[0] if len(run) == 1 else {"type": EVENTS_HANDLER, "events": run})
        for groups, run in merged
    ]


async def publish_queued(queue: asyncio.Queue) -> None:
    while True:
        queued = [await queue.get()]
        while not queue.empty():
            queued.append(queue.get_nowait())
        publishes = [(groups, event) for groups, event in queued if groups]
        for batch in concurrent_batches(coalesced(publishes)):
            await asyncio.gather(*(publish_in_order(run) for run in batch))
        for groups, waiting in queued:
            if not groups and not waiting.done():
                waiting.set_result(None)


def concurrent_batches(
    publishes: list[tuple[list[str], dict[str, Any]]],
) -> list[list[list[tuple[list[str], dict[str, Any]]]]]:
    """The coalesced publishes as batches whose runs go out side by side:
    each run is one conversation group's publishes, in order, and the
    conversation groups of a batch are distinct. A publish to any other
    group is a batch of its own, after the ones before it and before the
    ones after it (as in coalesced). So a send waits for its own group's
    round trips, not for every other conversation's before it."""
    batches: list[list[list[tuple[list[str], dict[str, Any]]]]] = []
    runs: dict[str, list[tuple[list[str], dict[str, Any]]]] = {}
    for groups, event in publishes:
        if len(groups) == 1 and groups[0].startswith("conversation."):
            if not runs:
                batches.append([])
            if groups[0] not in runs:
                runs[groups[0]] = []
                batches[-1].append(runs[groups[0]])
            runs[groups[0]].append((groups, event))
            continue
        runs = {}
        batches.append([[(groups, event)]])
    return batches


async def publish_in_order(run: list[tuple[list[str], dict[str, Any]]]) -> None:
    for groups, event in run:
        try:
            await publish_event(groups, event)
        except Exception:
            logger.exception("Live publish to %s failed", groups)


def publish_from_sync(groups: list[str], event: dict[str, Any]) -> None:
    """From a sync thread of the serving loop, handed to its publisher task
    without waiting; elsewhere (a command, a test's thread), published now."""
    loop = serving_loop()
    if loop is None:
        async_to_sync(publish_event)(groups, event)
    else:
        loop.call_soon_threadsafe(enqueue_publish, groups, event)


def publish_on_commit(groups: Iterable[str], frame: dict[str, Any]) -> None:
    """Publish once the current transaction commits; nothing if it rolls back.
    The event is made at the commit (its publishedAt) and names the socket
    whose frame caused it, if any (published_by)."""
    groups = list(groups)
    origin = sending_socket.get()
    transaction.on_commit(lambda: publish_from_sync(groups, event_for(frame, origin=origin)))


def publish_to_users_on_commit(user_ids: Iterable[int], frame: dict[str, Any]) -> None:
    publish_on_commit([user_group(user_id) for user_id in user_ids], frame)


async def round_trip() -> str:
    """The readiness probe's: a message to a new channel and back, within
    CHAT_LAYER_TIMEOUT_SECONDS in all (a Redis that hangs fails the check
    instead of hanging the probe). Returns the layer's class name."""
    layer = get_channel_layer()
    timeout = settings.CHAT_LAYER_TIMEOUT_SECONDS
    try:
        async with asyncio.timeout(timeout):
            channel = await layer.new_channel()
            token = uuid.uuid4().hex
            await layer.send(channel, {"type": "health.ping", "token": token})
            message = await layer.receive(channel)
    except TimeoutError:
        raise TimeoutError(f"no answer within {timeout:g} s") from None
    if message.get("token") != token:
        raise RuntimeError("the layer returned a different message")
    return type(layer).__name__
