"""Browser end-to-end tests: real people's flows through the web pages.

One SQLite deployment and one daphne process serve the whole module (started
by `tests.support.live_server`), Debian's Chromium is driven by Playwright's sync API,
and every person is a fresh browser context that signs up through the sign-up
page. The server has its own database, so no test here asks pytest-django for
the test database (no `db` fixture, no `django_db` mark): Django's test DB is
never created for this module.

Every wait is bounded (TIMEOUT, or less where the contract says so), and any
console error, uncaught page error or JavaScript dialog fails the test, except
the WebSocket connection failures that the restart scenario causes on purpose.
The fixtures are tests/e2e/conftest.py's, the plumbing tests/support/browser.py.
"""

import json
import re
import time
import uuid
from collections.abc import Callable

from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    WebSocketRoute,
    expect,
)

from tests.support.browser import (
    PASSWORD,
    RECONNECT_TIMEOUT,
    SCREENSHOTS,
    SIGN_IN_CHECK_REFUSED,
    TIMEOUT,
    WEBSOCKET_FAILED,
    BrowserLog,
    Live,
    Person,
    SocketSwitch,
    api_token,
    conversation_id,
    conversation_row,
    log_out,
    no_sideways_scroll,
    post_message,
    start_conversation,
    unread_badge,
    wait_for_message,
)
from tests.support.live_server import ROOT

LIVE_DELIVERY = 2000  # ms: from the sender's ack to the message on the other's page
PHONE = {"width": 375, "height": 667}
# Chromium closes a page's sockets when the page enters the back/forward cache.
WEBSOCKET_CACHED = re.compile(r"WebSocket connection to .* failed: Page entered Back-Forward Cache")

RESULTS = ROOT / "test-results"


# -- plumbing -------------------------------------------------------------------


def message_texts(page: Page) -> list[str]:
    return page.eval_on_selector_all(
        "#message-list li.message .text", "items => items.map(item => item.textContent)"
    )


def count_text(page: Page, text: str) -> int:
    return message_texts(page).count(text)


# -- scenarios ------------------------------------------------------------------


def test_sign_up_start_conversation_and_chat_live(sign_up):
    ann, ben = sign_up("Ann Able"), sign_up("Ben Baker")
    path = start_conversation(ann, ben)
    expect(ann.page.locator("#connection")).to_have_attribute("data-state", "online")
    ben.open(path)
    expect(ben.page.locator("#chat-title")).to_have_text(ann.name)
    ben.page.evaluate("window.__sameDocument = true")
    ann.page.evaluate("window.__sameDocument = true")

    # Ann's send returns once the server acknowledged it; the server pushes
    # the message to Ben at the same moment, so it is live on his page well
    # within LIVE_DELIVERY (a margin for a loaded machine, not a race with
    # Ann's typing speed, which is Playwright's).
    ann.send("Hello Ben!", keys=True)
    wait_for_message(ben.page, "Hello Ben!", timeout=LIVE_DELIVERY)
    ben_message = ben.page.locator("#message-list li.message").last
    expect(ben_message.locator(".sender")).to_have_text(ann.name)
    expect(ben_message).not_to_have_class(re.compile(r"\bmine\b"))

    ben.send("Hi Ann, got it.", keys=True)
    wait_for_message(ann.page, "Hi Ann, got it.", timeout=LIVE_DELIVERY)
    expect(ann.page.locator("#message-list li.message").last.locator(".sender")).to_have_text(
        ben.name
    )

    # Shift+Enter is a newline inside one message; Enter sends it.
    ann.send("first line\nsecond line", keys=True)
    wait_for_message(ben.page, "first line\nsecond line")
    for page in (ann.page, ben.page):
        assert message_texts(page) == ["Hello Ben!", "Hi Ann, got it.", "first line\nsecond line"]
        text = page.locator("#message-list li.message .text").last
        assert text.inner_text().splitlines() == ["first line", "second line"]
        one_line = page.locator("#message-list li.message .text").first.bounding_box()
        assert text.bounding_box()["height"] > 1.5 * one_line["height"]
        # Neither page reloaded.
        assert page.evaluate("window.__sameDocument") is True


