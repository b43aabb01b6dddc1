"""Settings for the deployments in deploy/: the channel layer through Redis
Sentinel, and deploy/chat.env.example naming every variable settings read.

Settings are loaded in a fresh interpreter with the variables set, as a
server process would load them. The live test runs a private Redis master,
replica and sentinel (never the shared Redis on 6379) and fails the master
over under the layer."""

import asyncio
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from realtime.layer import RedisChannelLayer
from tests.support.live_server import free_port
from tests.support.services import require_service
from tests.support.settings import load_production_settings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "chatproject" / "settings"
ENV_EXAMPLE = ROOT / "deploy" / "chat.env.example"
REDIS_SERVER = shutil.which("redis-server")

LOAD = (
    "import json, django; django.setup(); from django.conf import settings; "
    "layer = settings.CHANNEL_LAYERS['default']; "
    "print(json.dumps({'layer': layer, 'cache': settings.CACHES['default']}, default=repr))"
)


def load_settings(code: str = LOAD, **env: str) -> subprocess.CompletedProcess:
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("REDIS_", "CHANNEL_LAYER_", "CHAT_", "DJANGO_"))
    }
    base |= {"DJANGO_SETTINGS_MODULE": "chatproject.settings", "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def settings_with(**env: str) -> dict:
    result = load_settings(**env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_sentinels_configure_the_layer_host():
    loaded = settings_with(
        REDIS_SENTINELS="10.0.0.1:26379, sentinel-b:26380,sentinel-c,[fd00::3]:26381",
        REDIS_SENTINEL_MASTER="chat",
        REDIS_SENTINEL_PASSWORD="sentinel-secret",
        REDIS_SENTINEL_MASTER_PASSWORD="redis-secret",
        REDIS_SENTINEL_DB="2",
        CHANNEL_LAYER_PREFIX="blue",
    )
    layer = loaded["layer"]
    assert layer["BACKEND"] == "realtime.layer.RedisChannelLayer"
    (host,) = layer["CONFIG"]["hosts"]
    assert "address" not in host
    assert host["sentinels"] == [
        ["10.0.0.1", 26379],
        ["sentinel-b", 26380],
        ["sentinel-c", 26379],
        ["fd00::3", 26381],
    ]
    assert host["master_name"] == "chat"
    assert host["sentinel_kwargs"] == {
        "socket_connect_timeout": 1,
        "socket_timeout": 1,
        "password": "sentinel-secret",
    }
    assert host["password"] == "redis-secret"
    assert host["db"] == 2
    # The same guards as with REDIS_URL: no read timeout (channels_redis 422), one retry.
    assert host["socket_timeout"] is None
    assert host["retry"].startswith("<redis.asyncio.retry.Retry")
    assert layer["CONFIG"]["prefix"] == "blue"
    assert layer["CONFIG"]["capacity"] == 1000
    assert layer["CONFIG"]["group_expiry"] == 3600
    # The cache cannot follow Sentinel: without REDIS_URL it stays per process.
    assert loaded["cache"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"


def test_sentinels_take_the_layer_and_redis_url_keeps_the_cache():
    loaded = settings_with(
        REDIS_SENTINELS="s1:26379",
        REDIS_URL="redis://redis-master.internal:6379/0",
        CHANNEL_LAYER_BACKEND="pubsub",
    )
    layer = loaded["layer"]
    assert layer["BACKEND"] == "channels_redis.pubsub.RedisPubSubChannelLayer"
    (host,) = layer["CONFIG"]["hosts"]
    assert host["sentinels"] == [["s1", 26379]]
    assert host["master_name"] == "mymaster"
    assert host["db"] == 0
    assert "password" not in host and "password" not in host["sentinel_kwargs"]
    assert loaded["cache"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert loaded["cache"]["LOCATION"] == "redis://redis-master.internal:6379/0"


def test_redis_url_alone_is_unchanged():
    loaded = settings_with(REDIS_URL="redis://127.0.0.1:6379/4")
    (host,) = loaded["layer"]["CONFIG"]["hosts"]
    assert host["address"] == "redis://127.0.0.1:6379/4"
    assert "sentinels" not in host and host["socket_timeout"] is None
    assert settings_with()["layer"] == {"BACKEND": "channels.layers.InMemoryChannelLayer"}


def test_shards_are_the_layer_hosts_and_redis_url_keeps_the_cache():
    loaded = settings_with(
        CHANNEL_LAYER_SHARDS="redis://r1:6379/0, redis://r2:6380/1",
        REDIS_URL="redis://cache:6379/2",
    )
    hosts = loaded["layer"]["CONFIG"]["hosts"]
    assert [host["address"] for host in hosts] == ["redis://r1:6379/0", "redis://r2:6380/1"]
    assert all(host["socket_timeout"] is None and "retry" in host for host in hosts)
    assert loaded["cache"]["LOCATION"] == "redis://cache:6379/2"
    refused = load_settings(CHANNEL_LAYER_SHARDS="redis://r1:6379/0", REDIS_SENTINELS="s1")
    assert "ImproperlyConfigured: Set CHANNEL_LAYER_SHARDS or REDIS_SENTINELS" in refused.stderr


@pytest.mark.parametrize("entry", ["host:port", ":26379", "a:1:2", "[fd00::1"])
def test_a_malformed_sentinel_is_refused_at_start(entry):
    result = load_settings(REDIS_SENTINELS=entry)
    assert result.returncode != 0
    assert "ImproperlyConfigured: REDIS_SENTINELS" in result.stderr


def named_test_database(module: str, **env: str) -> str | None:
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        "print(json.dumps(settings.DATABASES['default'].get('TEST', {}).get('NAME')))"
    )
    result = load_settings(code, DJANGO_SETTINGS_MODULE=module, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_test_database_is_a_test_setting():
    """A server (chatproject.settings) names no test database; a test run
    (chatproject.settings.test) names its own: CHAT_TEST_DB_NAME on
    PostgreSQL, a file per process on SQLite."""
    postgres = {
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/chat",
        "CHAT_TEST_DB_NAME": "test_side_by_side",
    }
    assert named_test_database("chatproject.settings", **postgres) is None
    assert named_test_database("chatproject.settings.test", **postgres) == "test_side_by_side"
    assert named_test_database("chatproject.settings", DATABASE_URL="") is None
    sqlite = named_test_database("chatproject.settings.test", DATABASE_URL="")
    assert re.fullmatch(r".*/var/test-db-\d+\.sqlite3", sqlite), sqlite


def production_settings_sources() -> dict[str, str]:
    """The source of each module a server's settings are made of (all but test.py)."""
    return {
        path.name: path.read_text()
        for path in sorted(SETTINGS.glob("*.py"))
        if path.name != "test.py"
    }


def settings_variables() -> set[str]:
    """Every variable the modules of chatproject/settings read."""
    pattern = r"""(?:os\.environ(?:\.get)?|env_[a-z]+)\(?\[?\s*["']([A-Z0-9_]+)["']"""
    source = "\n".join(production_settings_sources().values())
    return set(re.findall(pattern, source))


def test_settings_read_the_environment_through_one_module():
    """So that settings_variables finds every variable: the other modules
    call environment.py's env_* functions with the variable's name."""
    sources = production_settings_sources()
    assert "environment.py" in sources
    readers = {
        name
        for name, source in sources.items()
        if re.search(r"\bos\.(environ|getenv)\b", source) and name != "environment.py"
    }
    assert not readers, (
        f"{sorted(readers)} read os.environ; use chatproject/settings/environment.py"
    )


def test_the_env_example_names_every_variable_and_loads():
    names = settings_variables()
    assert {"DATABASE_URL", "REDIS_URL", "REDIS_SENTINELS", "DJANGO_SECRET_KEY"} <= names
    example = ENV_EXAMPLE.read_text()
    missing = sorted(name for name in names if not re.search(rf"\b{name}\b", example))
    assert not missing, f"deploy/chat.env.example does not mention {missing}"

    # As systemd's EnvironmentFile reads it: KEY=VALUE lines, # comments.
    values = {}
    for line in example.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, equals, value = line.partition("=")
            assert equals and re.fullmatch(r"[A-Z0-9_]+", key), f"not KEY=VALUE: {line!r}"
            values[key] = value
    # The placeholders that must be filled in are empty, so that a copy left
    # as it is fails at start instead of running with a published secret.
    assert values["DJANGO_SECRET_KEY"] == ""
    refused = load_settings(**values)
    assert "DJANGO_SECRET_KEY is required" in refused.stderr
    values["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(50)
    loaded = settings_with(**values)
    assert loaded["layer"]["BACKEND"] == "realtime.layer.RedisChannelLayer"
    # Django's deployment checklist passes with these values.
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    check = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**env, **values, "DJANGO_SETTINGS_MODULE": "chatproject.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stdout + check.stderr


# A live Sentinel -----------------------------------------------------------------


def answers(port: int, password: str) -> bool:
    from redis import Redis

    try:
        with Redis(port=port, password=password, socket_timeout=0.5) as client:
            return client.ping()
    except Exception:
        return False


def start_redis(
    tmp_path: Path, name: str, password: str, *arguments: str
) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(
        [
            REDIS_SERVER,
            *arguments,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
            "--logfile",
            str(tmp_path / f"{name}.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not answers(port, password):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"{name} did not start: {(tmp_path / f'{name}.log').read_text()}")
        time.sleep(0.05)
    return process, port


async def round_trip(layer: RedisChannelLayer, group: str) -> None:
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    await layer.group_send(group, {"type": "chat.event", "group": group})
    message = await asyncio.wait_for(layer.receive(channel), 5)
    assert message == {"type": "chat.event", "group": group}


async def master_port(sentinel, name: str) -> int:
    _, port = await sentinel.execute_command("SENTINEL", "get-master-addr-by-name", name)
    return int(port)


async def replica_ready(sentinel, name: str) -> bool:
    """The sentinel has seen a replica whose link to the master is up."""
    try:
        replicas = await sentinel.execute_command("SENTINEL", "replicas", name)
    except Exception:
        return False
    for replica in replicas:
        if not isinstance(replica, dict):  # RESP2: [key, value, key, value, ...]
            replica = dict(zip(replica[::2], replica[1::2], strict=True))
        fields = {str(k, "utf-8") if isinstance(k, bytes) else k: v for k, v in replica.items()}
        link = fields.get("master-link-status", fields.get("master_link_status"))
        if link in (b"ok", "ok"):
            return True
    return False


async def test_the_layer_follows_a_sentinel_failover(tmp_path, monkeypatch):
    """A round trip through the layer as chatproject.settings builds it from
    REDIS_SENTINELS, with passwords on Redis and on the sentinel. Then the
    master dies: the sentinel promotes the replica, and the same layer (its
    pooled connections on the dead master) carries a group message to a
    channel that joined the group before the failover."""
    if not REDIS_SERVER:
        require_service("redis-server", "the binary is missing; apt-get install -y redis-server")
    from redis.asyncio import Redis

    password, sentinel_password, name = "redis-pass", "sentinel-pass", "chat-test"
    auth = (password, "--requirepass", password, "--masterauth", password)
    processes: list[subprocess.Popen] = []
    clients: list[Redis] = []
    layer = None
    try:
        # No 5 s wait before the replica's first sync.
        master, old_port = start_redis(tmp_path, "master", *auth, "--repl-diskless-sync-delay", "0")
        processes.append(master)
        replica, new_port = start_redis(
            tmp_path, "replica", *auth, "--replicaof", "127.0.0.1", str(old_port)
        )
        processes.append(replica)
        sentinel_port = free_port()
        config = tmp_path / "sentinel.conf"
        config.write_text(
            f"port {sentinel_port}\nbind 127.0.0.1\ndir {tmp_path}\n"
            f"logfile {tmp_path / 'sentinel.log'}\nrequirepass {sentinel_password}\n"
            f"sentinel monitor {name} 127.0.0.1 {old_port} 1\n"
            f"sentinel auth-pass {name} {password}\n"
            f"sentinel down-after-milliseconds {name} 1000\n"
            f"sentinel failover-timeout {name} 10000\n"
        )
        processes.append(
            subprocess.Popen(
                [REDIS_SERVER, str(config), "--sentinel"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        sentinel = Redis(port=sentinel_port, password=sentinel_password, socket_timeout=2)
        clients.append(sentinel)
        deadline = time.monotonic() + 20
        while not await replica_ready(sentinel, name):
            assert time.monotonic() < deadline, f"no replica in sync:\n{config.read_text()}"
            await asyncio.sleep(0.1)

        monkeypatch.setenv("REDIS_SENTINELS", f"127.0.0.1:{sentinel_port}")
        monkeypatch.setenv("REDIS_SENTINEL_MASTER", name)
        monkeypatch.setenv("REDIS_SENTINEL_PASSWORD", sentinel_password)
        monkeypatch.setenv("REDIS_SENTINEL_MASTER_PASSWORD", password)
        monkeypatch.setenv("CHANNEL_LAYER_PREFIX", "sentinel-test")
        monkeypatch.delenv("REDIS_URL", raising=False)
        settings = load_production_settings()
        assert settings["CHANNEL_LAYERS"]["default"]["BACKEND"] == (
            "realtime.layer.RedisChannelLayer"
        )
        layer = RedisChannelLayer(**settings["CHANNEL_LAYERS"]["default"]["CONFIG"])

        await round_trip(layer, "before")
        assert await master_port(sentinel, name) == old_port
        listener = await layer.new_channel()
        await layer.group_add("conversation.1", listener)
        # Replication is asynchronous: wait until the replica has the group.
        old_master = Redis(port=old_port, password=password, socket_timeout=2)
        clients.append(old_master)
        assert await old_master.execute_command("WAIT", 1, 2000) == 1

        master.kill()
        master.wait(timeout=10)
        deadline = time.monotonic() + 30
        while await master_port(sentinel, name) != new_port:
            assert time.monotonic() < deadline, "the sentinel did not promote the replica"
            await asyncio.sleep(0.1)

        await layer.group_send("conversation.1", {"type": "chat.event", "n": 1})
        assert await asyncio.wait_for(layer.receive(listener), 5) == {"type": "chat.event", "n": 1}
        await round_trip(layer, "after")
        new_master = Redis(port=new_port, password=password, socket_timeout=2)
        clients.append(new_master)
        assert await new_master.exists("sentinel-test:group:after")
    finally:
        if layer is not None:
            await layer.close_pools()
        for client in clients:
            await client.aclose()
        for process in processes:
            process.kill()
            process.wait(timeout=10)
