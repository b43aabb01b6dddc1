"""Checks of what the server depends on, for /readyz and the staff status page.

Only the staff page shows details (which database, which layer, the error);
every URL or error text it shows goes through `redact` first, so that no
Redis password reaches it. The public /readyz says only whether each check passed."""

import re
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connection

from chatproject import bus

MASK = "***"
# scheme://user:password@ or scheme://secret@ (a lone name may be a password: redis://pw@host).
URL_USERINFO = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^\s/?#@:]*)(?P<colon>:?)[^\s/?#@]*@", re.I
)
# ?password=... and the like in a URL's query.
URL_SECRET_PARAMETER = re.compile(
    r"(?P<name>[?&](?:password|passwd|pass|pwd|token|secret)=)[^&#\s]*", re.I
)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    milliseconds: float | None = None


def mask_credentials(text: str) -> str:
    """`text` with the credentials of every URL in it replaced by ***:
    redis://:pw@host -> redis://:***@host, user:pw@ -> user:***@, pw@ -> ***@,
    ?password=pw -> ?password=***."""

    def userinfo(match: re.Match) -> str:
        if match["colon"]:
            return f"{match['scheme']}{match['user']}:{MASK}@"
        return f"{match['scheme']}{MASK}@"

    return URL_SECRET_PARAMETER.sub(rf"\g<name>{MASK}", URL_USERINFO.sub(userinfo, text))


def layer_hosts() -> list:
    return settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("hosts", [])


def configured_secrets() -> set[str]:
    """The Redis passwords in the settings, wherever they are (URLs, the
    layer's host options, the sentinels' options): masked in error texts that
    quote one without its URL."""
    urls = [settings.REDIS_URL]
    secrets = set()
    for host in layer_hosts():
        if isinstance(host, str):
            urls.append(host)
            continue
        urls.append(host.get("address", ""))
        for options in (host, host.get("sentinel_kwargs") or {}):
            secrets.add(options.get("password") or "")
    for url in urls:
        if isinstance(url, str):
            parsed = urlsplit(url)
            secrets.add(parsed.password or "")
            if parsed.password is None:  # redis://pw@host: a lone name may be the password
                secrets.add(parsed.username or "")
    secrets.discard("")
    return secrets


def redact(text: str) -> str:
    """Text for the staff page: URL credentials and configured passwords masked."""
    text = mask_credentials(text)
    for secret in sorted(configured_secrets(), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def describe_layer_hosts() -> list[str]:
    """Where the channel layer connects, for the staff page, without passwords."""
    described = []
    for host in layer_hosts():
        if isinstance(host, str):
            described.append(redact(host))
        elif "sentinels" in host:
            sentinels = ", ".join(f"{name}:{port}" for name, port in host["sentinels"])
            described.append(redact(f"sentinels {sentinels}, master {host.get('master_name')!r}"))
        else:
            described.append(redact(str(host.get("address", ""))))
    return described


def timed(name: str, probe) -> Check:
    started = time.perf_counter()
    try:
        detail = probe()
    except Exception as exc:
        return Check(name, False, redact(f"{type(exc).__name__}: {exc}"))
    return Check(name, True, redact(detail), round((time.perf_counter() - started) * 1000, 2))


def probe_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return f"{connection.vendor} ({settings.DATABASES['default'].get('NAME')})"


def probe_channel_layer() -> str:
    return async_to_sync(bus.round_trip)()


def readiness_checks() -> list[Check]:
    return [
        timed("database", probe_database),
        timed("channel layer", probe_channel_layer),
    ]
