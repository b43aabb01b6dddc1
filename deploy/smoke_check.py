"""Smoke check of a running chat deployment, through its public address.

    python deploy/smoke_check.py https://chat.example.com
    SMOKE_STAFF_PASSWORD=... python deploy/smoke_check.py https://chat.example.com \
        --staff-user admin --expect-processes 4

What it does, and fails (exit 1) on the first thing that does not work:
1. GET /healthz (the process is up) and /readyz (database, channel layer round trip).
2. Signs up two new users, `smoke-<random>-a` and `-b` (deactivate them in
   the admin afterwards), and creates their direct conversation (REST).
3. Opens --sockets WebSockets at /ws/chat/ with `Authorization: Bearer`,
   alternating between the two users: through a load balancer they land on
   different server processes.
4. Sends a message over REST and waits until every socket gets it as
   `message.new`: the live path across processes (channel layer) works.
5. With --staff-user (password in SMOKE_STAFF_PASSWORD), while the sockets
   are still open: signs in to the admin and reads /admin/status/, printing
   the layer, its checks and the sockets per process; fails on a failing
   check, a warning, or fewer than --expect-processes processes with sockets.

Needs Python 3.11 and the `websockets` package (in the app's virtualenv).
"""

import argparse
import asyncio
import html
import http.cookiejar
import json
import os
import re
import secrets
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import websockets


class CheckFailed(Exception):
    pass


class Client:
    def __init__(self, base_url: str, context: ssl.SSLContext | None) -> None:
        self.base_url = base_url.rstrip("/")
        self.context = context
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=context),
            urllib.request.HTTPCookieProcessor(self.cookies),
        )

    def request(
        self,
        method: str,
        path: str,
        body: dict | None = None,
        token: str | None = None,
        form: dict | None = None,
        headers: dict | None = None,
    ) -> tuple[int, dict, str]:
        headers = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers=headers
        )
        try:
            with self.opener.open(request, timeout=15) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode(errors="replace")

    def json(self, method: str, path: str, expect: tuple[int, ...], **kwargs) -> dict:
        status, _, text = self.request(method, path, **kwargs)
        if status not in expect:
            raise CheckFailed(f"{method} {path}: HTTP {status}: {text[:500]}")
        return json.loads(text)

    def cookie(self, name: str) -> str:
        return next((c.value for c in self.cookies if c.name == name), "")


def step(text: str) -> None:
    print(f"ok   {text}", flush=True)


def sign_up_pair(client: Client) -> tuple[list[dict], dict]:
    """Two new users (id, token) and their direct conversation."""
    prefix = f"smoke-{secrets.token_hex(4)}"
    users = []
    for suffix in ("a", "b"):
        account = client.json(
            "POST",
            "/api/auth/signup",
            (200, 201),
            body={
                "username": f"{prefix}-{suffix}",
                "password": secrets.token_urlsafe(18),
                "displayName": f"Smoke check {suffix.upper()}",
            },
        )
        users.append({"id": str(account["user"]["id"]), "token": account["token"]})
    alice, bob = users
    step(f"signed up {prefix}-a (id {alice['id']}) and {prefix}-b (id {bob['id']})")
    conversation = client.json(
        "POST", "/api/conversations", (200, 201), body={"users": [bob["id"]]}, token=alice["token"]
    )
    step(f"conversation {conversation['id']} (REST)")
    return users, conversation


def send(client: Client, sender: dict, conversation: dict, text: str) -> dict:
    return client.json(
        "POST",
        "/api/messages",
        (200, 201),
        body={"conversationId": str(conversation["id"]), "sender": sender["id"], "text": text},
        token=sender["token"],
    )


def ws_url_for(base_url: str) -> str:
    parsed = urllib.parse.urlsplit(base_url)
    return f"{'wss' if parsed.scheme == 'https' else 'ws'}://{parsed.netloc}/ws/chat/"


async def open_socket(ws_url: str, token: str, context: ssl.SSLContext | None):
    """A socket authenticated by its token, with the Origin a browser on the
    site would send (the server refuses origins outside ALLOWED_HOSTS)."""
    parsed = urllib.parse.urlsplit(ws_url)
    origin = f"{'https' if parsed.scheme == 'wss' else 'http'}://{parsed.netloc}"
    return await websockets.connect(
        ws_url,
        additional_headers={"Authorization": f"Bearer {token}"},
        origin=origin,
        ssl=context,
        open_timeout=15,
    )


