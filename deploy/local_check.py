"""Runs the deploy/ configuration on this machine and checks it end to end.

    .venv/bin/python deploy/local_check.py                      # daphne, Redis at REDIS_URL
    .venv/bin/python deploy/local_check.py --server uvicorn
    .venv/bin/python deploy/local_check.py --sentinel --failover crash
    .venv/bin/python deploy/local_check.py --sentinel --failover planned

What it starts, all on 127.0.0.1 and all stopped at the end:
- a PostgreSQL database of its own on the server at DATABASE_URL (default
  postgres://postgres@127.0.0.1:5432/postgres), migrated, dropped at the end;
- the channel layer on the Redis at REDIS_URL (default 127.0.0.1:6379/0)
  under a prefix of its own; or, with --sentinel, a private Redis master,
  replica and sentinel (never the shared Redis), the layer configured with
  REDIS_SENTINELS;
- N server processes (--processes, default 2) run with the ExecStart
  command of deploy/chat@.service (daphne, or its uvicorn alternative),
  with production settings: DJANGO_DEBUG=0, static files collected;
- nginx with deploy/nginx.conf itself, rewritten only for local ports, a
  self-signed certificate for "localhost" and temporary paths (`nginx -c`
  with a prefix in a temporary directory: /etc/nginx is not touched).

Then it checks, through nginx: the HTTP to HTTPS redirect and the probes on
plain HTTP, a page over HTTPS, static files from nginx, the 413 envelope,
attachments (a 5 MB upload passes, a 10.5 MB one gets the app's 413 and an
11.6 MB one nginx's; downloads authorized by the app and sent by nginx from
CHAT_ATTACHMENTS_DIR through X-Accel-Redirect with the app's type,
disposition and CSP, nosniff, the internal location closed to clients),
deploy/smoke_check.py (sockets on every process, a REST message delivered to
all, the staff status page), the 503 envelope once every server is stopped;
with --failover, it kills the Redis master (crash) or asks the sentinel to
hand over (planned, SENTINEL FAILOVER), checks that sockets open across it
get the next message (live, or after a 4503 close, a reconnect and a sync),
and runs the smoke check again.

Needs: nginx (apt-get install nginx), openssl, PostgreSQL, and Redis or
redis-server for --sentinel.
"""

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import shlex
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(DEPLOY))

import smoke_check as smoke  # noqa: E402
import websockets  # noqa: E402

from tests.support.live_server import free_port, postgres_deployment  # noqa: E402

HOST = "localhost"
STAFF_USER, STAFF_PASSWORD = "local-check-admin", "local-check-password-7f3a"


def log(text: str) -> None:
    print(f"[local_check] {text}", flush=True)


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    log("$ " + shlex.join(command))
    return subprocess.run(command, check=True, **kwargs)


# Server processes: the commands of deploy/chat@.service --------------------------


def unit_command(server: str, port: int) -> list[str]:
    """The unit's ExecStart (daphne) or its commented alternative (uvicorn),
    with the virtualenv of this Python and the instance's port."""
    unit = (DEPLOY / "chat@.service").read_text()
    lines = re.findall(r"^#?ExecStart=(\S+/bin/(\S+) .*)$", unit, re.M)
    command = next(line for line, program in lines if program == server)
    binary_dir = Path(sys.executable).parent
    command = re.sub(r"^\S+/bin/", f"{binary_dir}/", command).replace("%i", str(port))
    return shlex.split(command)


