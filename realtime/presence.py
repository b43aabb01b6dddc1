"""Presence and typing frames: who is online (any socket open, on any
process) and who is typing, published by the socket side through the bus."""

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from chatproject import bus
from conversations.models import Membership
from messaging.typing_state import record_typing
from users.services import (
    PRESENCE_HEARTBEAT,
    keep_sockets_alive,
    live_sockets,
    sockets_closed,
    sockets_opened,
)

logger = logging.getLogger("realtime.presence")


def presence_frame(user_id: int, *, online: bool, last_seen_at) -> dict[str, Any]:
    return {
        "type": "presence",
        "userId": str(user_id),
        "online": online,
        "lastSeenAt": last_seen_at.isoformat().replace("+00:00", "Z") if last_seen_at else None,
    }


async def publish_presence(
    user_id: int, conversation_ids: Iterable[int], *, online: bool, last_seen_at
) -> None:
    """A user came online or went offline: told to every conversation they
    are in, with the presence of others who came online or went offline
    meanwhile (bus.publish_together)."""
    frame = presence_frame(user_id, online=online, last_seen_at=last_seen_at)
    await bus.publish_together([bus.conversation_group(cid) for cid in conversation_ids], frame)


# Sockets whose database work at connect (or at close) is done in one hop:
# the ones that queued while the hop before ran (a burst of reconnects is a
# few hops of a few statements each, instead of a dozen statements per
# socket on the process's one sync thread). Bounded, for the statements' sizes.
SOCKET_BATCH = 200


class Batched:
    """Calls `function` (sync: a list of items in, a list of results out, in
    order) on the process's sync thread for the items awaited meanwhile by
    any number of coroutines: one hop per batch, no wait added (a batch is
    whatever queued while the one before ran). A failing batch raises in
    each of its callers."""

    def __init__(self, function: Callable[[list], list], limit: int = SOCKET_BATCH) -> None:
        self.hop = database_sync_to_async(function)
        self.limit = limit
        self.queue: list[tuple[Any, asyncio.Future]] = []
        self.task: asyncio.Task | None = None

    async def __call__(self, item: Any) -> Any:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.queue.append((item, future))
        if self.task is None or self.task.done() or self.task.get_loop() is not loop:
            # Items left by a loop that has ended (tests run a loop each) are
            # no one's: their futures cannot be resolved.
            self.queue = [entry for entry in self.queue if entry[1].get_loop() is loop]
            self.task = loop.create_task(self.run())
        return await future

    async def run(self) -> None:
        while self.queue:
            batch, self.queue = self.queue[: self.limit], self.queue[self.limit :]
            try:
                results = await self.hop([item for item, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)


@dataclass
class OpenedSocket:
    versions: dict[int, int]  # the user's conversations and their last versions
    became_online: bool
    presence: list[dict]  # presence frames of the conversations' online members
    refused: bool = False  # over the user's cap on open sockets


def open_sockets(sockets: list[tuple[Any, str]]) -> list[OpenedSocket]:
    """What new sockets, (user, channel name) each, need from the database:
    recorded as open (users.services.sockets_opened), their users'
    conversations with their versions, and the online members of those."""
    outcomes = sockets_opened(
        sockets=[(user.pk, channel_name) for user, channel_name in sockets],
        max_per_user=settings.CHAT_WS_MAX_SOCKETS,
    )
    user_ids = {user.pk for user, _ in sockets}
    versions: dict[int, dict[int, int]] = defaultdict(dict)
    for user_id, conversation_id, version in Membership.objects.filter(
        user_id__in=user_ids
    ).values_list("user_id", "conversation_id", "conversation__last_version"):
        versions[user_id][conversation_id] = version
    online: dict[int, set[int]] = defaultdict(set)
    for conversation_id, user_id in Membership.objects.filter(
        conversation_id__in=Membership.objects.filter(user_id__in=user_ids).values(
            "conversation_id"
        ),
        user_id__in=live_sockets().values("user_id"),
    ).values_list("conversation_id", "user_id"):
        online[conversation_id].add(user_id)
    opened = []
    for (user, _), outcome in zip(sockets, outcomes, strict=True):
        if outcome is None:
            opened.append(OpenedSocket({}, False, [], refused=True))
            continue
        mine = versions[user.pk]
        online_ids = sorted(set().union(*(online[cid] for cid in mine)))
        frames = [presence_frame(uid, online=True, last_seen_at=None) for uid in online_ids]
        opened.append(OpenedSocket(mine, outcome, frames))
    return opened


def close_sockets(sockets: list[tuple[Any, str]]) -> list:
    """Forget closed sockets, (user, channel name) each: users.services.sockets_closed."""
    return sockets_closed(sockets=[(user.pk, channel_name) for user, channel_name in sockets])


socket_opening = Batched(open_sockets)
socket_closing = Batched(close_sockets)


async def open_socket_state(user, channel_name: str) -> OpenedSocket:
    """Everything a new socket needs from the database (batched: open_sockets)."""
    return await socket_opening((user, channel_name))


async def close_socket_state(user, channel_name: str):
    """Forget the socket; its user's `last_seen_at` when it was their last one."""
    return await socket_closing((user, channel_name))


async def publish_typing(conversation_id: int, user_id: int, *, active: bool) -> None:
    """Typing goes straight to the conversation's sockets, and is kept for a
    few seconds in the cache (messaging/typing_state.py, never the database)
    for readers such as seed 002's visitorTyping/userTyping."""
    await record_typing(conversation_id, user_id, active=active)
    frame = {
        "type": "typing",
        "conversationId": str(conversation_id),
        "userId": str(user_id),
        "active": active,
    }
    await bus.publish_async([bus.conversation_group(conversation_id)], frame)


class Heartbeat:
    """The process's presence heartbeat: every PRESENCE_HEARTBEAT it marks
    the sockets this process has open alive, and announces as offline the
    users whose only sockets were on a process that died without closing
    them (users.services.keep_sockets_alive). One per process (`heartbeat`);
    its task runs on the serving loop from the first socket on."""

    def __init__(self) -> None:
        self.open_channels: set[str] = set()
        self.task: asyncio.Task | None = None

    def opened(self, channel_name: str) -> None:
        self.open_channels.add(channel_name)
        loop = asyncio.get_running_loop()
        if self.task is None or self.task.done() or self.task.get_loop() is not loop:
            self.task = loop.create_task(self.run())

    def closed(self, channel_name: str | None) -> None:
        self.open_channels.discard(channel_name)

    async def beat(self) -> None:
        for user_id, last_seen_at, conversation_ids in await self.keep_alive():
            await publish_presence(
                user_id, conversation_ids, online=False, last_seen_at=last_seen_at
            )

    @database_sync_to_async
    def keep_alive(self) -> list[tuple[int, Any, list[int]]]:
        went_offline = keep_sockets_alive(set(self.open_channels))
        conversation_ids: dict[int, list[int]] = defaultdict(list)
        for user_id, conversation_id in Membership.objects.filter(
            user_id__in=[user_id for user_id, _ in went_offline]
        ).values_list("user_id", "conversation_id"):
            conversation_ids[user_id].append(conversation_id)
        return [
            (user_id, last_seen_at, conversation_ids[user_id])
            for user_id, last_seen_at in went_offline
        ]

    async def run(self) -> None:
        while True:
            await asyncio.sleep(PRESENCE_HEARTBEAT.total_seconds())
            try:
                await self.beat()
            except Exception:
                logger.exception("Presence heartbeat failed")


heartbeat = Heartbeat()
