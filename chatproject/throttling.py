"""Rate limits, shared by REST, the web pages and the socket
(docs/limits.md).

One limiter: a sliding-window counter in Django's cache. Each (scope, key)
has a counter per fixed window of the rate's period; a hit is allowed while
`previous window's count * the share of it still inside the sliding window +
this window's count` stays within the limit, which smooths the burst a plain
fixed window allows at its edges. The counter is bumped atomically (INCR on
Redis, in one round trip with reading the previous window), so every process
shares one budget when CACHES points at Redis; with the in-memory cache each
process has its own.

Rates are settings (`CHAT_RATE_LIMITS`, read at call time so that tests can
change them) like "60/min", "10/5min", "3/s"; "off" disables a scope.

If the cache cannot be reached, the limiter lets the request through and
logs: a broken Redis must not stop people chatting (the database is the
guarantee, docs/operations.md "Channel layer"), at the cost of no limits meanwhile.
"""

import hashlib
import ipaddress
import logging
import math
import re
import threading
import time
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

import redis
from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.utils.translation import gettext_noop

from chatproject.errors import Throttled

logger = logging.getLogger("chatproject.throttling")


def now() -> float:
    """The limiter's clock. Wall time, not monotonic: windows must line up
    across processes. Tests replace it (monkeypatch) to move time on."""
    return time.time()


# Rates -------------------------------------------------------------------------

UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}
RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-z]+)\s*$")
OFF = {"", "off", "none"}


@dataclass(frozen=True)
class Rate:
    limit: int
    period: float  # seconds

    def __str__(self) -> str:
        return f"{self.limit} per {self.period:g} s"


@lru_cache(maxsize=128)
def parse_rate(rate: str | None) -> Rate | None:
    """A rate such as "60/min", "10/5min", "3/s" or "1000/day" (units s, sec,
    m, min, h, hour, d, day, with or without a plural s); "off" is None."""
    if rate is None or rate.strip().lower() in OFF:
        return None
    match = RATE.match(rate.lower())
    unit = match.group(3) if match else ""
    if len(unit) > 2 and unit not in UNITS and unit.endswith("s"):
        unit = unit[:-1]  # "mins", "hours"; but "ms" is not minutes
    if not match or unit not in UNITS or int(match.group(1)) < 1 or match.group(2) == "0":
        raise ImproperlyConfigured(
            f"Bad rate {rate!r}: expected COUNT/[N]UNIT such as '60/min' or '10/5min', or 'off'."
        )
    return Rate(int(match.group(1)), int(match.group(2) or 1) * UNITS[unit])


def rate_for(scope: str) -> Rate | None:
    """The scope's rate from settings.CHAT_RATE_LIMITS, read now (not at import)."""
    rates = settings.CHAT_RATE_LIMITS
    if scope not in rates:
        raise ImproperlyConfigured(f"CHAT_RATE_LIMITS has no rate for {scope!r}.")
    return parse_rate(rates[scope])


# The sliding window --------------------------------------------------------------


# Float slack, so that a client that waits exactly the wait it was told gets in.
EPSILON = 1e-6


def allowed(rate: Rate, previous: float, current: int, elapsed: float) -> bool:
    """Whether one more hit fits: `elapsed` is how far into the current window
    we are (0..1); the previous window counts for the part still in view."""
    return previous * (1 - elapsed) + current + 1 <= rate.limit + EPSILON


def wait_time(rate: Rate, previous: float, current: int, elapsed: float) -> float:
    """Seconds until one more hit fits (for a hit that does not fit now)."""
    room = rate.limit - current - 1
    if room >= 0 and previous > 0:
        # Still in this window: the previous window's share fades linearly.
        wait = rate.period * (1 - elapsed - room / previous)
    else:
        # In the next window, this window's count is the one that fades.
        fade = max(0.0, 1 - (rate.limit - 1) / current) if current else 0.0
        wait = rate.period * (1 - elapsed + fade)
    return max(round(wait, 6), 0.0)


def window_of(rate: Rate, at: float) -> tuple[int, float]:
    """The window number at `at` and how far into it (0..1) `at` is."""
    window = math.floor(at / rate.period)
    offset = at - window * rate.period
    if offset < 0:  # at / period rounded up across a window's edge
        window, offset = window - 1, offset + rate.period
    elif offset >= rate.period:
        window, offset = window + 1, offset - rate.period
    return window, offset / rate.period


def cache_key(scope: str, key: str, rate: Rate, window: int) -> str:
    # Hashed: bounded length, and no usernames or addresses in the cache.
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"rl:{scope}:{rate.period:g}:{digest}:{window}"


def hit(scope: str, key: str, rate: str | None = None) -> float | None:
    """Count one hit of `key` in `scope`: None when it fits the rate (and is
    counted), else the seconds to wait (and it is not counted, so a client
    that is refused gets through again once the window has moved on).
    `rate` overrides the scope's setting."""
    parsed = parse_rate(rate) if rate is not None else rate_for(scope)
    if parsed is None:
        return None
    window, elapsed = window_of(parsed, now())
    current_key = cache_key(scope, key, parsed, window)
    # The previous window is read during the next one: keep it two periods.
    timeout = math.ceil(2 * parsed.period) + 1
    try:
        current, previous = count_hit(
            current_key, cache_key(scope, key, parsed, window - 1), timeout
        )
    except Exception:
        logger.warning("Rate limit %s not checked: the cache failed", scope, exc_info=True)
        return None
    if allowed(parsed, previous, current - 1, elapsed):
        return None
    take_back(current_key)
    return wait_time(parsed, previous, current - 1, elapsed)


def count_hit(current_key: str, previous_key: str, timeout: int) -> tuple[int, int]:
    """Bump this window's counter (created with `timeout`) and read the
    previous window's: (current, previous). On Redis one pipelined round trip
    (INCR, EXPIRE NX, GET) instead of the four of cache.add, cache.incr (which
    checks the key exists first) and cache.get: it runs on every send, on the
    process's one sync thread. Django's Redis cache stores integers unpickled,
    so the counters stay readable by cache.get and cache.decr."""
    client = redis_cache_client()
    if client is not None:
        pipeline = client.pipeline(transaction=False)
        pipeline.incr(cache.make_and_validate_key(current_key))
        pipeline.expire(cache.make_and_validate_key(current_key), timeout, nx=True)
        pipeline.get(cache.make_and_validate_key(previous_key))
        current, _, previous = pipeline.execute()
        return current, int(previous or 0)
    cache.add(current_key, 0, timeout)
    try:
        current = cache.incr(current_key)
    except ValueError:  # expired or evicted between add and incr
        cache.add(current_key, 1, timeout)
        current = 1
    return current, cache.get(previous_key, 0)


class ProcessConnectionPool(redis.ConnectionPool):
    """The cache's Redis connections, one pool per process (CACHES OPTIONS
    `pool_class`). Django makes a RedisCache, with a pool of its own, per
    thread and async context: under ASGI that is per request, so each send
    connected to Redis afresh (a TCP connect, HELLO, CLIENT SETINFO: a quarter
    of a REST send's time, docs/performance.md "REST send"). redis-py's pool
    is thread-safe and starts over in a forked child."""

    shared: ClassVar[dict[tuple, "ProcessConnectionPool"]] = {}
    lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **options) -> "ProcessConnectionPool":
        key = (url, tuple(sorted((name, repr(value)) for name, value in options.items())))
        with cls.lock:
            if key not in cls.shared:
                cls.shared[key] = super().from_url(url, **options)
            return cls.shared[key]