def test_unread_badge_rises_live_and_clears_after_reading(sign_up):
    ann, ben = sign_up("Ann Able"), sign_up("Ben Baker")
    path = start_conversation(ann, ben)
    expect(ann.page.locator("#connection")).to_have_attribute("data-state", "online")
    ben.open("/")
    badge = unread_badge(ben.page, path)
    expect(badge).to_have_attribute("data-count", "0")
    expect(badge).to_be_hidden()

    ann.send("one")
    expect(badge).to_have_attribute("data-count", "1")
    expect(badge).to_be_visible()
    expect(badge).to_have_text(re.compile(r"^1\b"))
    ann.send("two")
    expect(badge).to_have_attribute("data-count", "2")
    expect(badge).to_have_text(re.compile(r"^2\b"))
    row = ben.page.locator(f'li.conversation-row[data-conversation-id="{conversation_id(path)}"]')
    expect(row.locator(".last-message")).to_have_text("two")

    expect(ben.page).to_have_title("(2) Chat")

    # Opening it (no reload: the sidebar stays) reads it: the badge and the count go.
    row.locator("a").click()
    ben.page.wait_for_url(f"**{path}")
    wait_for_message(ben.page, "two")
    assert message_texts(ben.page) == ["one", "two"]
    expect(badge).to_have_attribute("data-count", "0")
    expect(badge).to_be_hidden()
    expect(ben.page).to_have_title(f"{ann.name} · Chat")
    # The read mark is the server's: Back to the list, then a fresh page, still 0.
    ben.page.go_back()
    ben.page.wait_for_url(re.compile(r"^http://[^/]+/$"))
    expect(ben.page.locator("#chat")).to_be_hidden()
    ben.open("/")
    badge = unread_badge(ben.page, path)
    expect(badge).to_have_attribute("data-count", "0")
    expect(badge).to_be_hidden()
    expect(ben.page).to_have_title("Chat")


def received_typing(page: Page, path: str, user: Person) -> list[bool]:
    """Reopen `path` on `page` and record, in order, the `active` of every
    typing frame of `user` that its new socket receives."""
    actives: list[bool] = []

    def on_frame(payload: str | bytes) -> None:
        frame = json.loads(payload)
        if frame.get("type") == "typing" and frame.get("userId") == user.id:
            actives.append(frame["active"])

    page.on("websocket", lambda socket: socket.on("framereceived", on_frame))
    page.goto(path)
    expect(page.locator("#connection")).to_have_attribute("data-state", "online")
    return actives


def test_typing_indicator(pair):
    ann, ben, path = pair
    bens_typing = received_typing(ann.page, path, ben)
    typing = ann.page.locator("#typing")
    expect(typing).to_have_text("")
    composer = ben.page.locator("#composer-text")

    # Shown while Ben types, hidden as soon as he sends.
    composer.press_sequentially("hel")
    expect(typing).to_have_text(f"{ben.name} is typing…")
    composer.press_sequentially("lo")
    composer.press("Enter")
    wait_for_message(ann.page, "hello")
    expect(typing).to_have_text("", timeout=1000)

    # Shown again when he types his next message right away (the server takes
    # one `active` per 2 s, so it may come a little late); hidden after he
    # stops, by his page's `active: false` after 3 s idle: not sooner (every
    # delay only makes it later, so 2.5 s is a safe floor), and not by Ann's
    # own 6 s expiry (the last typing frame she got is the `false`).
    composer.press_sequentially("still there?")
    stopped = time.monotonic()
    expect(typing).to_have_text(f"{ben.name} is typing…")
    expect(typing).to_have_text("", timeout=10000)
    assert time.monotonic() - stopped > 2.5
    assert bens_typing[-1] is False, bens_typing
    # His own page never shows his typing.
    expect(ben.page.locator("#typing")).to_have_text("")


