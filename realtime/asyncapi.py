"""The AsyncAPI 3 document of /ws/chat/, generated from realtime.frames with
drf-spectacular's serializer mapping, so the socket and REST shapes are the
same schemas."""

from functools import cache
from typing import Any

from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from rest_framework.generics import GenericAPIView

from realtime.frames import CLIENT_FRAMES, SERVER_FRAMES


def json_schema(schema: Any) -> Any:
    """OpenAPI 3.0's `nullable` as JSON Schema's type lists, recursively."""
    if isinstance(schema, list):
        return [json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {key: json_schema(value) for key, value in schema.items() if key != "nullable"}
    if schema.get("nullable"):
        if "type" in converted:
            converted["type"] = [converted["type"], "null"]
        else:
            converted = {"anyOf": [converted, {"type": "null"}]}
    return converted


def message_name(frame_type: str, direction: str) -> str:
    prefix = "client" if direction == "request" else "server"
    return prefix + "".join(part.title() for part in frame_type.split("."))


DEFAULT_HOST = "127.0.0.1:8000"
SERVER_DESCRIPTION = "The server this document is served by."


def asyncapi_document(host: str = DEFAULT_HOST, protocol: str = "ws") -> dict[str, Any]:
    """The document, with `host` (and ws or wss) as its server: the host that
    serves it at /api/asyncapi.json (views.asyncapi_json), `make run`'s by default."""
    server = {"host": host, "protocol": protocol, "description": SERVER_DESCRIPTION}
    return {**frames_document(), "servers": {"chat": server}}


@cache
def frames_document() -> dict[str, Any]:
    """Everything but the server: built once per process."""
    generator = SchemaGenerator()
    generator.parse(None, True)
    inspector = AutoSchema()
    inspector.view = GenericAPIView(request=None)
    inspector.registry = generator.registry
    inspector.method = "GET"
    inspector.path = "/ws/chat/"
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for direction, frames, action in (
        ("request", CLIENT_FRAMES, "receive"),
        ("response", SERVER_FRAMES, "send"),
    ):
        for frame_type, serializer in frames.items():
            component = inspector.resolve_serializer(serializer, direction)
            name = message_name(frame_type, direction)
            messages[name] = {
                "name": frame_type,
                "contentType": "application/json",
                "payload": {
                    "unevaluatedProperties": False,
                    "allOf": [
                        {"$ref": f"#/components/schemas/{component.name}"},
                        {
                            "type": "object",
                            "properties": {"type": {"const": frame_type}},
                            "required": ["type"],
                        },
                    ],
                },
            }
            operations[name] = {
                "action": action,
                "channel": {"$ref": "#/channels/chat"},
                "messages": [{"$ref": f"#/channels/chat/messages/{name}"}],
            }
    schemas = json_schema(generator.registry.build({}).get("schemas", {}))
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Chat WebSocket",
            "version": "1.0.0",
            "description": "One socket per client carries the live events of all the caller's "
            "conversations. Authenticate with the session cookie or an `Authorization: Bearer "
            "<key>` header; unauthenticated sockets are closed with code 4401, and so is a "
            "socket whose credential goes away (its token revoked or rotated, its session "
            "logged out, the password changed, the user deactivated or deleted): no frame is "
            "served once it is gone. A user's sockets beyond CHAT_WS_MAX_SOCKETS (20) are "
            "closed with 4409. One `sync` is in flight per socket: another is answered with "
            "`error` code `sync_in_progress` (409). Frames over 64 KB are closed with 4413. "
            "Sends (per user, shared with REST) and frames (per socket) are "
            "rate-limited: an `error` frame with code `throttled`, status 429 and "
            "`details.retryAfterSeconds`; a socket that keeps sending as many frames again is "
            "closed with 4429. A `message.send` the server is too busy to take is refused at "
            "once with `error` code `overloaded` (503, `details.retryAfterSeconds`): nothing "
            "is stored; send it again with the same `clientMessageId` after that wait. "
            "A socket whose Redis or database fails under it is closed with "
            "4503: reconnect and sync. Message events of a conversation arrive in `version` "
            "order. `reaction.add` and `reaction.remove` answer with the `message.updated` every "
            "member gets (nothing when nothing changed); a live frame is encoded once for all "
            "members, so its `reactions` carry no `me` (it is whether your id is in `users`). "
            'See docs/websocket.md, docs/limits.md and docs/operations.md "Faults".',
        },
        "channels": {
            "chat": {
                "address": "/ws/chat/",
                "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
            }
        },
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }
