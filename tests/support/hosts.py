"""Several hosts on one machine, for tests/integration/test_scale_out.py and
bench/scaleout/: network namespaces joined by veth pairs to a bridge in the
root namespace (10.x addresses that exist only on this machine).
Host A and host B run daphne processes, host C runs a PostgreSQL server and
Redis servers of their own, and nginx on a host of its own (the load
balancer, "lb") balances HTTP and sockets across A and B
(deploy/nginx-multihost.conf, deploy/README.md "Several hosts"). Clients run
in the root namespace, which reaches every host over the bridge.

Everything is created by `network()` and removed when its `with` block ends,
however it ends (SIGTERM included): every process runs in a namespace and
is killed with it, then the namespaces, the bridge and the work directory
are deleted. A run killed outright (SIGKILL) leaves them behind: the next
run deletes those whose process is gone.
Needs root and iproute2 (`reason_unavailable()` says why not).
"""

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis

from tests.support.live_server import (
    ROOT,
    STARTUP_SECONDS,
    Deployment,
    Server,
    base_env,
)

IP = shutil.which("ip")
NGINX = shutil.which("nginx")
REDIS_SERVER = shutil.which("redis-server")
SETPRIV = shutil.which("setpriv")
POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
PREFIX = "so"  # of every namespace and interface name: so<pid><role>
ROLES = {"lb": 10, "a": 11, "b": 12, "c": 13}  # host -> last byte of its address
WORK_PREFIX = "scaleout-"  # of the work directory: scaleout-<pid>-<random>
DAPHNE_PORTS = (8001, 8002)
POSTGRES_PORT = 5432
REDIS_PORTS = (6379, 6380)
# Direct connections, not a proxy from the environment.
HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def run(*command: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=check)


def reason_unavailable() -> str | None:
    """Why namespaced hosts cannot be built here, or None when they can."""
    missing = [
        name
        for name, path in (
            ("ip (iproute2)", IP),
            ("nginx", NGINX),
            ("redis-server", REDIS_SERVER),
            ("setpriv", SETPRIV),
            ("PostgreSQL 15", shutil.which("postgres", path=str(POSTGRES_BIN))),
        )
        if not path
    ]
    if missing:
        return f"{', '.join(missing)} missing (apt-get install -y iproute2 nginx-light)"
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns add)"
    probe = f"{PREFIX}{os.getpid()}probe"
    created = run(IP, "netns", "add", probe, check=False)
    if created.returncode != 0:
        return f"`ip netns add` failed: {created.stderr.strip()}"
    run(IP, "netns", "delete", probe, check=False)
    return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def kill_namespace_processes(netns: str) -> None:
    """SIGKILL what runs in `netns`: only processes this module started there."""
    pids = run(IP, "netns", "pids", netns, check=False).stdout.split()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)


def remove_leftovers() -> None:
    """Namespaces and bridges of earlier runs whose process is gone (killed
    before its cleanup ran)."""
    own = re.compile(rf"^{PREFIX}(\d+)({'|'.join(ROLES)}|br)$")
    names = run(IP, "netns", "list", check=False).stdout.split()
    links = re.findall(r"^\d+: ([^:@]+)", run(IP, "-o", "link").stdout, re.M)
    for name in names:
        found = own.match(name)
        if found and not pid_alive(int(found.group(1))):
            kill_namespace_processes(name)
            run(IP, "netns", "delete", name, check=False)
    for link in links:
        found = own.match(link)
        if found and not pid_alive(int(found.group(1))):
            run(IP, "link", "delete", link, check=False)
    for work_dir in Path(tempfile.gettempdir()).glob(f"{WORK_PREFIX}*-*"):
        owner = work_dir.name.removeprefix(WORK_PREFIX).split("-")[0]
        if owner.isdigit() and not pid_alive(int(owner)):
            shutil.rmtree(work_dir, ignore_errors=True)


def free_subnet() -> str:
    """The first 10.213.N.0/24 no interface on this machine uses, as "10.213.N"."""
    used = run(IP, "-4", "-o", "addr").stdout
    for third in range(256):
        subnet = f"10.213.{third}"
        if f" {subnet}." not in used:
            return subnet
    raise RuntimeError("no free 10.213.N.0/24 subnet")


@dataclass
class Host:
    """One namespace: its name, its address on the bridge, its root-side veth."""

    role: str  # a key of ROLES
    netns: str
    address: str
    veth: str

    def command(self, *command: str) -> list[str]:
        return [IP, "netns", "exec", self.netns, *command]

    def cut_from(self, address: str) -> None:
        """Drop every packet between this host and `address`, both ways and
        silently (no reset, no ICMP): a partition from that one peer, as a
        firewall's DROP makes one. Other peers stay reachable."""
        for selector in ("to", "from"):
            run(*self.command(IP, "rule", "add", selector, address, "blackhole"))

    def reconnect_to(self, address: str) -> None:
        for selector in ("to", "from"):
            run(*self.command(IP, "rule", "del", selector, address, "blackhole"), check=False)