def test_typing_indicator_stays_while_typing_continues(pair):
    """Someone typing a long message keeps showing as typing, not only for the
    first few seconds."""
    ann, ben, _ = pair
    typing = ann.page.locator("#typing")
    composer = ben.page.locator("#composer-text")
    composer.press_sequentially("a")
    expect(typing).to_have_text(f"{ben.name} is typing…")
    started = time.monotonic()
    while time.monotonic() - started < 9:
        composer.press_sequentially("b")
        ben.page.wait_for_timeout(400)
        expect(typing, f"hidden after {time.monotonic() - started:.1f} s of typing").to_have_text(
            f"{ben.name} is typing…", timeout=1
        )
    composer.fill("")
    expect(typing).to_have_text("")


def test_reload_shows_same_history_in_same_order(pair):
    ann, ben, _ = pair
    for sender, text in [
        (ann, "m1 from Ann"),
        (ben, "m2 from Ben"),
        (ann, "m3 two\nlines"),
        (ann, "m4   spaced   out  "),
        (ben, "m5 last"),
    ]:
        sender.send(text)
    wait_for_message(ann.page, "m5 last")
    wait_for_message(ben.page, "m4   spaced   out  ")
    for person in (ann, ben):
        before = message_texts(person.page)
        seqs = person.page.eval_on_selector_all(
            "#message-list li.message", "items => items.map(item => Number(item.dataset.seq))"
        )
        assert before == [
            "m1 from Ann",
            "m2 from Ben",
            "m3 two\nlines",
            "m4   spaced   out  ",
            "m5 last",
        ]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        person.open(person.page.url)
        assert message_texts(person.page) == before
        mine = person.page.eval_on_selector_all(
            "#message-list li.message",
            "items => items.map(item => item.classList.contains('mine'))",
        )
        assert mine == [
            (person is ann) == from_ann for from_ann in (True, False, True, True, False)
        ]


XSS_PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(2)</script>",
    '"><svg onload=alert(3)>',
]


def test_message_text_is_never_html(pair):
    ann, ben, path = pair
    for payload in XSS_PAYLOADS:
        ann.send(payload)
        wait_for_message(ben.page, payload)

    def check(page: Page) -> None:
        texts = message_texts(page)
        assert texts[-len(XSS_PAYLOADS) :] == XSS_PAYLOADS
        expect(page.locator("#message-list li.message").last).to_contain_text('"><svg onload')
        for tag in ("img", "script", "svg"):
            expect(page.locator(f"#message-list {tag}")).to_have_count(0)
        page.wait_for_timeout(200)  # an onerror would have fired by now

    check(ben.page)
    check(ann.page)
    # The server-rendered path: after a reload, and the inbox's last message.
    ben.open(path)
    check(ben.page)
    ben.open("/")
    expect(ben.page.locator(".last-message").first).to_have_text(XSS_PAYLOADS[-1])
    expect(ben.page.locator("#conversation-list img, #conversation-list svg")).to_have_count(0)
    ann.open("/")
    expect(ann.page.locator(".last-message").first).to_have_text(f"You: {XSS_PAYLOADS[-1]}")


