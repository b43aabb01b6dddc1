"""What every benchmark needs to talk to a running chat server from its own
process: JSON over HTTP (standard library, no proxy), authenticated sockets,
percentiles, and the one JSON line each benchmark ends with."""

import asyncio
import http.client
import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect

HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))
HTTP_TIMEOUT = 15
SETUP_CONCURRENCY = 8


class BenchError(RuntimeError):
    """The benchmark could not run (a server refused the setup)."""


def http_json(method: str, url: str, body: Any = None, token: str | None = None) -> Any:
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with HTTP.open(request, timeout=HTTP_TIMEOUT) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")[:300]
        hint = ""
        if error.code == 429:
            hint = " (rate limited: run the servers with CHAT_RATE_*=off, see bench/run.py)"
        raise BenchError(f"{method} {url}: {error.code} {detail}{hint}") from None


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: Any  # the decoded JSON, None for an empty body
    seconds: float  # request sent to response read, JSON decoding left out


class KeepAlive:
    """One persistent HTTP/1.1 connection to a server (http.client), reused
    request after request as a real API client would. `opened` counts the TCP
    connections it took: 1 when the server honoured keep-alive throughout.
    A request that finds the connection closed by the server since the last
    one is sent again once on a new connection (a stale keep-alive; sends
    are safe to repeat with their clientMessageId)."""

    def __init__(
        self, server: str, token: str | None = None, timeout: float = HTTP_TIMEOUT
    ) -> None:
        parsed = urlsplit(server)
        kind = (
            http.client.HTTPSConnection if parsed.scheme == "https" else http.client.HTTPConnection
        )
        self.connection = kind(parsed.hostname or "127.0.0.1", parsed.port, timeout=timeout)
        self.prefix = parsed.path.rstrip("/")
        self.headers = {"Accept": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.opened = 0

    def request(self, method: str, path: str, body: Any = None) -> Reply:
        data = None if body is None else json.dumps(body).encode()
        headers = (
            self.headers if data is None else self.headers | {"Content-Type": "application/json"}
        )
        started = time.perf_counter()
        reused = self.connection.sock is not None
        try:
            raw, response = self.exchange(method, path, data, headers)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if not reused:
                raise
            raw, response = self.exchange(method, path, data, headers)
        seconds = time.perf_counter() - started
        decoded = (
            json.loads(raw) if raw and "json" in response.getheader("Content-Type", "") else None
        )
        return Reply(response.status, response.headers, decoded, seconds)

    def exchange(
        self, method: str, path: str, data: bytes | None, headers: dict[str, str]
    ) -> tuple[bytes, http.client.HTTPResponse]:
        if self.connection.sock is None:
            self.opened += 1
        try:
            self.connection.request(method, self.prefix + path, body=data, headers=headers)
            response = self.connection.getresponse()
            return response.read(), response
        except Exception:
            self.connection.close()  # a half-done exchange leaves it unusable
            raise

    def json(self, method: str, path: str, body: Any = None) -> Any:
        """The decoded body of a 200 or 201 answer; BenchError otherwise."""
        reply = self.request(method, path, body)
        if reply.status not in (200, 201):
            raise BenchError(f"{method} {path}: {reply.status} {json.dumps(reply.body)[:300]}")
        return reply.body

    def close(self) -> None:
        self.connection.close()


async def api(method: str, url: str, body: Any = None, token: str | None = None) -> Any:
    return await asyncio.to_thread(http_json, method, url, body, token)


async def bounded_gather(coroutines: list, limit: int = SETUP_CONCURRENCY) -> list:
    gate = asyncio.Semaphore(limit)

    async def run(coroutine):
        async with gate:
            return await coroutine

    return await asyncio.gather(*(run(c) for c in coroutines))


def ws_url(server: str) -> str:
    return server.replace("https://", "wss://").replace("http://", "ws://") + "/ws/chat/"


async def open_socket(server: str, token: str, **options: Any) -> ClientConnection:
    """An authenticated /ws/chat/ socket (token header, no Origin: an API client)."""
    return await connect(
        ws_url(server.rstrip("/")),
        additional_headers={"Authorization": f"Bearer {token}"},
        proxy=None,
        open_timeout=HTTP_TIMEOUT,
        close_timeout=2,
        max_size=2**20,
        **options,
    )


def percentile(values: list[float], fraction: float) -> float | None:
    """The value at `fraction` (0..1) of the sorted values, in milliseconds
    when the values are seconds; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000, 2)


def latency_summary(seconds: list[float]) -> dict[str, float | None]:
    return {
        "p50_ms": percentile(seconds, 0.5),
        "p95_ms": percentile(seconds, 0.95),
        "p99_ms": percentile(seconds, 0.99),
        "max_ms": percentile(seconds, 1.0),
    }


def fmt_ms(ms: float | None) -> str:
    return "-" if ms is None else f"{ms:.1f} ms"


def read_tokens(path: str) -> list[tuple[str, str]]:
    """`user_id token` lines, as bench/provision.py writes them."""
    pairs = []
    with open(path) as handle:
        for line in handle:
            parts = line.split()
            if len(parts) == 2:
                pairs.append((parts[0], parts[1]))
    return pairs


def emit(result: dict[str, Any]) -> None:
    """The benchmark's figures as one JSON line (last line of its output), and
    appended to $BENCH_RESULTS when bench/run.py collects them (which also
    names the server kind in $BENCH_SERVER_KIND)."""
    if os.environ.get("BENCH_SERVER_KIND"):
        result = {"server_kind": os.environ["BENCH_SERVER_KIND"]} | result
    line = json.dumps(result, sort_keys=True)
    print(line, flush=True)
    path = os.environ.get("BENCH_RESULTS")
    if path:
        with open(path, "a") as handle:
            handle.write(line + "\n")


def process_rss_kb(pid: int) -> int:
    """Resident memory of a local process, from /proc (Linux)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise BenchError(f"no VmRSS for process {pid}")
