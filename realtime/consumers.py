"""The chat socket at /ws/chat/: one socket carries the live events of all
of the caller's conversations. The protocol is in docs/websocket.md.

The consumer is the protocol: it parses and dispatches frames, answers
with error frames, joins and leaves groups through the bus, and forwards
the frames the apps publish (it never builds a message event itself). Its
database work is in realtime.hops, presence in realtime.presence, delivery
order in realtime.ordering.
"""

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable
from typing import Any

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError

from chatproject import bus, throttling
from chatproject.concurrency import LoopGate
from chatproject.errors import Conflict, Description, NotFound, PermissionDenied, describe
from messaging import events
from realtime import layer_guard, ordering
from realtime.frames import CLIENT_FRAMES, validated_frame
from realtime.hops import (
    CredentialGone,
    changes_page,
    database_check_credential,
    missed_frames,
    react_from_socket,
    read_from_socket,
    send_from_socket,
    send_queue,
)
from realtime.presence import (
    close_socket_state,
    heartbeat,
    open_socket_state,
    publish_presence,
    publish_typing,
)
from realtime.typing import TypingLimiter
from users.credentials import CLOSE_CREDENTIAL_REVOKED, REVOKED, credential_for_scope

logger = logging.getLogger("realtime.consumers")

# No credential, or the one the socket was opened with was revoked, logged
# out, changed or deactivated (users.credentials): sign in again.
CLOSE_UNAUTHENTICATED = CLOSE_CREDENTIAL_REVOKED
# The user has CHAT_WS_MAX_SOCKETS_PER_USER sockets open already.
CLOSE_TOO_MANY_SOCKETS = 4409
# Close codes are 4000 + the HTTP status: daphne (autobahn) refuses to send
# any code but 1000 and 3000-4999 (1009 raised, and the socket stayed open).
CLOSE_FRAME_TOO_LARGE = 4413
# The channel layer (Redis) or the database failed under the socket: the
# client reconnects (with backoff) and syncs (docs/operations.md "Faults").
CLOSE_UNAVAILABLE = layer_guard.CLOSE_UNAVAILABLE
# Sent as many frames again over the rate after being told to wait
# (docs/limits.md): 4000 + the HTTP status, as 4401.
CLOSE_TOO_MANY_FRAMES = 4429


def parsed_frame(raw: str | bytes) -> Any:
    """The decoded frame, or None when it is not JSON (or nested too deep to
    decode: RecursionError, which must not end the socket)."""
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def infrastructure_failure(exc: BaseException) -> bool:
    """The database or the channel layer's Redis failing, not a bug here."""
    module = type(exc).__module__
    return isinstance(exc, (DatabaseError, OSError)) or module.startswith("redis")


def client_gone(exc: BaseException) -> bool:
    """daphne refusing a frame for a socket its client has just closed (its
    `websocket.disconnect` still on the way): the end of the socket, not a
    bug. (uvicorn raises an OSError there: an infrastructure failure.)"""
    kind = type(exc)
    return kind.__module__.startswith("autobahn") and kind.__name__ == "Disconnected"


# Sync pages read from the database at once per process: a client asking
# for a long history takes turns with everyone else's requests on the
# process's one sync thread instead of queueing page after page ahead of them.
sync_reads = LoopGate(1)


class SyncInProgress(Conflict):
    code = "sync_in_progress"
    default_message = "A sync is in flight on this socket: send the next after its sync.done."


async def read_into(receive, inbox: asyncio.Queue) -> None:
    """Move the server's messages into `inbox` as they arrive, stamped with
    the monotonic time (`receivedAt`); the consumer reads the inbox."""
    while True:
        message = await receive()
        message["receivedAt"] = time.monotonic()
        inbox.put_nowait(message)
        if message["type"] == "websocket.disconnect":
            return


def late(event: dict[str, Any]) -> bool:
    """Whether a live event reached this socket more than
    CHAT_LIVE_MAX_DELAY_SECONDS after it was published."""
    published_at = event.get("publishedAt")
    return (
        published_at is not None
        and time.time() - published_at > settings.CHAT_LIVE_MAX_DELAY_SECONDS
    )