async def wait_for_message(socket, text: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CheckFailed(f"no message.new with the text {text!r} within {timeout} s")
        frame = json.loads(await asyncio.wait_for(socket.recv(), remaining))
        if frame.get("type") == "message.new" and frame.get("message", {}).get("text") == text:
            return frame


def status_page(client: Client, user: str, password: str, expect_processes: int) -> None:
    status, _, page = client.request("GET", "/admin/login/?next=/admin/status/")
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if status != 200 or not match:
        raise CheckFailed(f"GET /admin/login/: HTTP {status}, no sign-in form")
    status, _, page = client.request(
        "POST",
        "/admin/login/?next=/admin/status/",
        form={
            "csrfmiddlewaretoken": match.group(1),
            "username": user,
            "password": password,
            "next": "/admin/status/",
        },
        headers={
            "Referer": client.base_url + "/admin/login/",
            "Origin": client.base_url,
            "X-CSRFToken": client.cookie("csrftoken"),
        },
    )
    if status != 200 or "<h2>Open sockets" not in page:
        raise CheckFailed(f"the staff status page did not open (HTTP {status}): wrong password?")
    backend = re.search(r"<h2>Channel layer</h2>\s*<p>(.*?)</p>", page, re.S)
    print("     status page: " + html.unescape(re.sub(r"<[^>]+>", "", backend.group(1))))
    checks = re.findall(
        r"<tr><td>([^<]+)</td><td>(✔ ok|✘ failing)</td><td>(.*?)</td><td>(.*?)</td></tr>", page
    )
    for name, result, detail, took in checks:
        print(f"     {name}: {result} {html.unescape(detail)} {took}")
    processes = re.findall(r"<tr><td><code>([^<]+)</code></td><td>(\d+)</td></tr>", page)
    for process, sockets in processes:
        print(f"     process {process}: {sockets} socket(s)")
    warnings = re.findall(r'<p class="errornote" role="alert">(.*?)</p>', page, re.S)
    for warning in warnings:
        print(f"     WARNING {html.unescape(warning)}")
    if not checks or any(result != "✔ ok" for _, result, _, _ in checks):
        raise CheckFailed("a check on the status page is failing")
    if warnings:
        raise CheckFailed("the status page shows a warning")
    if len(processes) < expect_processes:
        raise CheckFailed(
            f"sockets are open on {len(processes)} process(es), expected {expect_processes}"
        )
    step(f"staff status page: checks ok, sockets on {len(processes)} process(es)")


async def run(args: argparse.Namespace) -> None:
    context = None
    if args.base_url.startswith("https://"):
        context = ssl.create_default_context(cafile=args.cafile)
    client = Client(args.base_url, context)
    ws_url = ws_url_for(client.base_url)

    if client.json("GET", "/healthz", (200,)) != {"status": "ok"}:
        raise CheckFailed("/healthz did not say ok")
    step("/healthz 200")
    ready = client.json("GET", "/readyz", (200, 503))
    details = ", ".join(f"{c['name']} {'ok' if c['ok'] else 'FAILING'}" for c in ready["checks"])
    if ready["status"] != "ok":
        raise CheckFailed(f"/readyz 503: {details}")
    step(f"/readyz 200: {details}")

    users, conversation = sign_up_pair(client)
    alice = users[0]

    sockets = []
    try:
        for index in range(args.sockets):
            sockets.append(await open_socket(ws_url, users[index % 2]["token"], context))
        step(f"{len(sockets)} WebSocket(s) open at {ws_url}")

        text = f"smoke check {secrets.token_hex(6)}"
        sent_at = time.perf_counter()
        send(client, alice, conversation, text)
        frames = await asyncio.gather(
            *(wait_for_message(socket, text, args.timeout) for socket in sockets)
        )
        took = (time.perf_counter() - sent_at) * 1000
        seqs = {frame["message"]["seq"] for frame in frames}
        step(
            f"message sent over REST reached all {len(frames)} socket(s) as message.new "
            f"(seq {sorted(seqs)}) in {took:.0f} ms"
        )
        if args.staff_user:
            password = os.environ.get("SMOKE_STAFF_PASSWORD", "")
            if not password:
                raise CheckFailed("--staff-user needs the password in SMOKE_STAFF_PASSWORD")
            await asyncio.to_thread(
                status_page, client, args.staff_user, password, args.expect_processes
            )
    finally:
        for socket in sockets:
            await socket.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base_url", help="the public address, e.g. https://chat.example.com")
    parser.add_argument("--sockets", type=int, default=4, help="WebSockets to open (default 4)")
    parser.add_argument("--timeout", type=float, default=10, help="seconds to wait for delivery")
    parser.add_argument("--cafile", help="CA certificate to trust (a self-signed test setup)")
    parser.add_argument("--staff-user", help="a superuser: also read /admin/status/")
    parser.add_argument(
        "--expect-processes",
        type=int,
        default=1,
        help="with --staff-user: fail unless sockets are open on at least this many processes",
    )
    args = parser.parse_args()
    try:
        asyncio.run(run(args))
    except (CheckFailed, OSError, TimeoutError, websockets.WebSocketException) as error:
        print(f"FAIL {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print("smoke check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
