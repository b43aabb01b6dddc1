"""Scale-out across hosts, for real (deploy/README.md "Several hosts"): network
namespaces on this machine (tests/support/hosts.py). Hosts A and B
run two daphne processes each with production settings; host C runs
PostgreSQL and Redis of their own; nginx on a fourth host balances HTTP and
sockets across the four processes (deploy/nginx-multihost.conf). Every
client (in the root namespace) goes through nginx, which says in X-Upstream
which process served it.

The channel layer is sharded over two Redis servers on C
(CHANNEL_LAYER_SHARDS).

- People on A and on B chat with each other with the guarantees of one
  process: each message reaches every socket once, in version order, and the
  sockets end with what the database holds.
- Every process of host A killed: its clients reconnect through nginx, land
  on B, sync and resend; nothing is lost or doubled.
- Host A cut off from Redis (packets dropped, no reset): A's sockets are
  closed with 4503 (realtime/layer_guard.py), their clients land on B and
  catch up.

Needs root and iproute2 (skips otherwise; fails under CHAT_REQUIRE_SERVICES=1).
The tests share one set of hosts, restored after each test; each runs under
an overall timeout and a failure carries every server's log.
"""

import asyncio
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
import redis

from realtime.ordering import REORDER_WAIT
from tests.faults.test_faults import (
    CLOSE_UNAVAILABLE,
    CRASH,
    Client,
    assert_everyone_holds_history,
    assert_view_is_history,
    close_all,
    history,
    open_ready,
    socket_sync,
    wait_closed,
)
from tests.support import hosts
from tests.support.servers import Socket, api, barrier, http_json, post_message, sign_up
from tests.support.services import require_service

OVERALL_TIMEOUT = 30
# Host A's processes close their sockets once Redis has been unreachable this long.
UNREACHABLE_SECONDS = 2
SERVER_ENV = {
    "CHAT_LAYER_UNREACHABLE_SECONDS": str(UNREACHABLE_SECONDS),
    "CHAT_LAYER_CHECK_SECONDS": "0.5",
    "CHAT_LAYER_TIMEOUT_SECONDS": "0.5",
}
MESSAGES_EACH = 8


@dataclass
class Cluster:
    net: hosts.Network
    deployment: hosts.HostDeployment
    nginx: hosts.HostServer
    shards: list[str]  # the channel layer's Redis URLs

    def servers_of(self, role: str) -> list[hosts.HostServer]:
        return [
            s for s in self.deployment.servers if s.host.role == role and s.process.poll() is None
        ]

    def role_of(self, socket: Socket) -> str:
        """The host ("a" or "b") of the process nginx sent this socket to."""
        return self.role_at(socket.connection.response.headers["X-Upstream"])

    def role_at(self, upstreams: str) -> str:
        """The host of the process that answered, from nginx's $upstream_addr:
        the processes it tried, in turn ("10.0.1.11:8001, 10.0.1.12:8001")."""
        address = upstreams.split(", ")[-1].rsplit(":", 1)[0]
        return next(h.role for h in self.net.hosts.values() if h.address == address)

    def served_http(self) -> set[str]:
        """The hosts nginx sent API requests to, from its access log."""
        found = re.findall(
            r'"[A-Z]+ /api/\S* HTTP/1.1" \d+ .*upstream=(.+)$', self.nginx.log(), re.M
        )
        return {self.role_at(upstreams) for upstreams in found}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    reason = hosts.reason_unavailable()
    if reason:
        require_service("Network namespaces", reason)
    with hosts.network() as net:
        admin_url = hosts.start_postgres(net)
        # The layer sharded over two Redis servers (CHANNEL_LAYER_SHARDS); the
        # first one also holds the cache (rate limits, typing).
        shards = [hosts.start_redis(net, port) for port in hosts.REDIS_PORTS]
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute("CREATE DATABASE chat")
        database_url = admin_url.rsplit("/", 1)[0] + "/chat"
        env = hosts.server_env(
            net, database_url, shards[0], CHANNEL_LAYER_SHARDS=",".join(shards), **SERVER_ENV
        )
        deployment = hosts.HostDeployment(env, net.work_dir, net=net)
        deployment.manage("migrate", "--no-input", "-v0")
        placements = [(net.hosts[role], port) for role in "ab" for port in hosts.DAPHNE_PORTS]
        for host, port in placements:
            deployment.start_on(host, port)
        nginx = hosts.start_nginx(net, deployment.servers)
        yield Cluster(net, deployment, nginx, shards)


@pytest.fixture
def restored(cluster) -> Iterator[Cluster]:
    """The cluster, and after the test host A plugged back and its processes up."""
    yield cluster
    cluster.net.hosts["a"].reconnect_to(cluster.net.redis_address)
    for server in list(cluster.deployment.servers):
        if server.process.poll() is not None:
            cluster.deployment.servers.remove(server)
            cluster.deployment.restart_on(server)


def logs(cluster: Cluster) -> str:
    return "\n".join(
        f"----- {s.host.role}:{s.port} (exit {s.process.poll()}) -----\n{s.log()[-4000:]}"
        for s in cluster.deployment.servers
    )


async def scenario_bounded(cluster: Cluster, scenario) -> None:
    try:
        await asyncio.wait_for(scenario(), OVERALL_TIMEOUT)
    except Exception as exc:
        pytest.fail(f"{type(exc).__name__}: {exc}\n\nServer logs:\n{logs(cluster)}")


async def open_on(cluster: Cluster, role: str, name: str, token: str) -> Socket:
    """A socket through nginx that landed on host `role` (nginx chooses: a
    socket that landed elsewhere is closed and another opened; a host that
    was just restarted is skipped by nginx for up to fail_timeout, 5 s)."""
    deadline = asyncio.get_running_loop().time() + 10
    attempt = 0
    while asyncio.get_running_loop().time() < deadline:
        attempt += 1
        socket = await open_ready(f"{name}{attempt}", cluster.nginx, token)
        if cluster.role_of(socket) == role:
            return socket
        await socket.close()
        await asyncio.sleep(0.2)
    raise AssertionError(f"nginx never sent {name}'s socket to host {role}")


async def group_of_four(cluster: Cluster) -> tuple[list[tuple[str, str]], str]:
    """Ann, Bea, Cid and Dee signed up through nginx, and their group."""
    users = [await sign_up(cluster.nginx, name) for name in ("ann", "bea", "cid", "dee")]
    group = await api(
        cluster.nginx,
        "POST",
        "/api/conversations",
        {"users": [user_id for user_id, _ in users[1:]], "kind": "group"},
        token=users[0][1],
        expect=201,
    )
    return users, group["id"]


async def clients_on_both_hosts(
    cluster: Cluster,
) -> tuple[list[Client], list[tuple[str, str]], str]:
    """The four as clients (tests/faults' Client, through nginx): Ann and Bea
    on host A, Cid and Dee on host B. Returns (clients, (id, token) of each, group)."""
    users, group = await group_of_four(cluster)
    clients = []
    # A Client tries each of its servers three times when it reconnects:
    # nginx four times over makes twelve tries, as live.js keeps trying.
    for (_, token), name, role in zip(users, "ABCD", "aabb", strict=True):
        client = Client(name, token, [cluster.nginx] * 4, group)
        client.sockets.append(await open_on(cluster, role, name, token))
        clients.append(client)
    return clients, users, group


# (a) ------------------------------------------------------------------------------


async def test_people_on_two_hosts_chat_exactly_once_in_order(restored):
    cluster = restored

    async def scenario() -> None:
        clients, users, group = await clients_on_both_hosts(cluster)
        sockets = [client.socket for client in clients]
        try:
            assert [cluster.role_of(s) for s in sockets] == ["a", "a", "b", "b"]

            # Everyone sends at once: over the socket, and one in three over
            # REST through nginx (to whichever process it picks).
            async def send_all(client: Client, user: tuple[str, str]) -> None:
                for index in range(MESSAGES_EACH):
                    client_id = f"{client.name}-{index}"
                    text = f"{client.name} says {index}"
                    if index % 3 == 2:
                        message = await post_message(
                            cluster.nginx, user[1], user[0], group, text, client_id
                        )
                        client.acked[client_id] = message
                    else:
                        client.unacked[client_id] = text
                        await client.send_frame(client_id, text)

            await asyncio.gather(*(send_all(c, t) for c, t in zip(clients, users, strict=True)))
            for client in clients:
                await client.settle()
            stored = await history(cluster.nginx, users[0][1], group)
            total = len(clients) * MESSAGES_EACH
            assert [m["seq"] for m in stored] == list(range(1, total + 1))

            def live_ids(client: Client) -> list[str]:
                return [f["message"]["id"] for f in client.socket.of_type("message.new", group)]

            # Everyone else's messages come live (the own ones at least in the
            # ack). An event that overtook an earlier one waits for it up to
            # realtime/ordering.py's REORDER_WAIT, so this waits (bounded).
            for client in clients:
                others = {
                    m["id"] for m in stored if not m["clientMessageId"].startswith(client.name)
                }
                await client.socket.wait_for(
                    f"the {len(others)} messages of the others",
                    lambda c=client, o=others: o <= set(live_ids(c)),
                )
            # Then anything still on its way (a duplicate) arrives before the checks.
            for sender in sockets:
                await barrier(sender, [s for s in sockets if s is not sender], group)
            await asyncio.sleep(REORDER_WAIT * 2)

            assert_everyone_holds_history(clients, stored, MESSAGES_EACH)
            for client in clients:
                ids = live_ids(client)
                assert len(ids) == len(set(ids)), f"{client.name} got a message twice"
                versions = [f["version"] for f in client.socket.of_type("message.new", group)]
                assert versions == sorted(versions), f"{client.name}: out of order {versions}"
                assert not client.socket.of_type("error"), client.socket.of_type("error")
                assert client.reconnects == 0
            assert cluster.served_http() == {"a", "b"}, "nginx sent API requests to one host only"
            # The layer's keys (groups, process queues) are on both shards.
            for url in cluster.shards:
                with redis.Redis.from_url(url) as shard:
                    assert shard.keys("scaleout*"), f"nothing of the layer on {url}"
        finally:
            await close_all(sockets)

    await scenario_bounded(cluster, scenario)


# (b) ------------------------------------------------------------------------------


async def test_host_killed_its_clients_move_to_the_other_host(restored):
    cluster = restored
    per_client = 12

    async def scenario() -> None:
        clients, users, group = await clients_on_both_hosts(cluster)
        try:

            async def kill_host_a_midway() -> None:
                await asyncio.sleep(per_client * 0.04 / 2)
                for server in cluster.servers_of("a"):
                    await asyncio.to_thread(server.kill)

            await asyncio.gather(*(c.chat(per_client, 0.04) for c in clients), kill_host_a_midway())
            for client in clients:
                await client.settle()
            for client in clients:
                await socket_sync(client.socket, group, client.held_version())
            stored = await history(cluster.nginx, users[0][1], group)
            assert_everyone_holds_history(clients, stored, per_client)
            assert [c.reconnects for c in clients] == [1, 1, 0, 0]
            assert [cluster.role_of(c.socket) for c in clients] == ["b"] * 4
            assert not cluster.servers_of("a"), "host A still runs a process"
            for server in cluster.servers_of("b"):
                log = server.log()
                crash = log.find(CRASH)
                assert crash < 0, f"B:{server.port} crashed:\n{log[crash : crash + 4000]}"
        finally:
            for client in clients:
                await client.close()

    await scenario_bounded(cluster, scenario)


# (c) ------------------------------------------------------------------------------


async def test_host_cut_from_redis_closes_its_sockets_and_they_move(restored):
    cluster = restored
    per_client = 6

    async def scenario() -> None:
        clients, users, group = await clients_on_both_hosts(cluster)
        dee_id, dee_token = users[3]
        try:
            # Before the cut: everyone holds two messages.
            for index in range(2):
                await post_message(
                    cluster.nginx, dee_token, dee_id, group, f"before {index}", f"pre-{index}"
                )
            for client in clients:
                await client.socket.wait_for(
                    "the messages before the cut", lambda c=client: c.held_version() >= 2
                )
            cut_sockets = [client.socket for client in clients[:2]]
            cluster.net.hosts["a"].cut_from(cluster.net.redis_address)
            cut_at = asyncio.get_running_loop().time()
            # B's people keep talking; A's cannot hear them any more.
            talk = asyncio.gather(*(c.chat(per_client, 0.1) for c in clients[2:]))
            for socket in cut_sockets:
                code = await wait_closed(socket, timeout=UNREACHABLE_SECONDS + 6)
                assert code == CLOSE_UNAVAILABLE, socket.summary()
            closed_after = asyncio.get_running_loop().time() - cut_at
            print(f"host A's sockets closed with 4503 {closed_after:.1f} s after the cut")
            for server in cluster.servers_of("a"):
                status, body = await asyncio.to_thread(http_json, "GET", server.url + "/readyz")
                checks = {c["name"]: c["ok"] for c in json.loads(body)["checks"]}
                assert status == 503 and checks == {"database": True, "channel layer": False}
            await talk
            # A's clients reconnect through nginx until they land on B, sync, and talk.
            await asyncio.gather(*(c.chat(per_client, 0.02) for c in clients[:2]))
            for client in clients:
                await client.settle()
            assert [c.reconnects for c in clients] == [1, 1, 0, 0]
            assert [cluster.role_of(c.socket) for c in clients] == ["b"] * 4
            for client in clients:
                await socket_sync(client.socket, group, client.held_version())
            stored = await history(cluster.nginx, users[0][1], group)
            assert len(stored) == 2 + len(clients) * per_client
            for client in clients:
                assert_view_is_history(client.view(), stored, client.name)
            assert len(cluster.servers_of("a")) == 2, "the cut killed a process of host A"
        finally:
            for client in clients:
                await client.close()

    await scenario_bounded(cluster, scenario)