def test_read_receipt(sign_up):
    ann, ben = sign_up("Ann Able"), sign_up("Ben Baker")
    path = start_conversation(ann, ben)
    expect(ann.page.locator("#connection")).to_have_attribute("data-state", "online")
    ann.send("did you read this?")
    seen = ann.page.locator("#seen")
    ann.page.wait_for_timeout(300)
    expect(seen).to_be_hidden()

    ben.open(path)
    expect(seen).to_be_visible()
    expect(seen).to_have_text("Seen")
    # "Seen" sits in the message it is about, my newest one.
    seen_in = (
        "document.getElementById('seen').closest('li.message').querySelector('.text').textContent"
    )
    assert ann.page.evaluate(seen_in) == "did you read this?"
    # Ben is on the page, so a newer message is seen as soon as it arrives.
    ann.send("and this one?")
    wait_for_message(ben.page, "and this one?")
    expect(seen).to_be_visible()
    expect(seen).to_have_text("Seen")
    assert ann.page.evaluate(seen_in) == "and this one?"
    # Ben's reply comes after it: "Seen" stays with Ann's message, not at the bottom.
    ben.send("yes, both")
    wait_for_message(ann.page, "yes, both")
    assert ann.page.evaluate(seen_in) == "and this one?"


def test_phone_width_has_no_horizontal_scroll(sign_up):
    ann = sign_up("Annabelle Featherstonehaugh-Worthington", viewport=PHONE)
    ben = sign_up("Ben Baker", viewport=PHONE)
    for page in (ann.page, ben.page):
        no_sideways_scroll(page)  # the inbox, empty
    path = start_conversation(ann, ben)
    expect(ann.page.locator("#connection")).to_have_attribute("data-state", "online")
    ann.send("A normal sentence that wraps over more than one line on a phone screen.")
    ann.send("x" * 150)
    ann.send("https://example.com/" + "very-long-path-segment/" * 6)
    ann.send("tab\tseparated\tand    many    spaces    in    a    row    here")
    ben.open(path)
    for person in (ann, ben):
        page = person.page
        no_sideways_scroll(page)
        expect(page.locator("#composer-text")).to_be_in_viewport(ratio=1)
        expect(page.get_by_role("button", name="Send")).to_be_in_viewport(ratio=1)
        box = page.locator("#composer-text").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        assert box["y"] + box["height"] <= PHONE["height"]
        person.open("/")
        no_sideways_scroll(page)
        expect(page.locator("li.conversation-row")).to_have_count(1)


def test_screenshots(sign_up):
    alice = sign_up("Alice Martin")
    bob = sign_up("Bob Chen", viewport={"width": 375, "height": 667})
    path = start_conversation(alice, bob)
    expect(alice.page.locator("#connection")).to_have_attribute("data-state", "online")
    bob.open(path)
    alice.send("Hi Bob! Are we still on for the design review at 3?")
    bob.send("Yes, I'll bring the updated mockups.")
    alice.send("Great. Two things to cover:\n1. the phone layout\n2. read receipts")
    wait_for_message(bob.page, "Great. Two things to cover:\n1. the phone layout\n2. read receipts")
    bob.send("Sounds good, see you then")
    bob.page.locator("#composer-text").press_sequentially("One more thing")
    expect(alice.page.locator("#typing")).to_have_text("Bob Chen is typing…")
    for who in (alice, bob):  # her own dot too: she started it without a reload
        expect(presence_dot(alice.page, who)).to_have_class(re.compile(r"\bonline\b"))
    expect(bob.page.locator("#seen")).to_be_visible()
    alice.page.locator("#composer-text").blur()  # no focus ring in the picture
    alice.page.mouse.move(0, 0)  # nor a hovered message's toolbar
    SCREENSHOTS.mkdir(exist_ok=True)
    alice.page.screenshot(path=str(SCREENSHOTS / "screenshot.png"))
    bob.page.screenshot(path=str(SCREENSHOTS / "screenshot-phone.png"))
    for name in ("screenshot.png", "screenshot-phone.png"):
        assert (SCREENSHOTS / name).stat().st_size > 10_000


def screenshot_at_both_widths(page: Page, name: str) -> None:
    """test-results/<name>-1280.png and <name>-375.png, for a person to look at."""
    viewport = page.viewport_size
    for width, height in ((1280, 800), (PHONE["width"], PHONE["height"])):
        page.set_viewport_size({"width": width, "height": height})
        RESULTS.mkdir(exist_ok=True)
        page.screenshot(path=str(RESULTS / f"{name}-{width}.png"))
    page.set_viewport_size(viewport)


def presence_dot(page: Page, user: Person):
    return page.locator(f'.members .dot[data-user-id="{user.id}"]')


def test_presence_dots(pair):
    ann, ben, _ = pair
    for page, other in ((ann.page, ben), (ben.page, ann)):
        expect(presence_dot(page, other)).to_have_class(re.compile(r"\bonline\b"))
    ann.context.close()
    expect(presence_dot(ben.page, ann)).not_to_have_class(re.compile(r"\bonline\b"))
    expect(presence_dot(ben.page, ben)).to_have_class(re.compile(r"\bonline\b"))


def test_reconnects_after_server_restart_and_catches_up(pair, live: Live, browser_log):
    ann, ben, _ = pair
    ann.send("before the crash")
    wait_for_message(ben.page, "before the crash")
    token = live.api("POST", "/api/auth/token", {"username": ann.username, "password": PASSWORD})[
        "token"
    ]
    browser_log.allowed.append(WEBSOCKET_FAILED)

    live.server.kill()
    for person in (ann, ben):
        expect(person.page.locator("#connection")).to_have_attribute("data-state", "offline")
    # Ben's network is down too until Ann's message is in, so that he can only
    # get it by catching up after his reconnect (not from the live push).
    ben.context.set_offline(True)
    live.server = live.deployment.restart_server(live.server)

    text = f"sent over REST while Ben was away {uuid.uuid4().hex[:6]}"
    live.api(
        "POST",
        "/api/messages",
        {"conversationId": conversation_id(ben.page.url), "sender": ann.id, "text": text},
        token=token,
    )
    ben.page.wait_for_timeout(300)
    expect(ben.page.locator("#connection")).not_to_have_attribute("data-state", "online")
    assert count_text(ben.page, text) == 0
    ben.context.set_offline(False)
    for person in (ann, ben):
        expect(person.page.locator("#connection")).to_have_attribute(
            "data-state", "online", timeout=RECONNECT_TIMEOUT
        )
        wait_for_message(person.page, text)
    ben.page.wait_for_timeout(500)  # a duplicate (live push + catch-up) would show by now
    for person in (ann, ben):
        assert message_texts(person.page) == ["before the crash", text]

    # The new process carries live traffic both ways.
    ben.send("back online")
    wait_for_message(ann.page, "back online", timeout=LIVE_DELIVERY)
    assert count_text(ann.page, "back online") == 1


def test_inbox_resyncs_when_shown_again_from_the_back_forward_cache(
    sign_up, live: Live, bfcache_browser: Browser, browser_log: BrowserLog
):
    browser_log.allowed.append(WEBSOCKET_CACHED)
    ann, cy = sign_up("Ann Able"), sign_up("Cy Cole")
    ben = sign_up("Ben Baker", in_browser=bfcache_browser)
    with_ann = start_conversation(ben, ann)
    with_cy = start_conversation(cy, ben)
    ben.open("/")
    ben.page.evaluate("window.__inboxDocument = true")
    conversation_row(ben.page, with_ann).locator("a").click()
    ben.page.wait_for_url(f"**{with_ann}")
    expect(ben.page.locator("#connection")).to_have_attribute("data-state", "online")

    post_message(live, api_token(live, cy), cy, with_cy, "posted while Ben was away")
    ben.page.go_back(wait_until="commit")  # a page from the cache fires no `load`
    ben.page.wait_for_url(re.compile(r"^http://[^/]+/$"), wait_until="commit")
    # The inbox came back from the back/forward cache (the same document)...
    assert ben.page.evaluate("window.__inboxDocument") is True
    # ...and caught up: the new preview, the unread badge, on top.
    row = conversation_row(ben.page, with_cy)
    expect(row.locator(".last-message")).to_have_text("posted while Ben was away")
    expect(unread_badge(ben.page, with_cy)).to_have_attribute("data-count", "1")
    expect(unread_badge(ben.page, with_cy)).to_be_visible()
    expect(ben.page.locator("li.conversation-row").first).to_have_attribute(
        "data-conversation-id", conversation_id(with_cy)
    )


def test_inbox_catches_up_after_server_restart(sign_up, live: Live, browser_log: BrowserLog):
    ann, ben = sign_up("Ann Able"), sign_up("Ben Baker")
    path = start_conversation(ann, ben)
    token = api_token(live, ann)
    ben.open("/")
    ben.page.wait_for_load_state("networkidle")  # its first resync is done
    browser_log.allowed.append(WEBSOCKET_FAILED)

    live.server.kill()
    expect(ben.page.locator("#connection")).to_have_attribute("data-state", "offline")
    ben.context.set_offline(True)  # so that only a resync can bring the message
    live.server = live.deployment.restart_server(live.server)
    post_message(live, token, ann, path, "sent while the inbox was disconnected")
    ben.context.set_offline(False)
    expect(ben.page.locator("#connection")).to_have_attribute(
        "data-state", "online", timeout=RECONNECT_TIMEOUT
    )
    row = conversation_row(ben.page, path)
    expect(row.locator(".last-message")).to_have_text("sent while the inbox was disconnected")
    expect(unread_badge(ben.page, path)).to_have_attribute("data-count", "1")
    expect(unread_badge(ben.page, path)).to_be_visible()


def test_inbox_inserts_a_new_conversation_without_reloading(sign_up, live: Live):
    ann, ben = sign_up("Ann Able"), sign_up("Ben Baker")
    ben.page.evaluate("window.__sameDocument = true")
    expect(ben.page.locator("#empty-inbox")).to_be_visible()

    path = start_conversation(ann, ben)
    row = conversation_row(ben.page, path)
    expect(row.locator(".conversation-name")).to_have_text(ann.name)
    expect(row.locator(".last-message")).to_have_text("No messages yet")
    expect(row.locator("a")).to_have_attribute("href", path)
    expect(ben.page.locator("#empty-inbox")).to_be_hidden()
    ann.send("first words")
    expect(row.locator(".last-message")).to_have_text("first words")
    expect(unread_badge(ben.page, path)).to_have_attribute("data-count", "1")
    # A group with a title, created over REST, comes in the same way.
    cy = sign_up("Cy Cole")
    body = {"users": [ben.id, cy.id], "title": "Design review"}
    group = live.api("POST", "/api/conversations", body, token=api_token(live, ann))
    group_row = ben.page.locator(f'li.conversation-row[data-conversation-id="{group["id"]}"]')
    expect(group_row.locator(".conversation-name")).to_have_text("Design review")
    expect(ben.page.locator("li.conversation-row").first).to_have_attribute(
        "data-conversation-id", group["id"]
    )
    assert ben.page.evaluate("window.__sameDocument") is True
    row.locator("a").click()
    ben.page.wait_for_url(f"**{path}")
    wait_for_message(ben.page, "first words")  # the history comes over the API
    assert message_texts(ben.page) == ["first words"]


def test_seen_shows_when_the_reply_comes_over_rest(sign_up, live: Live):
    """Bob answers from an API client: his send moves his read mark, and Alice's
    open page shows "Seen" under her message without a reload."""
    alice, bob = sign_up("Alice Martin"), sign_up("Bob Chen")
    path = start_conversation(alice, bob)
    expect(alice.page.locator("#connection")).to_have_attribute("data-state", "online")
    alice.page.evaluate("window.__sameDocument = true")
    alice.send("are you there?")
    seen = alice.page.locator("#seen")
    expect(seen).to_be_hidden()

    post_message(live, api_token(live, bob), bob, path, "yes, from my script")
    wait_for_message(alice.page, "yes, from my script")
    expect(seen).to_be_visible()
    expect(seen).to_have_text("Seen")
    seen_in = "document.getElementById('seen').closest('li.message').querySelector('.text')"
    assert alice.page.evaluate(f"{seen_in}.textContent") == "are you there?"
    assert alice.page.evaluate("window.__sameDocument") is True


def test_presence_is_unknown_while_disconnected_and_fresh_after(pair):
    ann, ben, path = pair
    switch = SocketSwitch(ann.context)
    ann.open(path)  # now through the switch
    dot, text = (
        presence_dot(ann.page, ben),
        ann.page.locator(f'.presence-text[data-user-id="{ben.id}"]'),
    )
    expect(dot).to_have_class(re.compile(r"\bonline\b"))
    expect(text).to_have_text(" (online)")

    switch.cut()
    expect(ann.page.locator("#connection")).to_have_attribute("data-state", "offline")
    for who in (ben, ann):
        expect(presence_dot(ann.page, who)).not_to_have_class(re.compile(r"\bonline\b"))
        expect(presence_dot(ann.page, who)).to_have_class(re.compile(r"\bunknown\b"))
    expect(text).to_have_text(" (presence unknown)")
    screenshot_at_both_widths(ann.page, "presence-unknown")

    # Ben leaves while Ann cannot hear it: back online, she must not see him green.
    ben.context.close()
    switch.restore()
    expect(ann.page.locator("#connection")).to_have_attribute(
        "data-state", "online", timeout=RECONNECT_TIMEOUT
    )
    expect(presence_dot(ann.page, ann)).to_have_class(re.compile(r"\bonline\b"))
    expect(dot).not_to_have_class(re.compile(r"\b(online|unknown)\b"))
    expect(text).to_have_text(" (offline)")


def open_tabs(person: Person, log: BrowserLog, paths: dict[str, str]) -> dict[str, Page]:
    """More tabs of `person`'s browser (the same cookies), each on its path, connected."""
    tabs = {}
    for name, path in paths.items():
        tabs[name] = person.context.new_page()
        log.watch(tabs[name], f"{person.username} {name} tab")
        tabs[name].goto(path)
        expect(tabs[name].locator("#connection")).to_have_attribute("data-state", "online")
    return tabs


def test_logout_in_one_tab_signs_the_other_tabs_out(sign_up, browser_log: BrowserLog):
    ann, ben = sign_up("Ann Able"), sign_up("Ben Baker")
    path = start_conversation(ann, ben)
    tabs = open_tabs(ann, browser_log, {"conversation": path, "inbox": "/"})
    # Each tab, closed with 4401, asks whether it is still signed in: no (401/403).
    browser_log.allowed.append(SIGN_IN_CHECK_REFUSED)

    ann.page.goto("/accounts/tokens/")
    log_out(ann.page)
    ann.page.wait_for_url(re.compile(r"/accounts/login/"))
    for page in tabs.values():
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("You have been signed out", timeout=3000)
        expect(alert.get_by_role("link", name="Log in again")).to_have_attribute(
            "href", re.compile(r"^/accounts/login/\?next=")
        )
        expect(page.locator("#connection")).to_have_attribute("data-state", "signed-out")
    conversation = tabs["conversation"]
    expect(conversation.locator("#composer-text")).to_be_disabled()
    expect(conversation.get_by_role("button", name="Send")).to_be_disabled()
    screenshot_at_both_widths(conversation, "signed-out")
    # It stays signed out (no reconnecting), and following the link signs in again.
    conversation.wait_for_timeout(1500)
    expect(conversation.locator("#connection")).to_have_attribute("data-state", "signed-out")
    conversation.get_by_role("link", name="Log in again").click()
    conversation.fill("#id_username", ann.username)
    conversation.fill("#id_password", PASSWORD)
    conversation.get_by_role("button", name="Log in").click()
    conversation.wait_for_url(f"**{path}")
    expect(conversation.locator("#connection")).to_have_attribute("data-state", "online")


def test_password_change_in_this_browser_keeps_its_other_tabs_signed_in(
    sign_up, browser_log: BrowserLog
):
    """The server closes the old session's sockets (4401); this browser has the
    new session, so its other tabs reconnect instead of signing out."""
    ann, ben = sign_up("Ann Able"), sign_up("Ben Baker")
    path = start_conversation(ann, ben)
    tab = open_tabs(ann, browser_log, {"conversation": path})["conversation"]
    tab.evaluate("window.__sameDocument = true")
    sockets = []
    tab.on("websocket", lambda socket: sockets.append(socket))
    ann.page.goto("/accounts/password/")
    ann.page.fill("#id_old_password", PASSWORD)
    ann.page.fill("#id_new_password1", "Another-quiet-river-3141")
    ann.page.fill("#id_new_password2", "Another-quiet-river-3141")
    ann.page.get_by_role("button", name="Change password").click()
    ann.page.wait_for_url(re.compile(r"/accounts/password/done/"))

    wait_until(tab, lambda: sockets, "a new socket after the old one was closed")
    expect(tab.locator("#connection")).to_have_attribute("data-state", "online")
    expect(tab.get_by_role("alert")).to_have_count(0)
    tab.locator("#composer-text").fill("still here")
    tab.locator("#composer-text").press("Enter")
    wait_for_message(tab, "still here")
    assert tab.evaluate("window.__sameDocument") is True


class HeldSyncs:
    """Routes a context's sockets through Playwright, recording the `sync`
    frames the page sends and holding back the server's `sync.done` frames
    until released (so that a sync stays "in flight" as long as a test wants)."""

    def __init__(self, context: BrowserContext) -> None:
        self.sent: list[dict] = []
        self.held: list[str] = []
        self.holding = True
        self.page_side: WebSocketRoute | None = None
        context.route_web_socket(re.compile(r"/ws/chat/$"), self.route)

    def route(self, page_side: WebSocketRoute) -> None:
        server_side = page_side.connect_to_server()
        self.page_side = page_side

        def from_page(message: str) -> None:
            if json.loads(message)["type"] == "sync":
                self.sent.append(json.loads(message))
            server_side.send(message)

        def from_server(message: str) -> None:
            if self.holding and json.loads(message)["type"] == "sync.done":
                self.held.append(message)
            else:
                page_side.send(message)

        page_side.on_message(from_page)
        server_side.on_message(from_server)

    def release(self) -> None:
        self.holding = False
        for message in self.held:
            self.page_side.send(message)
        self.held.clear()


def wait_until(page: Page, condition: Callable[[], bool], what: str) -> None:
    """Poll `condition` (Python state that Playwright's events change) for up to TIMEOUT."""
    deadline = time.monotonic() + TIMEOUT / 1000
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        page.wait_for_timeout(50)


def test_page_sends_one_sync_at_a_time(pair):
    """The server refuses a second `sync` before the first one's `sync.done`:
    a resync asked for meanwhile (here: the page shown again from the
    back/forward cache with its socket still open) waits for it, and a sync
    is asked for again only once the first one is done."""
    ann, ben, path = pair
    syncs = HeldSyncs(ann.context)
    ann.open(path)
    wait_until(ann.page, lambda: syncs.held, "the first sync.done")
    assert len(syncs.sent) == 1

    ann.page.evaluate(
        "window.dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true }))"
    )
    ben.send("while the first sync runs")
    wait_for_message(ann.page, "while the first sync runs")
    assert len(syncs.sent) == 1, syncs.sent
    syncs.release()
    ann.page.wait_for_timeout(300)  # a second sync would have gone out by now
    assert syncs.sent == [
        {"type": "sync", "conversationId": conversation_id(path), "sinceVersion": 0}
    ]
    ben.send("and after it")
    wait_for_message(ann.page, "and after it")
