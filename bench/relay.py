"""A bare Channels relay: the framework's ceiling for bench/send_path.py.

One `group_send` per message and nothing else: no authentication, no
database, no validation. It speaks just enough of the chat's socket protocol
for bench/fanout.py's client: a socket's bearer token is the comma-separated
list of the conversation ids it joins (`Authorization: Bearer 3,7`); a
`message.send` frame is acknowledged with `message.ack` (its clientMessageId)
and published to the conversation's group as `message.new` with the next seq
and version of that conversation (one counter per process), which every
member's socket but the sender's receives. GET /healthz answers 200.

    REDIS_URL=redis://127.0.0.1:6379/5 CHANNEL_LAYER_CAPACITY=100 \\
        .venv/bin/python -m daphne -p 8100 bench.relay:application
"""

import itertools
import json
import os
from collections import defaultdict

import django
from django.conf import settings

if not settings.configured:
    settings.configure(
        CHANNEL_LAYERS={
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {
                    "hosts": [os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")],
                    "prefix": os.environ.get("CHANNEL_LAYER_PREFIX", "relay"),
                    "capacity": int(os.environ.get("CHANNEL_LAYER_CAPACITY", "100")),
                    "expiry": 60,
                },
            }
        }
    )
    django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer
from channels.routing import ProtocolTypeRouter

versions: defaultdict[str, itertools.count] = defaultdict(lambda: itertools.count(1))


def bearer_groups(scope) -> list[str]:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            token = value.decode().removeprefix("Bearer ").strip()
            return [f"conversation.{cid}" for cid in token.split(",") if cid]
    return []


class RelayConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.groups = bearer_groups(self.scope)
        for group in self.groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def receive(self, text_data=None, bytes_data=None) -> None:
        frame = json.loads(text_data or bytes_data)
        conversation_id = str(frame["conversationId"])
        number = next(versions[conversation_id])
        await self.send(
            text_data=json.dumps(
                {"type": "message.ack", "clientMessageId": frame.get("clientMessageId")}
            )
        )
        event = {
            "type": "message.new",
            "conversationId": conversation_id,
            "seq": number,
            "version": number,
            "message": {"text": frame["text"]},
        }
        await self.channel_layer.group_send(
            f"conversation.{conversation_id}",
            {"type": "relay.event", "frame": json.dumps(event), "origin": self.channel_name},
        )

    async def relay_event(self, event) -> None:
        if event["origin"] != self.channel_name:
            await self.send(text_data=event["frame"])


async def health(scope, receive, send) -> None:
    status = 200 if scope["path"] == "/healthz" else 404
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


application = ProtocolTypeRouter({"http": health, "websocket": RelayConsumer.as_asgi()})