@dataclass
class HostServer(Server):
    """A daphne process listening on a host's address (live_server.Server
    listens on 127.0.0.1 of the root namespace)."""

    host: Host | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host.address}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host.address}:{self.port}/ws/chat/"


@dataclass
class Network:
    subnet: str
    bridge: str
    hosts: dict[str, Host] = field(default_factory=dict)
    work_dir: Path = Path()
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def gateway(self) -> str:
        return f"{self.subnet}.1"

    @property
    def redis_address(self) -> str:
        """Host C's second address, Redis's own, so that a host can be cut
        from Redis and not from PostgreSQL."""
        return f"{self.subnet}.23"

    def popen(self, host: Host, command: list[str], log: Path, **kwargs) -> subprocess.Popen:
        with log.open("w") as output:
            process = subprocess.Popen(
                host.command(*command), stdout=output, stderr=subprocess.STDOUT, **kwargs
            )
        self.processes.append(process)
        return process


def build(network: Network) -> None:
    run(IP, "link", "add", network.bridge, "type", "bridge")
    run(IP, "addr", "add", f"{network.gateway}/24", "dev", network.bridge)
    run(IP, "link", "set", network.bridge, "up")
    for role, last_byte in ROLES.items():
        name = f"{PREFIX}{os.getpid()}{role}"
        host = Host(role, name, f"{network.subnet}.{last_byte}", name)
        network.hosts[role] = host
        run(IP, "netns", "add", name)
        run(IP, "link", "add", name, "type", "veth", "peer", "name", "eth0", "netns", name)
        run(IP, "link", "set", name, "master", network.bridge)
        run(IP, "link", "set", name, "up")
        for step in (
            ("link", "set", "lo", "up"),
            ("addr", "add", f"{host.address}/24", "dev", "eth0"),
            ("link", "set", "eth0", "up"),
        ):
            run(*host.command(IP, *step))
    c = network.hosts["c"]
    run(*c.command(IP, "addr", "add", f"{network.redis_address}/24", "dev", "eth0"))


def tear_down(network: Network) -> None:
    for process in network.processes:
        if process.poll() is None:
            process.kill()
    for process in network.processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
    for host in network.hosts.values():
        kill_namespace_processes(host.netns)  # PostgreSQL's and nginx's children
        run(IP, "netns", "delete", host.netns, check=False)
        run(IP, "link", "delete", host.veth, check=False)
    run(IP, "link", "delete", network.bridge, check=False)


def terminated(signum, frame) -> None:
    raise SystemExit(f"terminated by signal {signum}")


@contextlib.contextmanager
def network() -> Iterator[Network]:
    """The bridge and hosts a, b, c, deleted at the end with all they ran."""
    remove_leftovers()
    work_dir = Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{os.getpid()}-"))
    net = Network(free_subnet(), f"{PREFIX}{os.getpid()}br", work_dir=work_dir)
    # SIGTERM (a CI timeout, `kill`) would end Python without running the
    # cleanup below: made an exception, it does.
    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        build(net)
        yield net
    finally:
        tear_down(net)
        shutil.rmtree(work_dir, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous)


# Host C: PostgreSQL and Redis ------------------------------------------------------


def wait_until(what: str, ready, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.1)


