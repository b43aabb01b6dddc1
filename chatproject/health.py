"""Checks of what the server depends on, for /readyz and the staff status page."""

import time
import uuid
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection

ROUND_TRIP_TIMEOUT = 2.0


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    milliseconds: float | None = None


def timed(name: str, probe) -> Check:
    started = time.perf_counter()
    try:
        detail = probe()
    except Exception as exc:
        return Check(name, False, f"{type(exc).__name__}: {exc}")
    return Check(name, True, detail, round((time.perf_counter() - started) * 1000, 2))


def probe_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return f"{connection.vendor} ({settings.DATABASES['default'].get('NAME')})"


async def layer_round_trip() -> str:
    import asyncio

    layer = get_channel_layer()
    channel = await layer.new_channel()
    token = uuid.uuid4().hex
    await layer.send(channel, {"type": "health.ping", "token": token})
    message = await asyncio.wait_for(layer.receive(channel), ROUND_TRIP_TIMEOUT)
    if message.get("token") != token:
        raise RuntimeError("the layer returned a different message")
    return type(layer).__name__


def probe_channel_layer() -> str:
    return async_to_sync(layer_round_trip)()


def readiness_checks() -> list[Check]:
    return [timed("database", probe_database), timed("channel layer", probe_channel_layer)]
