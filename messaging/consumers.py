"""The chat socket at /ws/chat/: one socket carries the live events of all
of the caller's conversations. The protocol is in README "WebSocket".

The consumer is thin: it parses frames, checks membership, calls the same
services as the REST API and forwards the frames that messaging.events
publishes. It never builds a message event itself.
"""

import asyncio
import json
import logging
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from rest_framework.exceptions import APIException, PermissionDenied, ValidationError

from chatproject.errors import flatten_message
from conversations import selectors as conversation_selectors
from conversations import services as conversation_services
from conversations.models import Membership
from messaging import events, selectors, services
from messaging.frames import CLIENT_FRAMES
from messaging.serializers import MessageSerializer
from users import services as user_services

logger = logging.getLogger("messaging.consumers")

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FRAME_TOO_LARGE = 1009
SYNC_PAGE = 500


@database_sync_to_async
def member_conversation_ids(user) -> list[int]:
    return list(user.memberships.values_list("conversation_id", flat=True))


@database_sync_to_async
def send_from_socket(user, data: dict) -> dict:
    membership = conversation_selectors.membership_for(user, data["conversationId"])
    message, _ = services.send_message(
        sender=user,
        conversation=membership.conversation,
        text=data["text"],
        client_message_id=data.get("clientMessageId") or None,
        client_timestamp=data.get("clientTimestamp"),
    )
    return MessageSerializer(message).data


@database_sync_to_async
def read_from_socket(user, data: dict) -> None:
    membership = conversation_selectors.membership_for(user, data["conversationId"])
    conversation_services.mark_read(membership=membership, seq=data["seq"])


@database_sync_to_async
def changes_for_socket(user, conversation_id: int, since_version: int) -> list[dict]:
    conversation_selectors.membership_for(user, conversation_id)
    frames, more = [], True
    while more:
        changed, more = selectors.changes_since(conversation_id, since_version, limit=SYNC_PAGE)
        frames.extend(events.message_frame(events.change_type(m), m) for m in changed)
        if changed:
            since_version = changed[-1].version
    return frames


@database_sync_to_async
def conversation_members_online(conversation_ids: list[int]) -> list[dict]:
    return events.online_presence_frames(conversation_ids)


@database_sync_to_async
def keep_sockets_alive() -> list[tuple[int, Any, list[int]]]:
    return [
        (user_id, last_seen_at, list(conversation_ids_of(user_id)))
        for user_id, last_seen_at in user_services.keep_sockets_alive()
    ]


def conversation_ids_of(user_id: int):
    return Membership.objects.filter(user_id=user_id).values_list("conversation_id", flat=True)


async def presence_heartbeat() -> None:
    """Mark this process's sockets alive and announce as offline the users
    whose only sockets were on a process that died without closing them."""
    for user_id, last_seen_at, conversation_ids in await keep_sockets_alive():
        await events.publish_presence(
            user_id, conversation_ids, online=False, last_seen_at=last_seen_at
        )


async def keep_presence() -> None:
    """One task per server process: a presence heartbeat every PRESENCE_HEARTBEAT."""
    while True:
        await asyncio.sleep(user_services.PRESENCE_HEARTBEAT.total_seconds())
        try:
            await presence_heartbeat()
        except Exception:
            logger.exception("Presence heartbeat failed")


presence_keeper: asyncio.Task | None = None


def ensure_presence_keeper() -> None:
    global presence_keeper
    loop = asyncio.get_running_loop()
    if presence_keeper is None or presence_keeper.done() or presence_keeper.get_loop() is not loop:
        presence_keeper = loop.create_task(keep_presence())


