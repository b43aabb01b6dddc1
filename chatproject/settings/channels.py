"""The channel layer (Redis, through Sentinel or not, else in memory) and the
cache that holds the rate-limit counters."""

from django.core.exceptions import ImproperlyConfigured

from chatproject.settings.database import DATABASES
from chatproject.settings.environment import env_float, env_int, env_list, env_str

# Channel layer ---------------------------------------------------------------

REDIS_URL = env_str("REDIS_URL")
# Redis Sentinel (deploy/README.md "Redis Sentinel"): "host:port" of each
# sentinel, comma-separated. When set, the layer asks them for the address of
# the master named REDIS_SENTINEL_MASTER and follows it through a failover;
# REDIS_URL then serves only the cache below, which stays on that one address.
REDIS_SENTINELS = env_list("REDIS_SENTINELS", [])
# Several Redis servers as the layer's shards (deploy/README.md "Several
# hosts"): their URLs, comma-separated. channels-redis hashes each group and
# each process's channel to one of them; REDIS_URL then serves only the cache.
CHANNEL_LAYER_SHARDS = env_list("CHANNEL_LAYER_SHARDS", [])
if CHANNEL_LAYER_SHARDS and REDIS_SENTINELS:
    raise ImproperlyConfigured("Set CHANNEL_LAYER_SHARDS or REDIS_SENTINELS, not both.")
REDIS_LAYER_BACKENDS = {
    # channels_redis.core's, with a group send in two round trips (realtime/layer.py).
    "core": "realtime.layer.RedisChannelLayer",
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
}


def sentinel_address(entry: str) -> tuple[str, int]:
    """(host, port) from "host:port", "host" (port 26379) or "[IPv6]:port"."""
    host, _, port = entry.partition(":")
    if entry.startswith("["):
        host, bracket, rest = entry[1:].partition("]")
        port = rest.removeprefix(":")
        if not bracket or (rest and not rest.startswith(":")):
            host = ""  # "[v6" or "[v6]x"
    try:
        if not host:
            raise ValueError(entry)
        return host, int(port or "26379")
    except ValueError:
        raise ImproperlyConfigured(
            f"REDIS_SENTINELS: {entry!r} is not host:port (IPv6 as [address]:port)."
        ) from None