def start_postgres(net: Network) -> str:
    """A PostgreSQL server of its own on host C (initdb into the work
    directory, run as the postgres user, no durability: a test database);
    returns the URL of its `postgres` database."""
    host = net.hosts["c"]
    data = net.work_dir / "postgres"
    data.mkdir()
    shutil.chown(data, "postgres", "postgres")
    os.chmod(net.work_dir, 0o755)
    as_postgres = [SETPRIV, "--reuid=postgres", "--regid=postgres", "--init-groups"]
    initdb = [str(POSTGRES_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]
    subprocess.run(
        [*as_postgres, *initdb, "--no-sync", "-E", "UTF8"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    with (data / "pg_hba.conf").open("a") as hba:
        hba.write(f"host all all {net.subnet}.0/24 trust\n")
    log = net.work_dir / "postgres.log"
    server = [str(POSTGRES_BIN / "postgres"), "-D", str(data), "-k", str(data)]
    listen = ["-h", host.address, "-p", str(POSTGRES_PORT)]
    no_durability = ["-c", "fsync=off", "-c", "synchronous_commit=off"]
    process = net.popen(host, [*as_postgres, *server, *listen, *no_durability], log)
    url = f"postgres://postgres@{host.address}:{POSTGRES_PORT}/postgres"

    def ready() -> bool:
        try:
            with psycopg.connect(url, connect_timeout=1):
                return True
        except psycopg.OperationalError:
            return False

    wait_until("PostgreSQL on host C", ready, process, log)
    return url


def start_redis(net: Network, port: int) -> str:
    """A redis-server on host C without persistence; returns its URL."""
    host = net.hosts["c"]
    log = net.work_dir / f"redis-{port}.log"
    address = net.redis_address
    command = [REDIS_SERVER, "--bind", address, "--port", str(port), "--save", ""]
    command += ["--appendonly", "no", "--dir", str(net.work_dir), "--protected-mode", "no"]
    process = net.popen(host, command, log)
    client = redis.Redis(host=address, port=port, socket_connect_timeout=1)

    def ready() -> bool:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    wait_until(f"Redis :{port} on host C", ready, process, log)
    client.close()
    return f"redis://{address}:{port}/0"


# Hosts A and B: daphne ------------------------------------------------------------


@dataclass
class HostDeployment(Deployment):
    """A Deployment whose servers run in a host's namespace, on its address."""

    net: Network | None = None

    def start_on(self, host: Host, port: int) -> HostServer:
        log_path = self.work_dir / f"daphne-{host.role}-{port}-{len(self.servers)}.log"
        command = [sys.executable, "-m", "daphne", "-b", host.address, "-p", str(port)]
        command += ["chatproject.asgi:application"]
        process = self.net.popen(host, command, log_path, cwd=ROOT, env=self.env)
        server = HostServer(port, process, log_path, host)
        self.servers.append(server)

        def ready() -> bool:
            with contextlib.suppress(OSError), HTTP.open(f"{server.url}/healthz", timeout=1) as r:
                return r.status == 200
            return False

        wait_until(f"daphne {host.address}:{port}", ready, process, log_path)
        return server

    def restart_on(self, server: HostServer) -> HostServer:
        server.kill()
        return self.start_on(server.host, server.port)


def server_env(net: Network, database_url: str, redis_url: str, **overrides: str) -> dict:
    """Production settings (DJANGO_DEBUG off) behind nginx; rate limits off
    (every test user comes from one address; they are not under test)."""
    allowed = ["127.0.0.1", *(host.address for host in net.hosts.values())]
    return base_env(
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="scale-out-test-" + uuid.uuid4().hex * 2,
        DJANGO_ALLOWED_HOSTS=",".join(allowed),
        # nginx here speaks plain HTTP on loopback; in production it terminates TLS.
        DJANGO_SECURE_SSL_REDIRECT="0",
        DJANGO_SECURE_COOKIES="0",
        CHAT_TRUSTED_PROXIES="1",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        CHANNEL_LAYER_PREFIX="scaleout",
        CHAT_RATE_MESSAGE_SEND="off",
        CHAT_RATE_AUTH_IP="off",
        CHAT_RATE_AUTH_USERNAME="off",
        CHAT_RATE_SOCKET_FRAMES="off",
        CHAT_RATE_CONVERSATION_CREATE="off",
        **overrides,
    )


# nginx ----------------------------------------------------------------------------

NGINX_CONF = ROOT / "deploy" / "nginx-multihost.conf"


def start_nginx(net: Network, upstreams: list[HostServer]) -> HostServer:
    """nginx on the load balancer's host, port 80, with
    deploy/nginx-multihost.conf's upstream and locations, the servers of A
    and B as its upstreams. Its access log names the upstream of each request."""
    lb = net.hosts["lb"]
    conf = NGINX_CONF.read_text()
    servers = "".join(
        f"    server {server.host.address}:{server.port} max_fails=1 fail_timeout=5s;\n"
        for server in upstreams
    )
    conf = re.sub(r"^ +server \S+:\d+ .*\n", "", conf, flags=re.M)
    conf = conf.replace("upstream chat_hosts {\n", "upstream chat_hosts {\n" + servers)
    conf = conf.replace("listen 80;", f"listen {lb.address}:80;")
    work = net.work_dir / "nginx"
    work.mkdir(exist_ok=True)
    access_log = work / "access.log"
    conf = conf.replace("/var/log/nginx/chat-hosts.access.log", str(access_log))
    main = (
        f"daemon off;\nworker_processes 1;\npid {work}/nginx.pid;\n"
        f"error_log {work}/error.log info;\nevents {{ worker_connections 4096; }}\n"
        f"http {{\n  client_body_temp_path {work};\n  proxy_temp_path {work};\n"
        f"  fastcgi_temp_path {work};\n  uwsgi_temp_path {work};\n  scgi_temp_path {work};\n"
        f"{conf}\n}}\n"
    )
    (work / "nginx.conf").write_text(main)
    command = [NGINX, "-c", str(work / "nginx.conf"), "-p", str(work)]
    process = net.popen(lb, command, work / "stdout.log")
    server = HostServer(80, process, access_log, lb)

    def ready() -> bool:
        with contextlib.suppress(OSError), HTTP.open(f"{server.url}/healthz", timeout=1) as r:
            return r.status == 200
        return False

    wait_until("nginx", ready, process, work / "error.log")
    return server
