"""Real servers for integration and browser tests (and bench/run.py): a fresh
database (SQLite file or a PostgreSQL database of its own), migrated, and
daphne (or uvicorn) processes serving chatproject.asgi on loopback ports.
Everything stops by itself at the end of the `with` block."""

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import psycopg

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 30
# The two ASGI servers that serve chatproject.asgi (docs/performance.md).
SERVER_COMMANDS = {
    "daphne": ["-m", "daphne", "-b", "127.0.0.1", "-p", "{port}", "{application}"],
    "uvicorn": [
        "-m",
        "uvicorn",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--no-access-log",
        "--ws-max-size",
        "1048576",
        "{application}",
    ],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    port: int
    process: subprocess.Popen
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/chat/"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Deployment:
    """One database and channel layer shared by every server started from it."""

    env: dict[str, str]
    work_dir: Path
    servers: list[Server] = field(default_factory=list)
    server_kind: str = "daphne"  # or "uvicorn": a key of SERVER_COMMANDS
    # What the servers serve; bench/send_path.py also starts bench.relay's.
    application: str = "chatproject.asgi:application"

    def manage(self, *args: str, input_text: str | None = None) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            input=input_text,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr}")
        return result.stdout

    def start_server(self, port: int | None = None) -> Server:
        """A server process (daphne unless `server_kind` says otherwise) on
        `port` (a free one by default)."""
        port = port or free_port()
        log_path = self.work_dir / f"{self.server_kind}-{port}-{len(self.servers)}.log"
        arguments = [
            part.format(port=port, application=self.application)
            for part in SERVER_COMMANDS[self.server_kind]
        ]
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [sys.executable, *arguments],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        server = Server(port, process, log_path)
        self.servers.append(server)
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{self.server_kind} exited at start:\n{server.log()}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{server.url}/healthz", timeout=1) as response,
            ):
                if response.status == 200:
                    return server
            time.sleep(0.2)
        server.kill()
        raise RuntimeError(
            f"{self.server_kind} did not answer within {STARTUP_SECONDS} s:\n{server.log()}"
        )

    def restart_server(self, server: Server) -> Server:
        """Kill `server` (no clean close for its sockets) and start a new
        process on the same port, as a crashed and restarted process would be."""
        server.kill()
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                return self.start_server(port=server.port)
            except RuntimeError:
                # The port may still be held for a moment after the kill.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


def base_env(**overrides: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="chatproject.settings",
        DJANGO_DEBUG="1",
        DJANGO_SECRET_KEY="integration-test-key-" + uuid.uuid4().hex,
        PYTHONUNBUFFERED="1",
        # Every test user signs up from 127.0.0.1: one address, many people.
        CHAT_RATE_AUTH_IP="10000/min",
    )
    env.update(overrides)
    return env


@contextlib.contextmanager
def sqlite_deployment(work_dir: Path) -> Iterator[Deployment]:
    """A migrated SQLite file database with the in-memory channel layer (one process)."""
    deployment = Deployment(
        base_env(DATABASE_URL=f"sqlite:///{work_dir / 'live.sqlite3'}"), work_dir
    )
    deployment.manage("migrate", "--no-input", "-v0")
    try:
        yield deployment
    finally:
        for server in deployment.servers:
            server.stop()


@contextlib.contextmanager
def postgres_deployment(work_dir: Path, postgres_url: str, redis_url: str) -> Iterator[Deployment]:
    """A PostgreSQL database of its own (created, migrated, dropped at the end)
    and the Redis channel layer under a unique prefix, for several processes."""
    name = f"chat_live_{uuid.uuid4().hex[:12]}"
    admin_url = urlparse(postgres_url)._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    database_url = urlparse(postgres_url)._replace(path=f"/{name}").geturl()
    env = base_env(DATABASE_URL=database_url, REDIS_URL=redis_url, CHANNEL_LAYER_PREFIX=name)
    deployment = Deployment(env, work_dir)
    try:
        deployment.manage("migrate", "--no-input", "-v0")
        yield deployment
    finally:
        for server in deployment.servers:
            server.stop()
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
