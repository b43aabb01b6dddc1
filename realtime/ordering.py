"""Live message events reach a socket in version order, each once.

Each process publishes after its own commit, so when two processes store
messages k and k+1 of a conversation a moment apart, k+1's event can reach
a socket first (measured with bench/fanout.py: a few reorders per
thousand deliveries at 20 sends/s across two processes, more under load).
Clients would then see a gap and resync. Instead each socket forwards a
conversation's message events in version order (`version` is the
conversation's change counter: every create, edit and delete takes the next
one and publishes one event): an event that arrives ahead of its turn is
held; when the versions before it arrive, everything goes out in order; if
they have not arrived within REORDER_WAIT (published late, or lost with
Redis), they are read from the database and sent, in order. An event at or
below the version already forwarded is dropped: the socket has it, or
predates it (a client syncs after connecting). An event may come without a
frame (None): its turn is counted and nothing is sent (the socket's own
message, acked already; an event too late to be worth sending).
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger("realtime.ordering")

REORDER_WAIT = 0.5  # seconds an early event waits for the ones before it
FILL_ROUNDS = 3  # database reads per gap before giving up and sending what is held
MAX_FILL = 500  # a larger gap (a bulk import) is left to the client's sync


class InOrder:
    def __init__(
        self,
        send: Callable[[str], Awaitable[None]],
        fetch: Callable[[int, int, int], Awaitable[list[dict[str, Any]]]],
        encode: Callable[[dict[str, Any]], str],
        versions: dict[int, int],
    ) -> None:
        """`versions`: per conversation, the version this socket starts from
        (the conversation's last version when it connected); `fetch(cid, v,
        limit)` returns the message frames after version v from the database."""
        self.send = send
        self.fetch = fetch
        self.encode = encode
        self.versions = dict(versions)
        self.held: dict[int, dict[int, str | None]] = {}
        self.fillers: dict[int, asyncio.Task] = {}

    def sent(self, conversation_id: int, version: int) -> bool:
        """Whether the socket has `version` already (or started after it)."""
        last = self.versions.get(conversation_id)
        return last is not None and version <= last

    async def event(self, conversation_id: int, version: int, frame: str | None) -> None:
        if self.sent(conversation_id, version):
            return
        last = self.versions.get(conversation_id)
        if last is None or version == last + 1:
            await self.forward(conversation_id, version, frame)
            await self.release(conversation_id)
            return
        self.held.setdefault(conversation_id, {})[version] = frame
        if conversation_id not in self.fillers:
            self.fillers[conversation_id] = asyncio.create_task(self.fill(conversation_id))

    def start(self, conversation_id: int, version: int = 0) -> None:
        """A conversation joined after connecting: from the version after `version`."""
        self.versions.setdefault(conversation_id, version)

    def seen(self, conversation_id: int, version: int) -> None:
        """The socket was sent everything up to `version` (a sync, a replay)."""
        if version > self.versions.get(conversation_id, 0):
            self.versions[conversation_id] = version
        held = self.held.get(conversation_id, {})
        for stale in [v for v in held if v <= version]:
            del held[stale]

    async def forward(self, conversation_id: int, version: int, frame: str | None) -> None:
        self.versions[conversation_id] = version  # before the await: no other send overtakes
        if frame is not None:
            await self.send(frame)

    async def release(self, conversation_id: int) -> None:
        """Send the held events that are now next in turn."""
        held = self.held.get(conversation_id)
        while held:
            last = self.versions[conversation_id]
            for stale in [v for v in held if v <= last]:
                del held[stale]
            if last + 1 not in held:
                break
            await self.forward(conversation_id, last + 1, held.pop(last + 1))
        if not held:
            self.held.pop(conversation_id, None)
            filler = self.fillers.pop(conversation_id, None)
            if filler is not None and filler is not asyncio.current_task():
                filler.cancel()

    async def fill(self, conversation_id: int) -> None:
        try:
            for _ in range(FILL_ROUNDS):
                await asyncio.sleep(REORDER_WAIT)
                held = self.held.get(conversation_id)
                if not held:
                    return
                last = self.versions[conversation_id]
                if min(held) - last > MAX_FILL:
                    break
                for frame in await self.fetch(conversation_id, last, MAX_FILL):
                    if frame["version"] > self.versions[conversation_id]:
                        await self.forward(conversation_id, frame["version"], self.encode(frame))
                await self.release(conversation_id)
                if not self.held.get(conversation_id):
                    return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.warning("Reading the missed events of %s failed: %s", conversation_id, exc)
        finally:
            if self.fillers.get(conversation_id) is asyncio.current_task():
                del self.fillers[conversation_id]
        # Still missing: send what is held, in order; the client syncs on the gap.
        for version, frame in sorted(self.held.pop(conversation_id, {}).items()):
            if version > self.versions.get(conversation_id, 0):
                with contextlib.suppress(Exception):
                    await self.forward(conversation_id, version, frame)

    def close(self) -> None:
        for filler in self.fillers.values():
            filler.cancel()
        self.fillers.clear()
