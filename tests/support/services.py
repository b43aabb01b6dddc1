"""The services some tests need (PostgreSQL, Redis, Chromium): whether they are
there, and the skip, or under CHAT_REQUIRE_SERVICES=1 the failure, when not.

conftest.py's `redis_url`, `postgres_url` and `chromium_path` fixtures use
these; a test that starts its own processes or browser may call them itself.
"""

import os
import socket

import pytest

REQUIRE_SERVICES = os.environ.get("CHAT_REQUIRE_SERVICES") == "1"
CHROMIUM = "/usr/bin/chromium"


def require_service(name: str, reason: str) -> None:
    """Skip (or, under CHAT_REQUIRE_SERVICES=1, fail) a test whose service is missing."""
    message = f"{name} is not reachable: {reason}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} (CHAT_REQUIRE_SERVICES=1 makes this a failure)")
    pytest.skip(message)


def tcp_reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_chromium() -> str:
    """Debian's Chromium (Playwright's own download cannot work here)."""
    if not os.path.exists(CHROMIUM):
        require_service("Chromium", f"{CHROMIUM} is missing; apt-get install -y chromium")
    return CHROMIUM