def redis_cache_client():
    """The redis-py client behind Django's Redis cache, or None for another
    cache. Django's RedisCache has no public accessor for it."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        return backend._cache.get_client(write=True)
    return None


def forgive(scope: str, key: str, rate: str | None = None) -> None:
    """Take back one counted hit (a sign-in that succeeded does not count
    against the username). At a window's edge it may take back one from the
    new window instead: at most one attempt too many, never a lockout."""
    parsed = parse_rate(rate) if rate is not None else rate_for(scope)
    if parsed is not None:
        take_back(cache_key(scope, key, parsed, window_of(parsed, now())[0]))


def take_back(current_key: str) -> None:
    try:
        if cache.get(current_key, 0) > 0:
            cache.decr(current_key)
    except Exception:
        logger.warning("Rate limit counter %s not decremented", current_key, exc_info=True)


class LocalLimiter:
    """The same sliding window for a counter that lives in one object (the
    frames of one socket): no cache round trip per frame."""

    def __init__(self, rate: Rate | None) -> None:
        self.rate = rate
        self.window: int | None = None
        self.previous = 0
        self.current = 0

    def hit(self) -> float | None:
        if self.rate is None:
            return None
        window, elapsed = window_of(self.rate, now())
        if window != self.window:
            moved_by_one = self.window is not None and window == self.window + 1
            self.previous = self.current if moved_by_one else 0
            self.current = 0
            self.window = window
        if not allowed(self.rate, self.previous, self.current, elapsed):
            return wait_time(self.rate, self.previous, self.current, elapsed)
        self.current += 1
        return None


# The answer ------------------------------------------------------------------------


class RateLimited(Throttled):
    """429 `throttled` from the limiter: the envelope with
    details.retryAfterSeconds and the Retry-After header over REST, an
    `error` frame with the same code, status and details on the socket, the
    form's error on the pages (chatproject.errors.describe). `reason` is the
    message without the wait, for a page to translate (users.forms.rate_limited_notice)."""

    def __init__(self, wait: float, message: str) -> None:
        super().__init__(wait, message)
        self.reason = message


def enforce(scope: str, key: str, message: str) -> None:
    """hit(), raising RateLimited when over the rate."""
    wait = hit(scope, key)
    if wait is not None:
        raise RateLimited(wait, message)


# What is limited -------------------------------------------------------------------


def limit_message_send(user_id: int) -> None:
    """One budget per user for every send, over REST or any socket."""
    enforce("message.send", str(user_id), "Too many messages sent.")


def limit_reaction_add(user_id: int) -> None:
    """One budget per user for adding reactions, over REST or any socket
    (each added one is a `message.updated` to every member's sockets)."""
    enforce("reaction.add", str(user_id), "Too many reactions added.")


def limit_attachment_upload(user_id: int) -> None:
    """One budget per user for uploading files (each is stored, an image decoded and re-encoded)."""
    enforce("attachment.upload", str(user_id), "Too many files uploaded.")


def limit_search(user_id: int) -> None:
    """One budget per user for searching messages (each a full-text query)."""
    enforce("search", str(user_id), "Too many searches.")


def limit_conversation_create(user_id: int) -> None:
    """One budget per user for starting conversations, over REST and the page
    (each create pushes `conversation.new` to every member's sockets)."""
    enforce("conversation.create", str(user_id), "Too many conversations started.")


def normalize_username(username: object) -> str:
    """Usernames as the limiter keys them: NFKC, case-folded, so that variants
    of one name share its budget."""
    if not isinstance(username, str | int) or isinstance(username, bool):
        return ""
    return unicodedata.normalize("NFKC", str(username)).strip().casefold()


def limit_auth_attempt(request: HttpRequest, username: object) -> None:
    """Before a sign-up, token or login attempt: every attempt counts against
    the client's address; every attempt counts against the username too, and
    the caller forgives it (auth_succeeded) when it succeeds, so that only
    failed attempts stay counted. Counting before checking the password keeps
    the budget exact under parallel guessing."""
    # In English in the API; marked for the sign-in pages' translation.
    enforce(
        "auth.ip", client_ip(request), gettext_noop("Too many sign-in attempts from your address.")
    )
    name = normalize_username(username)
    if name:
        enforce(
            "auth.username",
            name,
            gettext_noop("Too many failed sign-in attempts for this username."),
        )


def auth_succeeded(username: object) -> None:
    name = normalize_username(username)
    if name:
        forgive("auth.username", name)


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR. Behind N reverse proxies set CHAT_TRUSTED_PROXIES=N: the
    address is then the one the outermost trusted proxy appended to
    X-Forwarded-For (the Nth from the right); anything further left was
    written by the client and is never trusted. IPv6 addresses count per /64
    (one host usually holds a whole /64)."""
    address = request.META.get("REMOTE_ADDR") or ""
    proxies = settings.CHAT_TRUSTED_PROXIES
    if proxies:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            address = forwarded[-proxies]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address or "unknown"
    if ip.version == 6:
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
