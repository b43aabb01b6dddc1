"""Driving the web app in Chromium with Playwright's sync API, for the
browser tests (tests/e2e): the live server, a person signed up in a browser
context of their own, the watch on every page's console, and the steps
several scenarios share. The fixtures are tests/e2e/conftest.py's.

Every wait is bounded (TIMEOUT, in milliseconds, unless a caller says otherwise).
"""

import json
import os
import re
import urllib.request
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlparse

from playwright.sync_api import BrowserContext, Page, WebSocketRoute, expect

from tests.support.live_server import ROOT, Deployment, Server

TIMEOUT = 5000  # ms: the bound of every wait unless a test says otherwise
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DESKTOP = {"width": 1000, "height": 700}
PASSWORD = "Quiet-river-2718"

RECONNECT_TIMEOUT = 15000  # ms: backoff (at most 10 s) after a restart
WEBSOCKET_FAILED = re.compile(r"WebSocket connection to 'ws://127\.0\.0\.1:\d+/ws/chat/' failed")
# A page closed with 4401 asks whether it is still signed in: no (401/403).
SIGN_IN_CHECK_REFUSED = re.compile(r"Failed to load resource: .* status of 40[13]")
# The screenshots in docs/ (README.md, docs/web.md) are refreshed with CHAT_UPDATE_SCREENSHOTS=1; an
# ordinary run writes them to test-results/ and leaves the tree unchanged.
SCREENSHOTS = ROOT / (
    "docs" if os.environ.get("CHAT_UPDATE_SCREENSHOTS") == "1" else "test-results"
)

expect.set_options(timeout=TIMEOUT)


@dataclass
class Live:
    deployment: Deployment
    server: Server

    @property
    def url(self) -> str:
        return self.server.url

    def api(
        self, method: str, path: str, body: dict | None = None, token: str | None = None
    ) -> dict | list | None:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        with urllib.request.urlopen(request, timeout=5) as response:
            content = response.read()
        return json.loads(content) if content else None

    def shell(self, code: str) -> str:
        """Run `code` in the deployment's `manage.py shell` (the ORM on its
        database): test data the API cannot make, such as old messages."""
        return self.deployment.manage("shell", "-c", code)


@dataclass
class BrowserLog:
    """Console errors, uncaught exceptions and dialogs of every page of a test."""

    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    allowed: list[re.Pattern] = field(default_factory=list)

    def watch(self, page: Page, who: str) -> None:
        def on_console(message) -> None:
            if message.type == "error":
                self.errors.append(f"{who} console: {message.text}")

        def on_dialog(dialog) -> None:
            self.dialogs.append(f"{who} {dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.errors.append(f"{who} pageerror: {error}"))
        page.on("dialog", on_dialog)

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]


@dataclass
class Person:
    username: str
    name: str
    id: str
    context: BrowserContext
    page: Page

    def open(self, path: str) -> None:
        """Open a page of the app and wait until its live socket is connected."""
        self.page.goto(path)
        expect(self.page.locator("#connection")).to_have_attribute("data-state", "online")

    def send(self, text: str, *, keys: bool = False) -> None:
        """Put `text` in the composer (with `keys`, typed key by key, newlines
        with Shift+Enter), press Enter and wait until the server acknowledged it."""
        composer = self.page.locator("#composer-text")
        if keys:
            for number, line in enumerate(text.split("\n")):
                if number:
                    composer.press("Shift+Enter")
                composer.press_sequentially(line)
        else:
            composer.fill(text)
        composer.press("Enter")
        expect(composer).to_have_value("")
        wait_for_message(self.page, text)
        expect(self.page.locator("#message-list li.pending")).to_have_count(0)


@dataclass
class ApiUser:
    """Someone who uses the API only (no browser): cheaper than a sign-up page."""

    username: str
    name: str
    id: str
    token: str


def sign_up_over_api(live: Live, name: str) -> ApiUser:
    username = f"{name.split()[0].lower()}{uuid.uuid4().hex[:8]}"
    body = {"username": username, "password": PASSWORD, "displayName": name}
    answer = live.api("POST", "/api/auth/signup", body)
    return ApiUser(username, name, answer["user"]["id"], answer["token"])


def api_token(live: Live, person: "Person") -> str:
    body = {"username": person.username, "password": PASSWORD}
    return live.api("POST", "/api/auth/token", body)["token"]


def conversation_id(path: str) -> str:
    match = re.search(r"/c/(\d+)/", path)
    assert match, path
    return match.group(1)


def post_message(live: Live, token: str, sender: "Person | ApiUser", path: str, text: str) -> dict:
    """`sender` posts `text` over REST (no browser involved); the stored message."""
    body = {"conversationId": conversation_id(path), "sender": sender.id, "text": text}
    return live.api("POST", "/api/messages", body, token=token)


def page_data(page: Page) -> dict:
    return json.loads(page.locator("#page-data").text_content())