class ChatConsumer(AsyncWebsocketConsumer):
    group_refresher: asyncio.Task | None = None

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # However the consumer ends, its channel must not stay in groups.
            if self.group_refresher is not None:
                self.group_refresher.cancel()

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user = user
        self.typing_sent_at: dict[int, float] = {}
        self.typing_in: set[int] = set()
        self.conversation_ids = set(await member_conversation_ids(user))
        await self.channel_layer.group_add(events.user_group(user.pk), self.channel_name)
        for conversation_id in self.conversation_ids:
            await self.join(conversation_id)
        await self.accept()
        became_online = await database_sync_to_async(user_services.socket_opened)(
            user, self.channel_name
        )
        ensure_presence_keeper()
        if became_online:
            await events.publish_presence(
                user.pk, self.conversation_ids, online=True, last_seen_at=None
            )
        for frame in await conversation_members_online(list(self.conversation_ids)):
            await self.send(text_data=events.encode(frame))
        group_expiry = getattr(self.channel_layer, "group_expiry", None)
        if group_expiry:
            self.group_refresher = asyncio.create_task(self.refresh_groups(group_expiry / 2))

    async def refresh_groups(self, interval: float) -> None:
        """The layer drops a channel from a group `group_expiry` seconds after
        it joined (its guard against processes that died without leaving): a
        socket open longer would silently stop getting events. Joining again
        restarts the clock."""
        while True:
            await asyncio.sleep(interval)
            groups = [events.user_group(self.user.pk)] + [
                events.conversation_group(cid) for cid in list(self.conversation_ids)
            ]
            try:
                for group in groups:
                    await self.channel_layer.group_add(group, self.channel_name)
            except Exception:
                logger.exception("Refreshing the groups of %s failed", self.channel_name)

    async def join(self, conversation_id: int) -> None:
        self.conversation_ids.add(conversation_id)
        await self.channel_layer.group_add(
            events.conversation_group(conversation_id), self.channel_name
        )

    async def disconnect(self, code: int) -> None:
        if not hasattr(self, "user"):
            return
        if self.group_refresher is not None:
            # Stopped first, so that it cannot join a group left below.
            self.group_refresher.cancel()
            await asyncio.gather(self.group_refresher, return_exceptions=True)
        for conversation_id in self.conversation_ids:
            await self.channel_layer.group_discard(
                events.conversation_group(conversation_id), self.channel_name
            )
        await self.channel_layer.group_discard(events.user_group(self.user.pk), self.channel_name)
        last_seen_at = await database_sync_to_async(user_services.socket_closed)(
            self.user, self.channel_name
        )
        if last_seen_at is not None:
            await events.publish_presence(
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
            await self.send_error(
                "frame_too_large",
                f"A frame has at most {settings.CHAT_WS_MAX_FRAME_BYTES} bytes.",
            )
            await self.close(code=CLOSE_FRAME_TOO_LARGE)
            return
        try:
            frame = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            await self.send_error("bad_json", "The frame is not valid JSON.")
            return
        if not isinstance(frame, dict) or frame.get("type") not in CLIENT_FRAMES:
            await self.send_error(
                "unknown_type",
                f"type must be one of {', '.join(CLIENT_FRAMES)}.",
                frame if isinstance(frame, dict) else None,
            )
            return
        serializer = CLIENT_FRAMES[frame["type"]](data=frame)
        try:
            serializer.is_valid(raise_exception=True)
            await self.handle(frame["type"], serializer.validated_data)
        except APIException as exc:
            await self.send_api_error(exc, frame)
        except Exception:
            logger.exception("Socket frame %s failed", frame.get("type"))
            await self.send_error("internal_error", "The server failed to handle the frame.", frame)

    async def handle(self, frame_type: str, data: dict) -> None:
        if frame_type == "message.send":
            message = await send_from_socket(self.user, data)
            await self.send_frame(
                {
                    "type": "message.ack",
                    "clientMessageId": data.get("clientMessageId"),
                    "conversationId": message["conversationId"],
                    "seq": message["seq"],
                    "version": message["version"],
                    "message": message,
                }
            )
        elif frame_type == "typing":
            await self.typing(data["conversationId"], data["active"])
        elif frame_type == "read":
            await read_from_socket(self.user, data)
        elif frame_type == "sync":
            for frame in await changes_for_socket(
                self.user, data["conversationId"], data["sinceVersion"]
            ):
                await self.send_frame(frame)
            await self.send_frame(
                {"type": "sync.done", "conversationId": str(data["conversationId"])}
            )

    async def typing(self, conversation_id: int, active: bool) -> None:
        """Typing is rate-limited per conversation: at most one `active` per
        interval, and an `inactive` only after an `active`; only for
        conversations this socket belongs to."""
        if conversation_id not in self.conversation_ids:
            # The same answer as every other frame for a conversation one is not in.
            raise PermissionDenied("You are not a member of this conversation.")
        if active:
            now = time.monotonic()
            last = self.typing_sent_at.get(conversation_id)
            if last is not None and now - last < settings.CHAT_TYPING_INTERVAL:
                return
            self.typing_sent_at[conversation_id] = now
            self.typing_in.add(conversation_id)
        elif conversation_id in self.typing_in:
            self.typing_in.discard(conversation_id)
        else:
            return
        await events.publish_typing(conversation_id, self.user.pk, active=active)

    async def chat_event(self, event: dict[str, Any]) -> None:
        """A frame published by messaging.events to one of this socket's groups."""
        if event["frameType"] == "conversation.new":
            conversation_id = int(event["conversationId"])
            await self.join(conversation_id)
            await self.send(text_data=event["frame"])
            # Anything sent before this socket joined the group went past it:
            # replay it (a client ignores versions it already holds).
            for frame in await changes_for_socket(self.user, conversation_id, 0):
                await self.send_frame(frame)
            return
        if event["frameType"] == "typing" and event.get("userId") == str(self.user.pk):
            return
        await self.send(text_data=event["frame"])

    async def send_frame(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=events.encode(frame))

    async def send_api_error(self, exc: APIException, frame: dict) -> None:
        details = {}
        if isinstance(exc, ValidationError):
            code, details = "validation_error", {"fields": exc.detail}
        else:
            code = getattr(exc, "error_code", None) or exc.default_code
            details = getattr(exc, "details", {}) or {}
        await self.send_error(code, flatten_message(exc.detail), frame, details, exc.status_code)

    async def send_error(
        self,
        code: str,
        message: str,
        frame: dict | None = None,
        details: dict | None = None,
        status: int = 400,
    ) -> None:
        error = {"type": "error", "code": code, "message": message, "status": status}
        if details:
            error["details"] = details
        if frame:
            for key, name in (
                ("type", "frameType"),
                ("clientMessageId", "clientMessageId"),
                ("conversationId", "conversationId"),
            ):
                if isinstance(frame.get(key), (str, int)) and not isinstance(frame.get(key), bool):
                    error[name] = str(frame[key])
        await self.send_frame(error)