class ChatConsumer(AsyncWebsocketConsumer):
    group_refresher: asyncio.Task | None = None
    sync_task: asyncio.Task | None = None
    frame_received_at: float | None = None
    accepted = False
    forgotten = False
    credential_gone = False

    async def __call__(self, scope, receive, send) -> None:
        # The server's messages are read as they come, each stamped with when
        # (`receivedAt`), into the consumer's own inbox, which it handles one
        # by one as before: a frame that waited there behind this socket's
        # earlier sends is known to have waited (ChatConsumer.handle).
        inbox: asyncio.Queue = asyncio.Queue()
        reader = asyncio.create_task(read_into(receive, inbox))
        try:
            await super().__call__(scope, inbox.get, send)
        except Exception as exc:
            # Without this, a Redis that goes away (the layer's receive
            # raises) or a database error in connect crashes the consumer:
            # daphne logs a traceback and closes with 1011, and the socket
            # stays counted online until PRESENCE_TIMEOUT.
            await self.end_after_failure(exc)
        finally:
            reader.cancel()
            heartbeat.closed(getattr(self, "channel_name", None))
            layer_guard.forget(self)
            if hasattr(self, "in_order"):
                self.in_order.close()
            # However the consumer ends, its channel must not stay in groups.
            if self.group_refresher is not None:
                self.group_refresher.cancel()
            if self.sync_task is not None:
                self.sync_task.cancel()

    async def end_after_failure(self, exc: Exception) -> None:
        await self.forget_socket()
        if client_gone(exc):
            logger.info("Socket %s closed by its client", getattr(self, "channel_name", "?"))
            return
        if not infrastructure_failure(exc):
            raise exc  # a bug: daphne logs the traceback and closes with 1011
        logger.warning(
            "Closing socket %s with %d: %s: %s",
            getattr(self, "channel_name", "?"),
            CLOSE_UNAVAILABLE,
            type(exc).__name__,
            exc,
        )
        with contextlib.suppress(Exception):  # the client may be gone already
            if not self.accepted:
                # Accepted, then closed: the client sees the code, not an HTTP 500.
                await self.accept()
            await self.close(code=CLOSE_UNAVAILABLE)

    async def accept(self, subprotocol=None, headers=None) -> None:
        await super().accept(subprotocol, headers)
        self.accepted = True

    async def dispatch(self, message: dict[str, Any]) -> None:
        """channels runs close_old_connections on the process's one sync
        thread before every handler: one more hop per frame and per event,
        queued behind every socket's sends (without it, at 50 sends/s over 20
        sockets delivery p50 went from 5.8 s to 0.12 s: bench/fanout.py).
        Every database call here is a hop of realtime.hops or
        realtime.presence (DatabaseSyncToAsync), which closes old connections
        itself, so the handler is called directly."""
        if message.get("type") == bus.EVENTS_HANDLER:
            # Several events for one group in one layer message (bus.coalesced).
            for event in message["events"]:
                await self.dispatch(event)
            return
        if message.get("type") == "websocket.receive":
            self.frame_received_at = message.get("receivedAt")
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        frame_rate = throttling.rate_for("socket.frames")
        self.frame_limiter = throttling.LocalLimiter(frame_rate)
        self.refused_frames = throttling.LocalLimiter(frame_rate)
        self.closed_for_abuse = False
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        opened = await open_socket_state(user, self.channel_name)
        if opened.refused:
            await self.accept()
            await self.close(code=CLOSE_TOO_MANY_SOCKETS)
            return
        self.user = user
        self.credential = credential_for_scope(self.scope)
        self.typing_limiter = TypingLimiter()
        self.conversation_ids = set(opened.versions)
        # Conversations told `sync.needed` and not synced since.
        self.behind: set[int] = set()
        self.in_order = ordering.InOrder(
            self.send_live, self.missed_frames, bus.encode, opened.versions
        )
        await bus.group_add_all(self.groups_of_socket(), self.channel_name)
        await self.accept()
        heartbeat.opened(self.channel_name)
        if opened.became_online:
            await publish_presence(user.pk, self.conversation_ids, online=True, last_seen_at=None)
        for frame in opened.presence:
            await self.send(text_data=bus.encode(frame))
        layer_guard.watch(self)
        group_expiry = getattr(self.channel_layer, "group_expiry", None)
        if group_expiry:
            self.group_refresher = asyncio.create_task(self.refresh_groups(group_expiry / 2))

    async def send_live(self, text: str) -> None:
        if not self.credential_gone:
            await self.send(text_data=text)

    async def missed_frames(self, conversation_id: int, since: int, limit: int) -> list[dict]:
        """For ordering.InOrder: the frames a gap is filled with."""
        try:
            return await missed_frames(self.user, self.credential, conversation_id, since, limit)
        except CredentialGone:
            await self.close_for_credential()
            return []

    async def refresh_groups(self, interval: float) -> None:
        """The layer drops a channel from a group `group_expiry` seconds after
        it joined (its guard against processes that died without leaving): a
        socket open longer would silently stop getting events. Joining again
        restarts the clock."""
        while True:
            await asyncio.sleep(interval)
            try:
                await bus.group_add_all(self.groups_of_socket(), self.channel_name)
            except Exception:
                logger.exception("Refreshing the groups of %s failed", self.channel_name)

    def groups_of_socket(self) -> list[str]:
        """The channel-layer groups this socket is in: its user's and each
        conversation's."""
        return [bus.user_group(self.user.pk)] + [
            bus.conversation_group(cid) for cid in list(self.conversation_ids)
        ]

    async def join(self, conversation_id: int) -> None:
        self.conversation_ids.add(conversation_id)
        await self.group_add(bus.conversation_group(conversation_id))

    async def leave(self, conversation_id: int) -> None:
        """The user was removed from the conversation: no more of its events,
        and sends to it take the membership lookup (403)."""
        self.conversation_ids.discard(conversation_id)
        await self.group_discard(bus.conversation_group(conversation_id))

    async def group_add(self, group: str) -> None:
        """Join a channel-layer group (through the bus: capped and timed)."""
        await bus.group_add(group, self.channel_name)

    async def group_discard(self, group: str) -> None:
        await bus.group_discard(group, self.channel_name)

    async def disconnect(self, code: int) -> None:
        await self.forget_socket()

    async def forget_socket(self) -> None:
        """Leave the groups, drop the socket's row and announce the user
        offline if it was their last socket. Once, and never raising: with
        Redis or the database down, what fails is logged (a row left behind
        stops counting after PRESENCE_TIMEOUT; the layer's groups expire)."""
        if not hasattr(self, "user") or self.forgotten:
            return
        self.forgotten = True
        heartbeat.closed(self.channel_name)
        layer_guard.forget(self)
        if self.sync_task is not None:
            self.sync_task.cancel()
        if self.group_refresher is not None:
            # Stopped first, so that it cannot join a group left below.
            self.group_refresher.cancel()
            await asyncio.gather(self.group_refresher, return_exceptions=True)
        try:
            await bus.group_discard_all(self.groups_of_socket(), self.channel_name)
        except Exception as exc:
            logger.warning("Leaving the groups of %s failed: %s", self.channel_name, exc)
        try:
            last_seen_at = await close_socket_state(self.user, self.channel_name)
        except Exception as exc:
            logger.warning("Forgetting socket %s failed: %s", self.channel_name, exc)
            return
        if last_seen_at is not None:
            await publish_presence(
                self.user.pk, self.conversation_ids, online=False, last_seen_at=last_seen_at
            )

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        raw = text_data if text_data is not None else bytes_data or b""
        # The limit is in bytes: a text frame of non-ASCII characters has
        # more bytes than characters (at most 4 per character in UTF-8).
        size = len(raw)
        if isinstance(raw, str) and size * 4 > settings.CHAT_WS_MAX_FRAME_BYTES:
            size = len(raw.encode("utf-8", "surrogatepass"))
        if size > settings.CHAT_WS_MAX_FRAME_BYTES:
            limit = settings.CHAT_WS_MAX_FRAME_BYTES
            await self.send_error(
                Description(400, "frame_too_large", f"A frame has at most {limit} bytes.")
            )
            await self.close(code=CLOSE_FRAME_TOO_LARGE)
            return
        if self.closed_for_abuse or self.credential_gone:
            return
        wait = self.frame_limiter.hit()
        if wait is not None:
            await self.refuse_frame(raw, wait)
            return
        frame = parsed_frame(raw)
        if frame is None:
            await self.send_error(Description(400, "bad_json", "The frame is not valid JSON."))
            return
        if not isinstance(frame, dict) or frame.get("type") not in CLIENT_FRAMES:
            message = f"type must be one of {', '.join(CLIENT_FRAMES)}."
            await self.send_error(
                Description(400, "unknown_type", message),
                frame if isinstance(frame, dict) else None,
            )
            return
        await self.answering(frame, self.validate_and_handle(frame))

    async def validate_and_handle(self, frame: dict) -> None:
        await self.handle(frame, validated_frame(frame))

    async def answering(self, frame: dict, work: Awaitable[None]) -> None:
        """Run a frame's work. Its failure is answered with an error frame
        naming the frame (the socket stays open), except a gone credential,
        which closes the socket with 4401."""
        try:
            await work
        except CredentialGone:
            await self.close_for_credential()
        except Exception as exc:
            if client_gone(exc):
                # Its answer is for a socket that has just closed: nothing to tell.
                logger.info("Socket %s closed by its client", self.channel_name)
                return
            # As over REST: a refusal, bad input, the database down (503)...
            description = describe(exc)
            if description is None:
                logger.exception("Socket frame %s failed", frame.get("type"))
                description = Description(
                    500, "internal_error", "The server failed to handle the frame."
                )
            await self.send_error(description, frame)

    async def close_for_credential(self) -> None:
        """The socket's credential is gone: nothing more is served on it."""
        if self.credential_gone:
            return
        self.credential_gone = True
        if self.sync_task is not None and self.sync_task is not asyncio.current_task():
            self.sync_task.cancel()
        await self.close(code=CLOSE_UNAUTHENTICATED)

    async def refuse_frame(self, raw: str | bytes, wait: float) -> None:
        """A frame over the socket's rate is dropped and answered with a
        `throttled` error naming it (so a client knows which send failed); the
        socket stays open. One that goes on sending as many frames again
        within the window, ignoring retryAfterSeconds, is closed with 4429."""
        frame = parsed_frame(raw)
        rate = self.frame_limiter.rate
        exc = throttling.RateLimited(wait, f"Too many frames on this socket (at most {rate}).")
        await self.send_error(describe(exc), frame if isinstance(frame, dict) else None)
        if self.refused_frames.hit() is not None:
            self.closed_for_abuse = True
            await self.close(code=CLOSE_TOO_MANY_FRAMES)

    async def handle(self, frame: dict, data: dict) -> None:
        frame_type = frame["type"]
        if frame_type == "message.send":
            waited = time.monotonic() - (self.frame_received_at or time.monotonic())
            async with send_queue.turn(waited=waited):
                ack = await send_from_socket(
                    self.user,
                    self.credential,
                    data,
                    joined=data["conversationId"] in self.conversation_ids,
                    origin=self.channel_name,
                )
            await self.send_frame(ack)
        elif frame_type == "typing":
            await self.typing(data["conversationId"], data["active"])
        elif frame_type == "read":
            await read_from_socket(self.user, self.credential, data)
        elif frame_type in ("reaction.add", "reaction.remove"):
            add = frame_type == "reaction.add"
            await react_from_socket(self.user, self.credential, data, add=add)
        elif frame_type == "sync":
            # In the background, so that sends and typing go on during a long
            # one; one at a time, so that a client cannot stack them up.
            if self.sync_task is not None and not self.sync_task.done():
                raise SyncInProgress
            self.behind.discard(data["conversationId"])
            self.sync_task = asyncio.create_task(self.answering(frame, self.sync(data)))

    async def sync(self, data: dict) -> None:
        await self.send_changes(data["conversationId"], data["sinceVersion"])
        await self.send_frame({"type": "sync.done", "conversationId": str(data["conversationId"])})

    async def typing(self, conversation_id: int, active: bool) -> None:
        """Only for conversations this socket belongs to, and as TypingLimiter admits."""
        if conversation_id not in self.conversation_ids:
            # The same answer as every other frame for a conversation one is not in.
            raise PermissionDenied("You are not a member of this conversation.")
        if not self.typing_limiter.admits(conversation_id, active=active):
            return
        await database_check_credential(self.credential)
        await publish_typing(conversation_id, self.user.pk, active=active)

    async def chat_event(self, event: dict[str, Any]) -> None:
        """A frame published through the bus to one of this socket's groups."""
        if self.credential_gone:
            return
        if event["frameType"] == REVOKED:
            if self.credential.revoked_by(json.loads(event["frame"])):
                await self.close_for_credential()
            return
        if event["frameType"] == "conversation.new":
            conversation_id = int(event["conversationId"])
            await self.join(conversation_id)
            await self.send(text_data=event["frame"])
            # Anything sent between the event and this socket joining the
            # group went past it: replay it (a client ignores versions it
            # holds). One page at most: joining a long-lived group is not a
            # reason to send its history (the client pages it over REST).
            since = json.loads(event["frame"])["conversation"].get("lastVersion") or 0
            self.in_order.start(conversation_id, since)
            try:
                frames, _ = await changes_page(self.user, self.credential, conversation_id, since)
            except CredentialGone:
                await self.close_for_credential()
                return
            except (NotFound, PermissionDenied):
                # Deleted, or the user removed, since: its own event follows.
                await self.leave(conversation_id)
                return
            await self.send_frames(conversation_id, frames)
            return
        if event["frameType"] in ("conversation.removed", "conversation.deleted"):
            # The user was removed from it, or it is gone: left, and told to
            # the client, which drops it from its lists.
            await self.leave(int(event["conversationId"]))
        if event["frameType"] == "typing" and event.get("userId") == str(self.user.pk):
            return
        if event["frameType"] in events.MESSAGE_EVENTS and event.get("version") is not None:
            await self.message_event(event)
            return
        if event["frameType"] == "typing" and late(event):
            return
        await self.send(text_data=event["frame"])

    async def message_event(self, event: dict[str, Any]) -> None:
        """A message's change, forwarded in version order, except:
        - this socket's own new message: its `message.ack` carried it already
          (the sender's other sockets get `message.new`);
        - an event that comes late (the process or Redis is behind): instead
          of every message seconds late, the client is told once to sync the
          conversation, which replays them in one page from the database.
        Either way the socket counts the version as sent, so the events after
        it are not held for it."""
        conversation_id = int(event["conversationId"])
        if self.in_order.sent(conversation_id, event["version"]):
            return
        frame = event["frame"]
        if event.get("origin") == self.channel_name and event["frameType"] == events.CREATED:
            frame = None
        elif late(event):
            frame = None
            if conversation_id not in self.behind:
                self.behind.add(conversation_id)
                await self.send_frame(
                    {"type": "sync.needed", "conversationId": str(conversation_id)}
                )
        await self.in_order.event(conversation_id, event["version"], frame)

    async def send_changes(self, conversation_id: int, since_version: int) -> None:
        """Every change after `since_version`, page by page."""
        more = True
        while more:
            started = time.monotonic()
            async with sync_reads():
                frames, more = await changes_page(
                    self.user, self.credential, conversation_id, since_version
                )
                await self.send_frames(conversation_id, frames)
            if frames:
                since_version = frames[-1]["version"]
            if more:
                # Paced: a long sync takes at most about half of the process's
                # time (reading, encoding, sending), whatever the client reads.
                await asyncio.sleep(time.monotonic() - started)

    async def send_frames(self, conversation_id: int, frames: list[dict]) -> None:
        for frame in frames:
            await self.send_frame(frame)
            self.in_order.seen(conversation_id, frame["version"])

    async def send_frame(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=bus.encode(frame))

    async def send_error(self, description: Description, frame: dict | None = None) -> None:
        """The `error` frame of chatproject.errors' description, naming the
        frame it answers (its type, clientMessageId and conversationId)."""
        error = {
            "type": "error",
            "code": description.code,
            "message": description.message,
            "status": description.status,
        }
        if description.details:
            error["details"] = description.details
        if frame:
            for key, name in (
                ("type", "frameType"),
                ("clientMessageId", "clientMessageId"),
                ("conversationId", "conversationId"),
            ):
                if isinstance(frame.get(key), (str, int)) and not isinstance(frame.get(key), bool):
                    error[name] = str(frame[key])
        await self.send_frame(error)