def wait_for_message(page: Page, text: str, timeout: float = TIMEOUT) -> None:
    """Wait until a delivered (not pending) message shows exactly `text`."""
    page.wait_for_function(
        """text => [...document.querySelectorAll('#message-list li.message:not(.pending) .text')]
            .some(item => item.textContent === text)""",
        arg=text,
        timeout=timeout,
    )


def pick_people(page: Page, people: list["Person"]) -> None:
    """In the open picker dialog, find each of `people` by username (the
    server's search) and choose them."""
    search = page.locator("#picker-search")
    for other in people:
        search.fill(other.username)
        option = page.locator("#picker-results [role=option]").filter(has_text=f"@{other.username}")
        option.click()
        expect(option).to_have_attribute("aria-selected", "true")


def start_conversation(person: Person, *others: Person, title: str = "") -> str:
    """`person` starts a conversation with `others` (one: direct, more: a group
    named `title`) through the "New" button's picker; returns the conversation's
    path (where the browser now is, without a reload)."""
    page = person.page
    if page.locator("#new-conversation").count() == 0:  # not on the chat page
        page.goto("/")
    page.locator("#new-conversation").click()
    expect(page.locator("#picker")).to_be_visible()
    pick_people(page, list(others))
    if title:
        page.locator("#picker-group-title").fill(title)
    page.locator("#picker-submit").click()
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    expected = title or (others[0].name if len(others) == 1 else None)
    if expected:
        expect(page.locator("#chat-title")).to_have_text(expected)
    return urlparse(page.url).path


def log_out(page: Page) -> None:
    """Sign out with the header's user menu (opened first: the button is inside it)."""
    page.locator("details.user-menu summary").click()
    page.get_by_role("button", name="Log out").click()


def unread_badge(page: Page, path: str):
    row = page.locator(f'li.conversation-row[data-conversation-id="{conversation_id(path)}"]')
    return row.locator(".unread")


def conversation_row(page: Page, path: str):
    return page.locator(f'li.conversation-row[data-conversation-id="{conversation_id(path)}"]')


class SocketSwitch:
    """Routes a browser context's sockets through Playwright so that a test can
    cut them, as a network drop would, while the server keeps running
    (`set_offline` leaves open sockets alone). While cut, every new socket is
    closed at once with 1006, as a connection that cannot be made."""

    def __init__(self, context: BrowserContext) -> None:
        self.up = True
        self.routes: list[WebSocketRoute] = []
        context.route_web_socket(re.compile(r"/ws/chat/$"), self.route)

    def route(self, socket: WebSocketRoute) -> None:
        if self.up:
            socket.connect_to_server()
            self.routes.append(socket)
        else:
            socket.close(code=1006)

    def cut(self) -> None:
        self.up = False
        for socket in self.routes:
            socket.close(code=1006)
        self.routes.clear()

    def restore(self) -> None:
        self.up = True


def no_sideways_scroll(page: Page) -> None:
    """The page is no wider than its viewport."""
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.viewport_size["width"]
    assert width <= viewport, f"{page.url} is {width} px wide at {viewport} px"


# Every Notification the page makes, recorded instead of shown; the
# permission stays the browser's (granted in the context).
RECORD_NOTIFICATIONS = """
window.__notifications = [];
const RealNotification = window.Notification;
class RecordedNotification extends EventTarget {
  constructor(title, options = {}) {
    super();
    window.__notifications.push({ title, body: options.body, tag: options.tag });
  }
  close() {}
  static get permission() { return RealNotification.permission; }
  static requestPermission() { return RealNotification.requestPermission(); }
}
window.Notification = RecordedNotification;
"""
# document.visibilityState under the test's control: hide_tab() flips it and
# fires visibilitychange, as switching to another tab would.
CONTROLLABLE_VISIBILITY = """
window.__hidden = false;
Object.defineProperty(Document.prototype, "visibilityState", {
  get() { return window.__hidden ? "hidden" : "visible"; }, configurable: true });
Object.defineProperty(Document.prototype, "hidden", {
  get() { return window.__hidden; }, configurable: true });
"""


def message_texts(page: Page) -> list[str]:
    return page.eval_on_selector_all(
        "#message-list li.message:not(.pending) .text",
        "items => items.map(item => item.textContent)",
    )


def message_item(page: Page, text: str):
    return page.locator("#message-list li.message").filter(
        has=page.locator(".text", has_text=re.compile(f"^{re.escape(text)}$"))
    )


def notifications(page: Page) -> list[dict]:
    return page.evaluate("window.__notifications")


def hide_tab(page: Page) -> None:
    page.evaluate("window.__hidden = true; document.dispatchEvent(new Event('visibilitychange'))")


def watch_notifications(live: Live, person: Person) -> None:
    """From the next page load on: notifications allowed and recorded."""
    person.context.grant_permissions(["notifications"], origin=live.url)
    person.context.add_init_script(RECORD_NOTIFICATIONS)
    person.context.add_init_script(CONTROLLABLE_VISIBILITY)
