"""Presence and typing frames: who is online (any socket open, on any
process) and who is typing, published by the socket side through the bus."""

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from channels.db import database_sync_to_async

from chatproject import bus
from conversations.models import Membership
from conversations.selectors import conversation_ids_of
from messaging.typing_state import record_typing
from users.services import PRESENCE_HEARTBEAT, keep_sockets_alive, live_sockets

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
    """A user came online or went offline: told to every conversation they are in."""
    frame = presence_frame(user_id, online=online, last_seen_at=last_seen_at)
    await bus.publish_async([bus.conversation_group(cid) for cid in conversation_ids], frame)


def online_presence_frames(conversation_ids: list[int]) -> list[dict[str, Any]]:
    """`presence` frames for the online members of these conversations, sent
    to a socket when it connects."""
    member_ids = Membership.objects.filter(conversation_id__in=conversation_ids).values("user_id")
    online = live_sockets().filter(user_id__in=member_ids).values_list("user_id", flat=True)
    return [
        presence_frame(user_id, online=True, last_seen_at=None) for user_id in sorted(set(online))
    ]


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
        return [
            (user_id, last_seen_at, list(conversation_ids_of(user_id)))
            for user_id, last_seen_at in keep_sockets_alive(set(self.open_channels))
        ]

    async def run(self) -> None:
        while True:
            await asyncio.sleep(PRESENCE_HEARTBEAT.total_seconds())
            try:
                await self.beat()
            except Exception:
                logger.exception("Presence heartbeat failed")


heartbeat = Heartbeat()