def wait_http(url: str, headers: dict, context=None, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        with contextlib.suppress(OSError):
            request = urllib.request.Request(url, headers=headers)
            with urllib.request.urlopen(request, timeout=1, context=context) as response:
                if response.status == 200:
                    return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer 200 within {seconds} s")
        time.sleep(0.2)


# nginx: deploy/nginx.conf with local ports and paths --------------------------------


def env_example() -> dict[str, str]:
    """deploy/chat.env.example's KEY=VALUE lines."""
    lines = (DEPLOY / "chat.env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if re.match(r"^[A-Z][A-Z0-9_]*=", line))


def substitute(text: str, old: str, new: str, count: int | None = None) -> str:
    found = text.count(old)
    if not found or (count is not None and found != count):
        raise RuntimeError(f"deploy/nginx.conf changed: {old!r} found {found} time(s)")
    return text.replace(old, new)


def local_site(work: Path, ports: list[int], http_port: int, https_port: int) -> str:
    site = (DEPLOY / "nginx.conf").read_text()
    site = substitute(site, "listen 80;", f"listen 127.0.0.1:{http_port};", 1)
    site = substitute(site, "listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;", 1)
    site = substitute(site, "    listen [::]:80;\n", "", 1)
    site = substitute(site, "    listen [::]:443 ssl http2;\n", "", 1)
    site = substitute(
        site, "/etc/letsencrypt/live/chat.example.com/fullchain.pem", str(work / "cert.pem"), 1
    )
    site = substitute(
        site, "/etc/letsencrypt/live/chat.example.com/privkey.pem", str(work / "key.pem"), 1
    )
    site = substitute(site, "server_name chat.example.com;", f"server_name {HOST};", 2)
    site = substitute(site, "/var/log/nginx/chat.access.log", str(work / "chat.access.log"), 2)
    site = substitute(site, "/srv/chat/app/staticfiles/", f"{work / 'static'}/", 2)
    # The internal location and its directory are chat.env.example's.
    example = env_example()
    accel_prefix, directory = (
        example["CHAT_ATTACHMENT_ACCEL_PREFIX"],
        example["CHAT_ATTACHMENTS_DIR"],
    )
    if site.count(f"location {accel_prefix} {{") != 1:
        raise RuntimeError(f"deploy/nginx.conf has no location {accel_prefix} (chat.env.example)")
    site = substitute(site, f"alias {directory}/;", f"alias {work / 'attachments'}/;", 1)
    servers = re.findall(r"^    server 127\.0\.0\.1:800\d (.*);$", site, re.M)
    if len(servers) != 2:
        raise RuntimeError("deploy/nginx.conf changed: expected two upstream servers")
    lines = "".join(f"    server 127.0.0.1:{port} {servers[0]};\n" for port in ports)
    site = re.sub(r"(^    server 127\.0\.0\.1:800\d .*;\n)+", lambda _: lines, site, flags=re.M)
    return site


def nginx_main(work: Path) -> Path:
    """A main nginx.conf around the site, everything under `work`."""
    temp = work / "nginx-temp"
    temp.mkdir()
    user = "user root;\n" if os.geteuid() == 0 else ""
    main = work / "nginx.conf"
    main.write_text(
        f"{user}worker_processes 2;\npid {work / 'nginx.pid'};\n"
        f"error_log {work / 'nginx-error.log'} info;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        "    include /etc/nginx/mime.types;\n"
        "    default_type application/octet-stream;\n"
        f"    access_log {work / 'nginx-access.log'};\n"
        + "".join(
            f"    {kind}_temp_path {temp / kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + f"    include {work / 'chat-site.conf'};\n"
        "}\n"
    )
    return main


@contextlib.contextmanager
def nginx(work: Path, site: str) -> Iterator[None]:
    (work / "chat-site.conf").write_text(site)
    main = nginx_main(work)
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    run([binary, "-t", "-q", "-p", str(work), "-c", str(main)])
    log(f"$ {binary} -p {work} -c {main} -g 'daemon off;'")
    process = subprocess.Popen(
        [binary, "-p", str(work), "-c", str(main), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        process.terminate()  # SIGTERM: nginx's fast shutdown
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# A private Redis Sentinel -------------------------------------------------------------


def redis_answers(port: int) -> bool:
    from redis import Redis

    try:
        with Redis(port=port, socket_timeout=0.5) as client:
            return client.ping()
    except Exception:
        return False


class Sentinel:
    """A Redis master, its replica and one sentinel watching them, private."""

    NAME = "local-check"

    def __init__(self, work: Path) -> None:
        self.work = work
        self.processes: list[subprocess.Popen] = []
        self.master_port, self.replica_port, self.port = free_port(), free_port(), free_port()

    def redis(self, name: str, port: int, *extra: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [
                *("redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""),
                *("--appendonly", "no", "--dir", str(self.work)),
                *("--logfile", str(self.work / f"{name}.log"), *extra),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.processes.append(process)
        deadline = time.monotonic() + 10
        while not redis_answers(port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis {name} did not start on {port}")
            time.sleep(0.05)
        return process

    def start(self) -> None:
        self.master = self.redis("master", self.master_port, "--repl-diskless-sync-delay", "0")
        self.redis("replica", self.replica_port, "--replicaof", "127.0.0.1", str(self.master_port))
        config = self.work / "sentinel.conf"
        config.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.work}\n"
            f"logfile {self.work / 'sentinel.log'}\n"
            f"sentinel monitor {self.NAME} 127.0.0.1 {self.master_port} 1\n"
            f"sentinel down-after-milliseconds {self.NAME} 1000\n"
            f"sentinel failover-timeout {self.NAME} 10000\n"
        )
        command = ["redis-server", str(config), "--sentinel"]
        log("$ " + shlex.join(command))
        self.processes.append(
            subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )
        deadline = time.monotonic() + 20
        while not self.replica_known():
            if time.monotonic() > deadline:
                raise RuntimeError("the sentinel did not see the replica in sync")
            time.sleep(0.1)
        log(
            f"Redis master :{self.master_port}, replica :{self.replica_port}, "
            f"sentinel :{self.port} monitoring {self.NAME!r}"
        )

    def sentinel_command(self, *args: str):
        from redis import Redis

        with Redis(port=self.port, socket_timeout=2, decode_responses=True) as client:
            return client.execute_command("SENTINEL", *args)

    def replica_known(self) -> bool:
        try:
            replicas = self.sentinel_command("replicas", self.NAME)
        except Exception:
            return False
        for replica in replicas:
            if not isinstance(replica, dict):  # RESP2: [key, value, key, value, ...]
                replica = dict(zip(replica[::2], replica[1::2], strict=True))
            if replica.get("master-link-status") == "ok":
                return True
        return False

    def current_master_port(self) -> int:
        return int(self.sentinel_command("get-master-addr-by-name", self.NAME)[1])

    def fail_master(self, how: str) -> None:
        """Kills the master (crash) or asks the sentinel for a failover
        (planned), and waits until the replica is promoted."""
        started = time.monotonic()
        if how == "crash":
            self.master.kill()
            self.master.wait(timeout=10)
        else:
            self.sentinel_command("failover", self.NAME)
        while self.current_master_port() != self.replica_port:
            if time.monotonic() - started > 30:
                raise RuntimeError("the sentinel did not promote the replica")
            time.sleep(0.1)
        log(
            f"{how} failover: the sentinel promoted :{self.replica_port} "
            f"in {time.monotonic() - started:.1f} s"
        )
        if how == "planned":
            # Until the sentinel turns the old master into a replica (its next
            # check, up to 10 s) it still takes writes: wait, so that what
            # follows runs against the new master alone.
            from redis import Redis

            with Redis(port=self.master_port, socket_timeout=2) as old:
                while old.info("replication")["role"] != "slave":
                    if time.monotonic() - started > 60:
                        raise RuntimeError("the old master was not demoted")
                    time.sleep(0.2)
            log(f"the old master was demoted after {time.monotonic() - started:.1f} s")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


def forget_keys(redis_url: str, prefix: str) -> None:
    """Deletes this run's keys (and only those) from the shared Redis."""
    from redis import Redis

    with Redis.from_url(redis_url, socket_timeout=5) as client:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)


# Checks through nginx ---------------------------------------------------------------


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url: str, context=None, data: bytes | None = None, headers: dict | None = None):
    """(status, headers, body) without following redirects."""
    opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPSHandler(context=context))
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def expect(condition: bool, what: str, detail: object = "") -> None:
    if not condition:
        raise RuntimeError(f"FAILED: {what} {detail}")
    log(f"ok: {what}")


def check_through_nginx(
    work: Path, http_base: str, https_base: str, context: ssl.SSLContext
) -> None:
    status, headers, _ = fetch(f"{http_base}/conversations/?x=1")
    expect(
        status == 301 and headers["Location"] == f"https://{HOST}/conversations/?x=1",
        "plain HTTP is redirected to HTTPS",
        (status, headers.get("Location")),
    )
    status, _, body = fetch(f"{http_base}/readyz")
    expect(status == 200 and json.loads(body)["status"] == "ok", "/readyz on plain HTTP", body)

    status, headers, body = fetch(f"{https_base}/accounts/login/", context)
    expect(status == 200 and b"<form" in body, "the login page over HTTPS", status)
    expect(
        headers.get("Strict-Transport-Security", "").startswith("max-age="),
        "HSTS from Django (it sees HTTPS through X-Forwarded-Proto)",
    )
    request_id = headers.get("X-Request-ID", "")
    # nginx writes its log line once the response is sent: it may lag a moment.
    deadline = time.monotonic() + 5
    while f"request_id={request_id}" not in (work / "chat.access.log").read_text():
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    expect(
        bool(request_id) and f"request_id={request_id}" in (work / "chat.access.log").read_text(),
        "nginx's request id is the app's (X-Request-ID, nginx's access log)",
        request_id,
    )
    _, headers, _ = fetch(f"{https_base}/healthz", context, headers={"X-Request-ID": "mine-1234"})
    expect(headers.get("X-Request-ID") == "mine-1234", "a client's X-Request-ID is kept")
    css = re.search(rb'href="(/static/chat/site\.[0-9a-f]{12}\.css)"', body)
    expect(css is not None, "the page links the hashed CSS of collectstatic's manifest")
    status, headers, _ = fetch(https_base + css.group(1).decode(), context)
    expect(
        status == 200 and "immutable" in headers.get("Cache-Control", ""),
        "a hashed static file from nginx, cached as immutable",
        (status, headers.get("Cache-Control")),
    )
    status, headers, _ = fetch(f"{https_base}/static/chat/live.js", context)
    expect(
        status == 200 and headers.get("Cache-Control") == "max-age=60",
        "an unhashed static file from nginx, cached for 60 s",
        (status, headers.get("Cache-Control")),
    )

    json_headers = {"Content-Type": "application/json"}
    big = json.dumps({"text": "x" * 300_000}).encode()
    status, headers, body = fetch(f"{https_base}/api/messages", context, big, json_headers)
    envelope = json.loads(body)
    expect(
        status == 413 and envelope["error"]["code"] == "payload_too_large",
        "a 300 KB body: 413 in the error envelope (nginx)",
        (status, body[:200]),
    )
    small = json.dumps({"text": "x" * 200_000}).encode()
    status, headers, body = fetch(f"{https_base}/api/messages", context, small, json_headers)
    expect(
        status == 401 and json.loads(body)["error"]["code"] == "not_authenticated",
        "a 200 KB body reaches the app (401 without a token)",
        (status, body[:200]),
    )


def multipart_file(name: str, content: bytes) -> tuple[bytes, dict]:
    """A multipart/form-data body with one part `file`, and its Content-Type header."""
    boundary = secrets.token_hex(16)
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    )
    body = head.encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def png_bytes() -> bytes:
    import io

    from PIL import Image

    output = io.BytesIO()
    Image.new("RGB", (64, 48), "teal").save(output, "PNG")
    return output.getvalue()


def check_attachments(
    work: Path, https_base: str, context: ssl.SSLContext, server_port: int
) -> None:
    """Uploads through nginx's upload location, downloads handed to nginx
    with X-Accel-Redirect (deploy/README.md "Attachments")."""
    client = smoke.Client(https_base, context)
    (uploader, peer), conversation = smoke.sign_up_pair(client)

    def upload(token: str, name: str, content: bytes):
        body, headers = multipart_file(name, content)
        url = f"{https_base}/api/conversations/{conversation['id']}/attachments"
        return fetch(url, context, body, {**headers, "Authorization": f"Bearer {token}"})

    def download(token: str, path: str):
        return fetch(https_base + path, context, headers={"Authorization": f"Bearer {token}"})

    text = b"".join(b"line %07d of a five megabyte text file\n" % n for n in range(125_000))
    status, _, body = upload(uploader["token"], "notes.txt", text)
    expect(status == 201, f"a {len(text) / 1e6:.1f} MB upload passes nginx", (status, body[:200]))
    notes = json.loads(body)
    status, _, body = upload(uploader["token"], "chart.png", png_bytes())
    expect(status == 201, "an image upload", (status, body[:200]))
    chart = json.loads(body)
    for size, code, who in (
        (10_500_000, "attachment_too_large", "app"),
        (11_600_000, "payload_too_large", "nginx"),
    ):
        status, _, body = upload(uploader["token"], "big.bin", b"\0" * size)
        expect(
            status == 413 and json.loads(body)["error"]["code"] == code,
            f"a {size / 1e6:.1f} MB upload: 413 {code} ({who})",
            (status, body[:200]),
        )

    stored = sorted((work / "attachments" / str(conversation["id"])).iterdir())
    expect(
        [path.read_bytes() == text for path in stored].count(True) == 1,
        "the text file is stored under CHAT_ATTACHMENTS_DIR",
        [path.name for path in stored],
    )
    status, _, body = download(peer["token"], notes["url"])
    expect(status == 404, "an upload not sent yet: 404 for anyone but its uploader", status)

    status, headers, body = download(uploader["token"], notes["url"])
    expect(status == 200 and body == text, "the file downloaded through nginx", status)
    expect("X-Accel-Redirect" not in headers, "the app's X-Accel-Redirect is not passed on")
    expect(headers.get("X-Content-Type-Options") == "nosniff", "nosniff", dict(headers))
    expect(
        headers.get("Content-Type") == "text/plain; charset=utf-8"
        and headers.get("Content-Disposition") == 'attachment; filename="notes.txt"',
        "the app's Content-Type and Content-Disposition (attachment) are kept",
        (headers.get("Content-Type"), headers.get("Content-Disposition")),
    )
    expect(
        "sandbox" in headers.get("Content-Security-Policy", "")
        and headers.get("X-Frame-Options") == "DENY"
        and headers.get("Cache-Control") == "private, max-age=3600",
        "the app's CSP (sandbox), X-Frame-Options and Cache-Control are kept",
        dict(headers),
    )
    direct = urllib.request.Request(
        f"http://127.0.0.1:{server_port}{notes['url']}",
        headers={
            "Host": HOST,
            "X-Forwarded-Proto": "https",
            "Authorization": f"Bearer {uploader['token']}",
        },
    )
    with urllib.request.urlopen(direct, timeout=10) as response:
        accel, app_body = response.headers.get("X-Accel-Redirect", ""), response.read()
    expect(
        accel.startswith(f"/_attachments/{conversation['id']}/") and app_body == b"",
        "the app itself sends no bytes, only X-Accel-Redirect",
        (accel, len(app_body)),
    )
    status, _, _ = fetch(https_base + accel, context)
    expect(status == 404, "the internal location is not reachable from outside", status)

    message = client.json(
        "POST",
        "/api/messages",
        (200, 201),
        body={
            "conversationId": str(conversation["id"]),
            "sender": uploader["id"],
            "text": "",
            "attachments": [notes["id"], chart["id"]],
        },
        token=uploader["token"],
    )
    expect(len(message["attachments"]) == 2, "the files sent in a message")
    status, headers, body = download(peer["token"], chart["url"])
    expect(
        status == 200
        and body.startswith(b"\x89PNG")
        and headers.get("Content-Type") == "image/png"
        and headers.get("Content-Disposition") == 'inline; filename="chart.png"',
        "a member downloads the image through nginx, inline",
        (status, headers.get("Content-Type"), headers.get("Content-Disposition")),
    )
    status, headers, body = download(peer["token"], chart["thumbnailUrl"])
    expect(
        status == 200 and body[8:12] == b"WEBP" and headers.get("Content-Type") == "image/webp",
        "its thumbnail through nginx",
        (status, headers.get("Content-Type")),
    )


async def socket_across_failover(
    https_base: str, context: ssl.SSLContext, sentinel: "Sentinel", how: str
) -> None:
    """Sockets open while the Redis master dies. Their server's blocking read
    on the dead master fails, so it closes them with 4503 (docs/operations.md "Faults")
    unless the promotion came first; a client then reconnects, which reaches
    the new master through the sentinel, and syncs. Either way each of them
    ends up with the message sent after the failover."""
    client = smoke.Client(https_base, context)
    users, conversation = smoke.sign_up_pair(client)
    ws_url = smoke.ws_url_for(https_base)
    sockets = [await smoke.open_socket(ws_url, users[i % 2]["token"], context) for i in range(4)]
    outcomes = []
    try:
        await asyncio.to_thread(sentinel.fail_master, how)
        text = "sent after the failover"
        await asyncio.to_thread(smoke.send, client, users[0], conversation, text)
        for index, socket in enumerate(sockets):
            try:
                await smoke.wait_for_message(socket, text, 10)
                outcomes.append("live")
            except websockets.ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else None
                expect(code == 4503, f"socket {index} closed with 4503", code)
                socket = await smoke.open_socket(ws_url, users[index % 2]["token"], context)
                sockets[index] = socket
                sync = {"type": "sync", "conversationId": conversation["id"], "sinceVersion": 0}
                await socket.send(json.dumps(sync))
                await smoke.wait_for_message(socket, text, 10)
                outcomes.append("closed 4503, reconnected, synced")
    finally:
        for socket in sockets:
            await socket.close()
    summary = ", ".join(f"{outcomes.count(o)} {o}" for o in dict.fromkeys(outcomes))
    log(f"ok: 4 sockets open across the failover got the message sent after it: {summary}")


async def foreign_origin_refused(https_base: str, context: ssl.SSLContext) -> None:
    try:
        socket = await websockets.connect(
            smoke.ws_url_for(https_base), origin="https://evil.example", ssl=context
        )
    except websockets.InvalidStatus as refused:
        status = refused.response.status_code
        expect(status == 403, "a socket from a foreign Origin is refused through nginx", status)
    else:
        await socket.close()
        expect(False, "a socket from a foreign Origin is refused through nginx")


def smoke_check(https_base: str, cafile: Path, processes: int) -> None:
    command = [sys.executable, str(DEPLOY / "smoke_check.py"), https_base]
    command += ["--cafile", str(cafile), "--sockets", str(2 * processes)]
    command += ["--staff-user", STAFF_USER, "--expect-processes", str(processes)]
    run(command, env={**os.environ, "SMOKE_STAFF_PASSWORD": STAFF_PASSWORD}, cwd=ROOT)


# Main -------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", choices=("daphne", "uvicorn"), default="daphne")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--sentinel", action="store_true", help="a private Redis Sentinel")
    parser.add_argument(
        "--failover",
        choices=("crash", "planned"),
        help="with --sentinel: fail the Redis master over, then check again",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    if args.failover and not args.sentinel:
        parser.error("--failover needs --sentinel")

    postgres_url = os.environ.get("DATABASE_URL", "")
    if not postgres_url.startswith("postgres"):
        postgres_url = "postgres://postgres@127.0.0.1:5432/postgres"
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"

    work = Path(tempfile.mkdtemp(prefix="chat-local-check-"))
    work.chmod(0o755)  # nginx's workers read the static files and certificate
    log(f"working in {work}")
    sentinel = Sentinel(work) if args.sentinel else None
    servers: list[subprocess.Popen] = []
    prefix = ""  # the layer's and the cache's keys in the shared Redis
    try:
        if sentinel:
            sentinel.start()
            redis_url = ""
        with postgres_deployment(work, postgres_url, redis_url) as deployment:
            https_port, http_port = free_port(), free_port()
            https_base, http_base = f"https://{HOST}:{https_port}", f"http://{HOST}:{http_port}"
            # Production settings, with STATIC_ROOT moved into the work directory.
            (work / "local_check_settings.py").write_text(
                "from chatproject.settings import *  # noqa: F403\n"
                f"STATIC_ROOT = {str(work / 'static')!r}\n"
            )
            env = deployment.env
            prefix = "" if sentinel else env["CHANNEL_LAYER_PREFIX"]
            env.update(
                DJANGO_SETTINGS_MODULE="local_check_settings",
                PYTHONPATH=os.pathsep.join([str(work), str(ROOT)]),
                DJANGO_DEBUG="0",
                DJANGO_ALLOWED_HOSTS=HOST,
                CSRF_TRUSTED_ORIGINS=https_base,
                CHAT_TRUSTED_PROXIES="1",
                DJANGO_SUPERUSER_USERNAME=STAFF_USER,
                DJANGO_SUPERUSER_PASSWORD=STAFF_PASSWORD,
                DJANGO_SUPERUSER_EMAIL="admin@example.com",
                CHAT_ATTACHMENTS_DIR=str(work / "attachments"),
                CHAT_ATTACHMENT_ACCEL_PREFIX=env_example()["CHAT_ATTACHMENT_ACCEL_PREFIX"],
            )
            if sentinel:
                env.update(
                    REDIS_SENTINELS=f"127.0.0.1:{sentinel.port}",
                    REDIS_SENTINEL_MASTER=Sentinel.NAME,
                )
            log("manage.py collectstatic --no-input; createsuperuser --no-input")
            deployment.manage("collectstatic", "--no-input", "-v0")
            deployment.manage("createsuperuser", "--no-input")

            ports = [free_port() for _ in range(args.processes)]
            for port in ports:
                command = unit_command(args.server, port)
                log("$ " + shlex.join(command))
                with (work / f"{args.server}-{port}.log").open("w") as output:
                    servers.append(
                        subprocess.Popen(
                            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
                        )
                    )
            for port in ports:
                wait_http(f"http://127.0.0.1:{port}/readyz", {"Host": HOST})
            log(f"{len(ports)} {args.server} processes ready on ports {ports}")

            certificate = [
                *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
                *("-subj", f"/CN={HOST}", "-addext", f"subjectAltName=DNS:{HOST}"),
                *("-keyout", str(work / "key.pem"), "-out", str(work / "cert.pem")),
            ]
            run(certificate, capture_output=True)
            context = ssl.create_default_context(cafile=str(work / "cert.pem"))
            with nginx(work, local_site(work, ports, http_port, https_port)):
                wait_http(f"{https_base}/healthz", {}, context)
                check_through_nginx(work, http_base, https_base, context)
                check_attachments(work, https_base, context, ports[0])
                asyncio.run(foreign_origin_refused(https_base, context))
                smoke_check(https_base, work / "cert.pem", args.processes)
                if sentinel and args.failover:
                    asyncio.run(
                        socket_across_failover(https_base, context, sentinel, args.failover)
                    )
                    smoke_check(https_base, work / "cert.pem", args.processes)
                for server in servers:
                    server.terminate()
                    server.wait(timeout=20)
                status, headers, body = fetch(f"{https_base}/api/users", context)
                expect(
                    status == 503
                    and json.loads(body)["error"]["code"] == "service_unavailable"
                    and headers.get("Retry-After") == "5",
                    "every server stopped: /api/ answers 503 in the envelope (nginx)",
                    (status, body[:200]),
                )
        log("all checks passed")
        return 0
    except Exception as error:
        log(f"FAILED: {type(error).__name__}: {error}")
        for path in sorted(work.glob("*.log")):
            tail = path.read_text(errors="replace").splitlines()[-15:]
            print(f"--- {path.name}\n" + "\n".join(tail), file=sys.stderr)
        return 1
    finally:
        for server in servers:
            if server.poll() is None:
                server.kill()
                server.wait(timeout=10)
        if sentinel:
            sentinel.stop()
        if prefix:
            forget_keys(redis_url, prefix)
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
