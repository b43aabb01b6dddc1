"""Faults we control, for tests/faults: a private Redis server (stopped and
started again on the same port) and a TCP proxy in front of PostgreSQL (which
forwards, refuses, or swallows connections on command).

The machine's shared PostgreSQL (5432) and Redis (6379) are never stopped:
other test runs use them. Everything here listens on 127.0.0.1, is bounded in
time, and is cleaned up by the context managers.
"""

import contextlib
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

from tests.support.live_server import free_port

REDIS_SERVER = shutil.which("redis-server")
START_SECONDS = 10


# Redis --------------------------------------------------------------------------


def redis_ping(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class PrivateRedis:
    """A redis-server process of our own on a free loopback port, with no
    persistence: stopping it loses every key, as a crashed Redis without AOF
    would (and as a failover to an empty replica does)."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert REDIS_SERVER, "redis-server is not installed"
        deadline = time.monotonic() + START_SECONDS
        while True:
            self.starts += 1
            log = self.work_dir / f"redis-{self.port}-{self.starts}.log"
            self.process = subprocess.Popen(
                [
                    REDIS_SERVER,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                    "--dir",
                    str(self.work_dir),
                    "--logfile",
                    str(log),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            while self.process.poll() is None and time.monotonic() < deadline:
                if redis_ping(self.port):
                    return
                time.sleep(0.05)
            self.stop()
            if time.monotonic() >= deadline:
                raise RuntimeError(f"redis-server did not start on {self.port}")
            time.sleep(0.2)  # the port may still be held for a moment: try again

    def stop(self) -> None:
        """SIGKILL: Redis goes away at once, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def pause(self) -> None:
        """SIGSTOP: Redis hangs. Connections stay open; nothing answers."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@contextlib.contextmanager
def private_redis(work_dir: Path) -> Iterator[PrivateRedis]:
    redis = PrivateRedis(work_dir)
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


# PostgreSQL proxy -------------------------------------------------------------------

FORWARD = "forward"  # pass connections through to PostgreSQL
REFUSE = "refuse"  # accept and reset at once: "server closed the connection"
BLACKHOLE = "blackhole"  # accept and never answer: only a client timeout ends the wait
MODES = (FORWARD, REFUSE, BLACKHOLE)


def reset(sock: socket.socket) -> None:
    """Close with an RST (SO_LINGER 0), as a dropped network or a dead host
    behind a firewall would, rather than a polite FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class TcpProxy:
    """A threaded TCP forwarder on a free loopback port. `set_mode` switches
    what happens to new connections; `cut()` resets every open one (both
    sides), so established database connections break too."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.mode = FORWARD
        self.lock = threading.Lock()
        self.open: set[socket.socket] = set()
        self.held: list[socket.socket] = []
        self.accepted = 0
        self.forwarded = 0
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self.accept_loop, name="pg-proxy", daemon=True)
        self.thread.start()

    def set_mode(self, mode: str) -> None:
        assert mode in MODES, mode
        with self.lock:
            self.mode = mode
            held, self.held = self.held, []
        for sock in held:
            reset(sock)
        if mode != FORWARD:
            self.cut()

    def cut(self) -> None:
        with self.lock:
            sockets, self.open = self.open, set()
        for sock in sockets:
            reset(sock)

    def accept_loop(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                mode = self.mode
                if mode == BLACKHOLE:
                    self.held.append(client)
                    continue
            if mode == REFUSE:
                reset(client)
                continue
            threading.Thread(target=self.forward, args=(client,), daemon=True).start()

    def forward(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            reset(client)
            return
        upstream.settimeout(None)
        client.settimeout(None)
        with self.lock:
            if self.mode != FORWARD or self.closed.is_set():
                reset(client)
                reset(upstream)
                return
            self.forwarded += 1
            self.open.update((client, upstream))
        peer = {client: upstream, upstream: client}
        selector = selectors.DefaultSelector()
        try:
            selector.register(client, selectors.EVENT_READ)
            selector.register(upstream, selectors.EVENT_READ)
            while not self.closed.is_set():
                for key, _ in selector.select(timeout=0.5):
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    peer[key.fileobj].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            selector.close()
            with self.lock:
                self.open.discard(client)
                self.open.discard(upstream)
            reset(client)
            reset(upstream)

    def close(self) -> None:
        self.closed.set()
        with contextlib.suppress(OSError):
            self.listener.close()
        self.set_mode(REFUSE)
        self.thread.join(timeout=5)


@contextlib.contextmanager
def postgres_proxy(postgres_url: str) -> Iterator[TcpProxy]:
    parsed = urlparse(postgres_url)
    proxy = TcpProxy(parsed.hostname or "127.0.0.1", parsed.port or 5432)
    try:
        yield proxy
    finally:
        proxy.close()


def through_proxy(database_url: str, proxy: TcpProxy) -> str:
    """The same database URL, with the host and port of the proxy."""
    parsed = urlparse(database_url)
    userinfo = parsed.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@127.0.0.1:{proxy.port}" if userinfo else f"127.0.0.1:{proxy.port}"
    return parsed._replace(netloc=netloc).geturl()


def redis_command(port: int, *args: str) -> bytes:
    """One command to a Redis, in RESP; returns the raw reply."""
    payload = f"*{len(args)}\r\n".encode()
    for arg in args:
        data = arg.encode()
        payload += b"$%d\r\n%s\r\n" % (len(data), data)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(payload)
        return sock.recv(4096)