if REDIS_URL or REDIS_SENTINELS or CHANNEL_LAYER_SHARDS:
    from redis.asyncio.retry import Retry as RedisRetry
    from redis.backoff import ConstantBackoff

    # redis-py 8 times out idle reads unless socket_timeout is None
    # (channels_redis issue 422), which loses messages. After a Redis restart
    # a pooled connection fails its next command: retried once on a new
    # connection, or the first socket connect and publish after the restart
    # fail (tests/faults).
    redis_layer_options = {"socket_timeout": None, "retry": RedisRetry(ConstantBackoff(0.1), 1)}
    if REDIS_SENTINELS:
        # channels_redis.utils.create_pool builds a SentinelConnectionPool from
        # "sentinels" and "master_name": each new connection asks the
        # sentinels where the master is now, and a connection to a server that
        # was demoted to a replica is dropped at its first write (ReadOnlyError).
        sentinel_kwargs = {"socket_connect_timeout": 1, "socket_timeout": 1}
        if sentinel_password := env_str("REDIS_SENTINEL_PASSWORD"):
            sentinel_kwargs["password"] = sentinel_password
        redis_layer_host = {
            "sentinels": [sentinel_address(entry) for entry in REDIS_SENTINELS],
            "master_name": env_str("REDIS_SENTINEL_MASTER", "mymaster"),
            # A sentinel that does not answer is skipped after a second.
            "sentinel_kwargs": sentinel_kwargs,
            "db": env_int("REDIS_SENTINEL_DB", 0),
            # A master host that vanished fails a connect in seconds, not minutes.
            "socket_connect_timeout": 5,
            **redis_layer_options,
        }
        if master_password := env_str("REDIS_SENTINEL_MASTER_PASSWORD"):
            redis_layer_host["password"] = master_password
        redis_layer_hosts = [redis_layer_host]
    else:
        redis_layer_hosts = [
            {"address": address, **redis_layer_options}
            for address in CHANNEL_LAYER_SHARDS or [REDIS_URL]
        ]

    # RedisChannelLayer by default: measured in bench/channel_layer.py (docs/operations.md
    # "Channel layer"); CHANNEL_LAYER_BACKEND=pubsub switches.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": REDIS_LAYER_BACKENDS[env_str("CHANNEL_LAYER_BACKEND", "core")],
            "CONFIG": {
                "hosts": redis_layer_hosts,
                "prefix": env_str("CHANNEL_LAYER_PREFIX", "asgi"),
            },
        }
    }
    if CHANNEL_LAYERS["default"]["BACKEND"] == REDIS_LAYER_BACKENDS["core"]:
        CHANNEL_LAYERS["default"]["CONFIG"].update(
            capacity=env_int("CHANNEL_LAYER_CAPACITY", 1000),
            expiry=60,
            group_expiry=env_int("CHANNEL_LAYER_GROUP_EXPIRY", 3600),
        )
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# How often each process checks that Redis still holds its sockets' groups
# (realtime/layer_guard.py): the longest a socket stays deaf after Redis
# restarted empty, before it is closed so that its client reconnects and syncs.
CHAT_LAYER_CHECK_SECONDS = env_float("CHAT_LAYER_CHECK_SECONDS", 2.0)
# How long a process may fail that check (Redis unreachable: a partition, a
# hung server) before it closes its sockets with 4503, which get no events
# meanwhile: their clients reconnect to a process that reaches Redis.
CHAT_LAYER_UNREACHABLE_SECONDS = env_float("CHAT_LAYER_UNREACHABLE_SECONDS", 10.0)
# The longest any one channel-layer call (a publish, a group join, the
# readiness round trip) may take: a Redis that hangs (stopped, not down) costs
# a send or a probe at most this long, and clients catch up with sync.
CHAT_LAYER_TIMEOUT_SECONDS = env_float("CHAT_LAYER_TIMEOUT_SECONDS", 0.5)
# A socket's message.send that would wait longer than this for the process's
# sync thread (by the sends queued there and the time one takes) is refused at
# once with `overloaded` (realtime/hops.py, docs/websocket.md): acked within
# about a second or refused fast, never queued for seconds.
CHAT_SEND_MAX_WAIT_SECONDS = env_float("CHAT_SEND_MAX_WAIT_SECONDS", 0.75)
# Threads of each process that run socket sends, each with its own database
# connection, beside the one sync thread every other socket hop shares
# (realtime/hops.py). One: at the send path's knee (180 sends/s here) one
# send thread kept p99 at 118-167 ms where two gave 219-317 ms and four
# 540 ms-3.8 s, the threads contending for the interpreter rather than
# waiting for PostgreSQL (docs/performance.md "Socket send path"); more can
# pay when PostgreSQL is far (milliseconds a round trip). 0: sends share the
# one sync thread (the default on SQLite, which takes one writer at a time).
CHAT_SEND_THREADS = env_int(
    "CHAT_SEND_THREADS",
    1 if DATABASES["default"]["ENGINE"] == "chatproject.postgres" else 0,
)
# A live event that reaches a socket longer than this after its commit is not
# sent: the socket gets one `sync.needed` for the conversation instead, and
# its client syncs (docs/websocket.md): under overload, one page of catch-up
# rather than every message seconds late. The processes' clocks must agree
# to well within it (NTP).
CHAT_LIVE_MAX_DELAY_SECONDS = env_float("CHAT_LIVE_MAX_DELAY_SECONDS", 2.0)

# Cache (rate-limit counters) ---------------------------------------------------

# Redis when REDIS_URL is set, so that every process shares one budget per
# user and address; else each process counts on its own. The key prefix keeps
# deployments sharing a Redis apart (as CHANNEL_LAYER_PREFIX does for the layer).
CACHE_KEY_PREFIX = env_str("CHAT_CACHE_PREFIX") or env_str("CHANNEL_LAYER_PREFIX", "chat")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            # Short commands only: a Redis that is down or hangs costs a
            # request at most this long before the limiter lets it through.
            # One connection pool per process, not per request (throttling.py).
            "OPTIONS": {
                "socket_connect_timeout": 0.5,
                "socket_timeout": 0.5,
                "pool_class": "chatproject.throttling.ProcessConnectionPool",
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "chat",
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }
