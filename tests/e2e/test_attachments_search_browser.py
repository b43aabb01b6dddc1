"""Issue 14 on the page, with two people in their own browser contexts:
files attached by the button, by drag-and-drop and by paste upload at once
and show as chips; sent, they reach the other person live (a thumbnail that
opens the lightbox, a file card that downloads); a file over the size limit
says so; the outbox keeps a message's files across a reload. Message search
in the sidebar finds a message by a word, marks it in the snippet, opens
the conversation at that message, and never shows another person's
conversation. axe-core finds nothing serious in these states, light or
dark, and at 375 px and 1280 px nothing scrolls sideways (the screenshots go
to test-results/).

This module's server takes files of at most MAX_BYTES (CHAT_ATTACHMENT_MAX_BYTES)
and has no message rate limit to speak of, so that a test can post many."""

import io
import re
import uuid
from collections.abc import Iterator

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.e2e.test_accessibility import blocking_violations
from tests.support.browser import (
    RECONNECT_TIMEOUT,
    SCREENSHOTS,
    WEBSOCKET_FAILED,
    ApiUser,
    BrowserLog,
    Live,
    Person,
    SocketSwitch,
    api_token,
    conversation_id,
    message_item,
    no_sideways_scroll,
    post_message,
    sign_up_over_api,
    wait_for_message,
)
from tests.support.live_server import sqlite_deployment

MAX_BYTES = 200_000
# Chromium logs every refused request; a refused upload is what some tests want.
REFUSED_UPLOAD = re.compile(r"status of 413 \(Request Entity Too Large\)")
PHOTO_SIZE = (64, 48)
NOTES = b"Agenda\n1. Budget\n2. Dates\n"


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    work = tmp_path_factory.mktemp("e2e-attachments")
    with sqlite_deployment(work) as deployment:
        deployment.env.update(
            CHAT_ATTACHMENT_MAX_BYTES=str(MAX_BYTES),
            CHAT_ATTACHMENTS_DIR=str(work / "attachments"),
            CHAT_RATE_MESSAGE_SEND="10000/min",
        )
        yield Live(deployment, deployment.start_server())


def png(size: tuple[int, int] = PHOTO_SIZE, colour: tuple[int, int, int] = (200, 60, 40)) -> bytes:
    picture = Image.new("RGB", size, colour)
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def file_payload(name: str, mime: str, content: bytes) -> dict:
    return {"name": name, "mimeType": mime, "buffer": content}


def attach_by_button(page: Page, *files: dict) -> None:
    with page.expect_file_chooser() as chooser:
        page.locator("#attach-button").click()
    assert chooser.value.is_multiple()
    chooser.value.set_files(list(files))


def data_transfer(page: Page, name: str, mime: str, content: bytes):
    """A DataTransfer holding one file, as a drag from the desktop or a copy carries it."""
    return page.evaluate_handle(
        """([name, mime, bytes]) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([new Uint8Array(bytes)], name, { type: mime }));
            return transfer;
        }""",
        [name, mime, list(content)],
    )


def drop_file(page: Page, name: str, mime: str, content: bytes) -> None:
    """Drag a file over the conversation (the drop target shows) and drop it."""
    transfer = data_transfer(page, name, mime, content)
    page.dispatch_event("#messages", "dragenter", {"dataTransfer": transfer})
    expect(page.locator("#drop-target")).to_be_visible()
    page.dispatch_event("#messages", "dragover", {"dataTransfer": transfer})
    page.dispatch_event("#messages", "drop", {"dataTransfer": transfer})
    expect(page.locator("#drop-target")).to_be_hidden()


def paste_file(page: Page, name: str, mime: str, content: bytes) -> None:
    transfer = data_transfer(page, name, mime, content)
    page.locator("#composer-text").focus()
    page.evaluate(
        """transfer => document.getElementById("composer-text").dispatchEvent(new ClipboardEvent(
            "paste", { clipboardData: transfer, bubbles: true, cancelable: true }))""",
        transfer,
    )


def chip(page: Page, name: str):
    return page.locator("#attachment-chips li.attachment-chip").filter(has_text=name)


def uploaded(page: Page, name: str) -> None:
    expect(chip(page, name)).to_have_attribute("data-state", "done")


def image_loaded(page: Page, selector: str) -> bool:
    return page.eval_on_selector(selector, "image => image.complete && image.naturalWidth > 0")


def send_files(ann: Person, text: str) -> None:
    """Ann attaches a photo by the button and notes by drag-and-drop, and sends them with `text`."""
    page = ann.page
    attach_by_button(page, file_payload("photo.png", "image/png", png()))
    uploaded(page, "photo.png")
    photo_chip = chip(page, "photo.png")
    expect(photo_chip.locator(".chip-detail")).to_have_text(re.compile(r"\d+ bytes"))
    expect(photo_chip.locator(".chip-preview img")).to_have_attribute(
        "src", re.compile(r"^/api/attachments/\d+/thumbnail$")
    )
    drop_file(page, "notes.txt", "text/plain", NOTES)
    uploaded(page, "notes.txt")
    expect(chip(page, "notes.txt").locator(".chip-preview .file-extension")).to_have_text("TXT")
    ann.send(text)
    expect(page.locator("#attachment-chips")).to_be_hidden()


def test_files_attached_by_button_and_drop_reach_the_other_person_live(pair, live: Live):
    ann, ben, path = pair
    send_files(ann, "Holiday photos")

    for page in (ann.page, ben.page):
        wait_for_message(page, "Holiday photos")
        item = message_item(page, "Holiday photos")
        thumbnail = item.locator("button.attachment-image img")
        expect(thumbnail).to_have_attribute("alt", "photo.png")
        # Laid out at its size before it loads: the list does not jump.
        expect(thumbnail).to_have_attribute("width", str(PHOTO_SIZE[0]))
        expect(thumbnail).to_have_attribute("height", str(PHOTO_SIZE[1]))
        page.wait_for_function(
            "image => image.complete && image.naturalWidth > 0", arg=thumbnail.element_handle()
        )
        card = item.locator("a.attachment-file")
        expect(card.locator(".attachment-name")).to_have_text("notes.txt")
        expect(card.locator(".attachment-size")).to_have_text(f"{len(NOTES)} bytes")
        expect(card).to_have_attribute("download", "notes.txt")
    # The list's preview of a message names its text.
    expect(ben.page.locator("li.conversation-row .last-message").first).to_have_text(
        "Holiday photos"
    )
    # Deleted, it shows no file any more, live.
    message_id = message_item(ben.page, "Holiday photos").get_attribute("data-id")
    live.api(
        "DELETE",
        f"/api/messages/{conversation_id(path)}/{message_id}",
        token=api_token(live, ann),
    )
    deleted = ben.page.locator(f"#message-list li.message[data-id='{message_id}']")
    expect(deleted).to_have_class(re.compile(r"\bdeleted\b"))
    expect(deleted.locator(".attachments")).to_have_count(0)


def test_the_lightbox_opens_steps_closes_and_downloads(pair):
    ann, ben, _ = pair
    attach_by_button(
        ann.page,
        file_payload("first.png", "image/png", png(colour=(10, 120, 200))),
        file_payload("second.png", "image/png", png((40, 80), colour=(20, 160, 60))),
    )
    uploaded(ann.page, "first.png")
    uploaded(ann.page, "second.png")
    drop_file(ann.page, "notes.txt", "text/plain", NOTES)
    uploaded(ann.page, "notes.txt")
    ann.send("Two pictures")
    wait_for_message(ben.page, "Two pictures")
    page = ben.page
    item = message_item(page, "Two pictures")
    item.locator("button.attachment-image").first.click()

    lightbox = page.locator("#lightbox")
    expect(lightbox).to_be_visible()
    expect(page.locator("#lightbox-title")).to_have_text("first.png")
    expect(page.locator("#lightbox-count")).to_have_text("1 of 2")
    expect(lightbox.locator("img")).to_have_attribute("alt", "first.png")
    page.wait_for_function(
        "() => { const image = document.querySelector('#lightbox img'); "
        "return image.complete && image.naturalWidth === 64; }"
    )
    page.keyboard.press("ArrowRight")
    expect(page.locator("#lightbox-title")).to_have_text("second.png")
    expect(page.locator("#lightbox-count")).to_have_text("2 of 2")
    page.keyboard.press("ArrowRight")  # round to the first again
    expect(page.locator("#lightbox-title")).to_have_text("first.png")
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#lightbox-title")).to_have_text("second.png")

    with page.expect_download() as image_download:
        page.locator("#lightbox-download").click()
    assert image_download.value.suggested_filename == "second.png"
    with Image.open(image_download.value.path()) as picture:
        assert picture.size == (40, 80)

    page.keyboard.press("Escape")
    expect(lightbox).to_be_hidden()
    expect(item.locator("button.attachment-image").nth(1)).to_be_focused()
    # Enter on a focused thumbnail opens it too; the close button closes it.
    item.locator("button.attachment-image").first.press("Enter")
    expect(page.locator("#lightbox-title")).to_have_text("first.png")
    page.locator("#lightbox-close").click()
    expect(lightbox).to_be_hidden()

    with page.expect_download() as file_download:
        item.locator("a.attachment-file").click()
    assert file_download.value.suggested_filename == "notes.txt"
    with open(file_download.value.path(), "rb") as downloaded:
        assert downloaded.read() == NOTES


def test_a_pasted_file_uploads_and_a_file_alone_is_a_message(pair):
    ann, ben, _ = pair
    paste_file(ann.page, "pasted.png", "image/png", png(colour=(90, 90, 200)))
    uploaded(ann.page, "pasted.png")
    expect(ann.page.locator("#composer-text")).to_have_value("")
    ann.page.locator("#composer-text").press("Enter")  # no text: the file alone
    expect(ann.page.locator("#attachment-chips")).to_be_hidden()
    thumbnail = ben.page.locator("#message-list li.message button.attachment-image img")
    expect(thumbnail).to_have_attribute("alt", "pasted.png")
    expect(ben.page.locator("li.conversation-row .last-message").first).to_have_text("pasted.png")


def test_a_file_over_the_limit_says_so_and_can_be_removed(pair, browser_log: BrowserLog):
    ann, _, _ = pair
    browser_log.allowed.append(REFUSED_UPLOAD)
    page = ann.page
    huge = bytes(MAX_BYTES + 1)
    attach_by_button(page, file_payload("huge.bin", "application/octet-stream", huge))
    too_large = chip(page, "huge.bin")
    expect(too_large).to_have_attribute("data-state", "failed")
    expect(too_large.locator(".chip-error")).to_have_text(
        "Too large: files can be up to 195 kB."  # 200,000 bytes in powers of 1024
    )
    expect(too_large.locator(".chip-retry")).to_be_hidden()  # the same file cannot succeed
    # Nothing to send: Enter leaves the failed file where it is.
    page.locator("#composer-text").press("Enter")
    expect(too_large).to_be_visible()
    too_large.get_by_role("button", name="Remove huge.bin").click()
    expect(page.locator("#attachment-chips")).to_be_hidden()
    expect(page.locator("#composer-text")).to_be_focused()


def test_a_chip_shows_progress_and_send_waits_for_the_upload(pair):
    ann, ben, _ = pair
    page = ann.page
    network = ann.context.new_cdp_session(page)
    network.send("Network.enable")
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 40_000},
    )
    slow = bytes(range(256)) * 600  # 153,600 bytes: about four seconds at 40 kB/s
    page.locator("#composer-text").fill("the slow one")
    attach_by_button(page, file_payload("slow.bin", "application/octet-stream", slow))
    uploading = chip(page, "slow.bin")
    expect(uploading).to_have_attribute("data-state", "uploading")
    expect(uploading.locator("progress")).to_be_visible()
    expect(uploading.locator(".chip-detail")).to_contain_text("of 150 kB")
    send = page.locator("#composer button[type=submit]")
    expect(send).to_be_disabled()
    page.locator("#composer-text").press("Enter")  # waits too
    expect(page.locator("#composer-text")).to_have_value("the slow one")
    page.wait_for_function("() => document.querySelector('#attachment-chips progress')?.value > 0")
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    expect(uploading).to_have_attribute("data-state", "done", timeout=15000)
    expect(send).to_be_enabled()
    ann.send("the slow one")
    wait_for_message(ben.page, "the slow one")
    card = message_item(ben.page, "the slow one").locator("a.attachment-file")
    expect(card.locator(".attachment-name")).to_have_text("slow.bin")
    expect(card.locator(".attachment-size")).to_have_text("150 kB")


def test_the_outbox_keeps_a_messages_files_across_a_reload(pair, browser_log: BrowserLog):
    ann, ben, path = pair
    browser_log.allowed.append(WEBSOCKET_FAILED)
    switch = SocketSwitch(ann.context)
    ann.open(path)  # now through the switch
    attach_by_button(ann.page, file_payload("offline.png", "image/png", png()))
    uploaded(ann.page, "offline.png")
    switch.cut()
    expect(ann.page.locator("#connection")).to_have_attribute("data-state", "offline")
    ann.page.locator("#composer-text").fill("sent while offline")
    ann.page.locator("#composer-text").press("Enter")
    pending = ann.page.locator("#message-list li.pending")
    expect(pending.locator(".attachments img")).to_have_attribute("alt", "offline.png")

    ann.page.reload()
    expect(pending.locator(".text")).to_have_text("sent while offline")
    expect(pending.locator(".attachments img")).to_have_attribute("alt", "offline.png")
    expect(ann.page.locator("#attachment-chips")).to_be_hidden()  # sent: no chip comes back
    switch.restore()
    wait_for_message(ben.page, "sent while offline", timeout=RECONNECT_TIMEOUT)
    thumbnail = message_item(ben.page, "sent while offline").locator("button.attachment-image img")
    expect(thumbnail).to_have_attribute("alt", "offline.png")


def test_uploaded_files_not_sent_come_back_after_a_reload(pair):
    ann, _, path = pair
    attach_by_button(ann.page, file_payload("draft.png", "image/png", png()))
    uploaded(ann.page, "draft.png")
    ann.open(path)
    uploaded(ann.page, "draft.png")
    ann.page.locator("#composer-text").fill("with the draft file")
    ann.page.locator("#composer-text").press("Enter")
    item = message_item(ann.page, "with the draft file")
    expect(item.locator("button.attachment-image img")).to_have_attribute("alt", "draft.png")


# -- search ---------------------------------------------------------------------


def search(page: Page, words: str):
    box = page.locator("#message-search")
    box.fill(words)
    results = page.locator("#search-results a.search-result-link")
    expect(page.locator("#search-panel")).to_be_visible()
    expect(page.locator("#conversation-list")).to_be_hidden()
    return results


def direct_conversation(live: Live, first: ApiUser, second: ApiUser) -> str:
    answer = live.api("POST", "/api/conversations", {"users": [first.id, second.id]}, first.token)
    return f"/c/{answer['id']}/"


def test_search_finds_a_message_and_opens_the_conversation_at_it(pair, live: Live):
    ann, ben, path = pair
    word = f"pineapple{uuid.uuid4().hex[:6]}"
    token = api_token(live, ann)
    target = post_message(live, token, ann, path, f"Bring the {word} cake on Friday")
    # Enough after it that it is not on the conversation's first page.
    for number in range(60):
        post_message(live, token, ann, path, f"filler {number}")
    # Someone else's conversation with the same word: never found by Ben.
    cy, dan = sign_up_over_api(live, "Cy Cole"), sign_up_over_api(live, "Dan Dale")
    elsewhere = direct_conversation(live, cy, dan)
    post_message(live, cy.token, cy, elsewhere, f"the {word} is secret")
    ben.open("/")

    results = search(ben.page, word)
    expect(results).to_have_count(1)
    result = results.first
    expect(result).to_have_attribute("data-conversation-id", conversation_id(path))
    expect(result.locator(".result-conversation")).to_have_text(ann.name)
    expect(result.locator(".result-sender")).to_have_text(ann.name)
    expect(result.locator(".result-snippet")).to_contain_text(f"Bring the {word} cake")
    expect(result.locator(".result-snippet mark")).to_have_text([word])
    ids = ben.page.eval_on_selector_all(
        "#search-results a", "links => links.map(link => link.dataset.conversationId)"
    )
    assert conversation_id(elsewhere) not in ids

    result.click()
    ben.page.wait_for_url(re.compile(rf"/c/{conversation_id(path)}/#m{target['seq']}$"))
    item = ben.page.locator(f"#message-list li.message[data-seq='{target['seq']}']")
    expect(item).to_have_class(re.compile(r"\bhighlighted\b"))
    expect(item).to_be_in_viewport()
    expect(item.locator(".text")).to_have_text(f"Bring the {word} cake on Friday")
    expect(result).to_have_attribute("aria-current", "true")


def test_search_pages_with_load_more_says_when_nothing_matches_and_escape_clears(pair, live: Live):
    ann, ben, path = pair
    word = f"kumquat{uuid.uuid4().hex[:6]}"
    token = api_token(live, ann)
    for number in range(25):
        post_message(live, token, ann, path, f"{word} number {number}")
    ben.open("/")

    results = search(ben.page, word)
    expect(results).to_have_count(20)
    expect(results.first.locator(".result-snippet")).to_contain_text(f"{word} number 24")
    more = ben.page.locator("#search-more")
    more.click()
    expect(results).to_have_count(25)
    expect(more).to_be_hidden()
    snippets = ben.page.eval_on_selector_all(
        "#search-results .result-snippet", "items => items.map(item => item.textContent)"
    )
    assert len(set(snippets)) == 25  # no result twice

    search(ben.page, f"nothing{uuid.uuid4().hex[:8]}")
    expect(ben.page.locator("#search-status")).to_contain_text("No messages match")
    expect(results).to_have_count(0)
    ben.page.locator("#message-search").press("Escape")
    expect(ben.page.locator("#message-search")).to_have_value("")
    expect(ben.page.locator("#search-panel")).to_be_hidden()
    expect(ben.page.locator("#conversation-list")).to_be_visible()


def test_search_results_are_keyboard_operable(pair, live: Live):
    ann, ben, path = pair
    word = f"quince{uuid.uuid4().hex[:6]}"
    token = api_token(live, ann)
    first = post_message(live, token, ann, path, f"{word} first")
    post_message(live, token, ann, path, f"{word} second")
    ben.open("/")
    box = ben.page.locator("#message-search")
    box.fill(word)
    box.press("Enter")  # at once, not after the pause
    results = ben.page.locator("#search-results a.search-result-link")
    expect(results).to_have_count(2)
    box.press("ArrowDown")
    expect(results.nth(0)).to_be_focused()
    ben.page.keyboard.press("ArrowDown")
    expect(results.nth(1)).to_be_focused()  # the older one
    ben.page.keyboard.press("Enter")
    ben.page.wait_for_url(re.compile(rf"#m{first['seq']}$"))
    expect(ben.page.locator(f"#message-list li.message[data-seq='{first['seq']}']")).to_have_class(
        re.compile(r"\bhighlighted\b")
    )


# -- accessibility and layout ----------------------------------------------------


def show_states(page: Page, path: str, word: str, shots: str | None = None) -> list[str]:
    """The new states one after the other on `page` (in the conversation at
    `path`): chips (one uploaded, one refused), the timeline with an image and
    a file, the lightbox, the search results. Each checked by axe; with
    `shots`, a screenshot of each named after it."""
    found = []

    def check(state: str) -> None:
        nonlocal found
        no_sideways_scroll(page)
        found += blocking_violations(page, f"{state}, {shots or ''}")
        if shots:
            page.screenshot(path=str(SCREENSHOTS / f"attachments-{state}-{shots}.png"))

    page.goto(path)
    expect(page.locator("#connection")).to_have_attribute("data-state", "online")
    wait_for_message(page, f"The {word} plan")
    attach_by_button(
        page,
        file_payload("whiteboard.png", "image/png", png((120, 90))),
        file_payload("minutes-of-the-long-meeting.pdf", "application/pdf", b"%PDF-1.4\n%%EOF\n"),
        file_payload("too-big.zip", "application/zip", bytes(MAX_BYTES + 1)),
    )
    uploaded(page, "whiteboard.png")
    uploaded(page, "minutes-of-the-long-meeting.pdf")
    expect(chip(page, "too-big.zip")).to_have_attribute("data-state", "failed")
    page.locator("#composer-text").fill("Notes from today")
    check("chips")
    for name in ("whiteboard.png", "minutes-of-the-long-meeting.pdf", "too-big.zip"):
        chip(page, name).get_by_role("button", name=f"Remove {name}").click()
    page.locator("#composer-text").fill("")
    page.locator("#composer-text").blur()
    check("timeline")
    message_item(page, f"The {word} plan").locator("button.attachment-image").first.click()
    expect(page.locator("#lightbox")).to_be_visible()
    page.wait_for_function("() => document.querySelector('#lightbox img').complete")
    check("lightbox")
    page.keyboard.press("Escape")
    if page.viewport_size["width"] < 900:
        page.locator("#back").click()
    results = search(page, word)
    expect(results).to_have_count(1)
    check("search")
    page.locator("#message-search").press("Escape")
    return found


@pytest.fixture
def shared_files(pair, live: Live) -> tuple[Person, str, str]:
    """Ann and Ben's conversation holding a message of Ben's with two images and a file."""
    ann, ben, path = pair
    word = f"mango{uuid.uuid4().hex[:6]}"
    attach_by_button(
        ben.page,
        file_payload("site-plan.png", "image/png", png((400, 260), colour=(60, 120, 180))),
        file_payload("elevation.png", "image/png", png((200, 300), colour=(180, 120, 60))),
        file_payload("budget.csv", "text/csv", b"item,cost\nbricks,100\n"),
    )
    for name in ("site-plan.png", "elevation.png", "budget.csv"):
        uploaded(ben.page, name)
    ben.send(f"The {word} plan")
    return ann, path, word


def test_attachment_and_search_states_have_no_serious_violation_light_or_dark(
    shared_files, sign_in, browser_log: BrowserLog
):
    ann, path, word = shared_files
    browser_log.allowed.append(REFUSED_UPLOAD)
    found = show_states(ann.page, path, word)
    found += show_states(sign_in(ann, color_scheme="dark"), path, word)
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_attachment_and_search_states_at_phone_and_desktop_widths(
    shared_files, sign_in, browser_log: BrowserLog, theme: str
):
    ann, path, word = shared_files
    browser_log.allowed.append(REFUSED_UPLOAD)
    page = sign_in(ann, color_scheme=theme)
    SCREENSHOTS.mkdir(exist_ok=True)
    found = []
    for width, height in ((1280, 800), (375, 667)):
        page.set_viewport_size({"width": width, "height": height})
        found += show_states(page, path, word, shots=f"{width}-{theme}")
    assert found == [], "\n".join(found)
