"""Browser tests of the one-page web app (issue 12): what a person sees when
something happens in a conversation that is not on screen (the sidebar, the
tab title, desktop notifications, mute), the message list (day separators,
grouping, edit, delete, message links), managing a group live on every
member's page, drafts and the outbox across a reload and a server restart,
a refused send, sign out everywhere and the keyboard.

People who only need to exist (someone to add, someone who writes) sign up
over the API (`sign_up_over_api`): only the people whose screens a test
looks at get a browser context. The fixtures are tests/e2e/conftest.py's.
"""

import json
import re

from playwright.sync_api import BrowserContext, Page, WebSocketRoute, expect

from tests.support.asyncapi import validator_for
from tests.support.browser import (
    RECONNECT_TIMEOUT,
    SIGN_IN_CHECK_REFUSED,
    WEBSOCKET_FAILED,
    BrowserLog,
    Live,
    SocketSwitch,
    api_token,
    conversation_id,
    conversation_row,
    hide_tab,
    message_item,
    message_texts,
    notifications,
    pick_people,
    post_message,
    sign_up_over_api,
    start_conversation,
    unread_badge,
    wait_for_message,
    watch_notifications,
)


def system_notices(page: Page) -> list[str]:
    return page.eval_on_selector_all(
        "#message-list li.message.system .text", "items => items.map(item => item.textContent)"
    )


# -- attention: the sidebar, the title, notifications ----------------------------


def test_sidebar_and_title_follow_a_conversation_that_is_not_on_screen(sign_up, live: Live):
    ann, ben = sign_up("Ann Able"), sign_up("Ben Baker")
    cy = sign_up_over_api(live, "Cy Cole")
    with_ann = start_conversation(ann, ben)
    with_cy = start_conversation(ben, cy)  # Ben now has Cy's conversation open
    ben.page.evaluate("window.__sameDocument = true")
    expect(ben.page).to_have_title("Cy Cole · Chat")
    expect(ben.page.locator("li.conversation-row").first).to_have_attribute(
        "data-conversation-id", conversation_id(with_cy)
    )

    ann.send("are you free at 3?")
    row = conversation_row(ben.page, with_ann)
    expect(row.locator(".last-message")).to_have_text("are you free at 3?")
    expect(unread_badge(ben.page, with_ann)).to_have_attribute("data-count", "1")
    expect(unread_badge(ben.page, with_ann)).to_be_visible()
    expect(row).to_have_class(re.compile(r"\bhas-unread\b"))
    expect(ben.page.locator("li.conversation-row").first).to_have_attribute(
        "data-conversation-id", conversation_id(with_ann)
    )
    expect(ben.page).to_have_title("(1) Cy Cole · Chat")
    ann.send("or at 4")
    expect(ben.page).to_have_title("(2) Cy Cole · Chat")
    # A message in the conversation on screen is read at once: no count.
    post_message(live, cy.token, cy, with_cy, "hi from Cy")
    wait_for_message(ben.page, "hi from Cy")
    expect(conversation_row(ben.page, with_cy).locator(".last-message")).to_have_text("hi from Cy")
    expect(unread_badge(ben.page, with_cy)).to_be_hidden()
    expect(ben.page).to_have_title("(2) Cy Cole · Chat")
    # Ben's own messages show as "You: …" in the list.
    ben.send("one moment")
    expect(conversation_row(ben.page, with_cy).locator(".last-message")).to_have_text(
        "You: one moment"
    )
    assert ben.page.evaluate("window.__sameDocument") is True


def test_notification_for_another_conversation_and_none_when_muted(sign_up, live: Live):
    ann, ben = sign_up("Ann Able"), sign_up("Ben Baker")
    cy = sign_up_over_api(live, "Cy Cole")
    with_ann = start_conversation(ann, ben)
    watch_notifications(live, ben)
    with_cy = start_conversation(ben, cy)
    ben.open(with_cy)  # loads the init scripts
    # The permission is already granted: no "Enable notifications" button.
    expect(ben.page.locator("#enable-notifications")).to_be_hidden()

    ann.send("ping from another conversation")
    expect(unread_badge(ben.page, with_ann)).to_have_attribute("data-count", "1")
    ben.page.wait_for_function("window.__notifications.length === 1")
    assert notifications(ben.page) == [
        {
            "title": ann.name,
            "body": "ping from another conversation",
            "tag": f"conversation-{conversation_id(with_ann)}",
        }
    ]
    # The conversation on screen (and the tab visible): no notification.
    post_message(live, cy.token, cy, with_cy, "in the open conversation")
    wait_for_message(ben.page, "in the open conversation")

    # Muted (in its settings dialog): still a badge, no notification, no title count.
    conversation_row(ben.page, with_ann).locator("a").click()
    wait_for_message(ben.page, "ping from another conversation")
    ben.page.locator("#conversation-settings").click()
    ben.page.locator("#mute-toggle").check()
    expect(conversation_row(ben.page, with_ann)).to_have_class(re.compile(r"\bmuted\b"))
    ben.page.locator("#settings-done").click()
    conversation_row(ben.page, with_cy).locator("a").click()
    wait_for_message(ben.page, "in the open conversation")
    ann.send("muted ping")
    expect(conversation_row(ben.page, with_ann).locator(".last-message")).to_have_text("muted ping")
    expect(unread_badge(ben.page, with_ann)).to_have_attribute("data-count", "1")
    expect(unread_badge(ben.page, with_ann)).to_be_visible()
    expect(ben.page).to_have_title("Cy Cole · Chat")
    ben.page.wait_for_timeout(300)  # a notification would have come with the row
    assert len(notifications(ben.page)) == 1, notifications(ben.page)


def test_hidden_tab_gets_a_notification_for_the_open_conversation(pair, live: Live):
    ann, ben, path = pair
    watch_notifications(live, ben)
    ben.open(path)
    ann.send("seen while you look")
    wait_for_message(ben.page, "seen while you look")
    assert notifications(ben.page) == []

    hide_tab(ben.page)
    ann.send("sent while the tab is hidden")
    wait_for_message(ben.page, "sent while the tab is hidden")
    ben.page.wait_for_function("window.__notifications.length === 1")
    assert notifications(ben.page)[0]["title"] == ann.name
    assert notifications(ben.page)[0]["body"] == "sent while the tab is hidden"
    # Not read while hidden: the title counts it, and the "New messages" line marks it.
    expect(ben.page).to_have_title(f"(1) {ann.name} · Chat")
    expect(ben.page.locator("#new-messages-line + li.message .text")).to_have_text(
        "sent while the tab is hidden"
    )


# -- the message list ------------------------------------------------------------------


def age_messages(live: Live, path: str, days_by_seq: dict[int, float]) -> None:
    """Move messages of the conversation back in time (created_at), by seq."""
    live.shell(
        "from datetime import timedelta\n"
        "from django.utils import timezone\n"
        "from messaging.models import Message\n"
        "now = timezone.now()\n"
        f"for seq, days in {days_by_seq!r}.items():\n"
        f"    Message.objects.filter(conversation_id={conversation_id(path)}, seq=seq)"
        ".update(created_at=now - timedelta(days=days))\n"
    )


def test_day_separators_and_grouping(pair, live: Live):
    ann, ben, path = pair
    token = api_token(live, ann)
    for text in ("two days ago", "same day, a moment later", "yesterday", "today"):
        post_message(live, token, ann, path, text)
    ben.send("Ben today")
    ann.send("Ann today, after Ben")
    ann.send("Ann again")
    age_messages(live, path, {1: 2, 2: 2 - 1 / 24 / 60, 3: 1})

    ben.open(path)
    page = ben.page
    labels = page.eval_on_selector_all(
        "#message-list li.day-separator", "items => items.map(item => item.textContent)"
    )
    assert len(labels) == 3 and labels[1:] == ["Yesterday", "Today"], labels
    assert labels[0] not in ("Today", "Yesterday") and labels[0].strip(), labels
    # Each separator comes right before the first message of its day.
    firsts = page.eval_on_selector_all(
        "#message-list li.day-separator",
        "items => items.map(item => item.nextElementSibling.querySelector('.text').textContent)",
    )
    assert firsts == ["two days ago", "yesterday", "today"]
    # One sender within a few minutes: one name over the group.
    continued = page.eval_on_selector_all(
        "#message-list li.message",
        "items => items.map(item => item.classList.contains('continued'))",
    )
    assert continued == [False, True, False, False, False, False, True], continued
    expect(message_item(page, "Ann again").locator(".sender")).to_be_hidden()
    expect(message_item(page, "Ann today, after Ben").locator(".sender")).to_be_visible()
    # The full date and time on hover.
    full = message_item(page, "two days ago").locator("time")
    assert re.search(r"\d{4}", full.get_attribute("title")), full.get_attribute("title")


def test_edit_with_the_up_arrow_and_delete_after_confirming_live(pair):
    ann, ben, _ = pair
    ann.send("a first message")
    ann.send("the meeting is at 3 pm, in room 5")
    wait_for_message(ben.page, "the meeting is at 3 pm, in room 5")

    composer = ann.page.locator("#composer-text")
    composer.press("ArrowUp")
    editor = message_item(ann.page, "the meeting is at 3 pm, in room 5").locator(
        "form.edit-form textarea"
    )
    expect(editor).to_be_focused()
    editor.fill("the meeting is at 4 pm, in room 5")
    editor.press("Enter")
    expect(editor).to_have_count(0)
    for page in (ann.page, ben.page):
        edited = message_item(page, "the meeting is at 4 pm, in room 5")
        expect(edited.locator(".edited")).to_have_text("(edited)")
    assert "the meeting is at 3 pm, in room 5" not in message_texts(ben.page)

    # Delete: the confirmation dialog, cancelled first, then confirmed.
    first = message_item(ann.page, "a first message")
    dialog = ann.page.locator("#confirm-delete")
    first.hover()
    first.locator("button[data-action=delete]").click()
    expect(dialog).to_be_visible()
    expect(dialog.locator(".confirm-preview")).to_have_text("a first message")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(message_item(ben.page, "a first message")).to_have_count(1)
    first.hover()
    first.locator("button[data-action=delete]").click()
    dialog.get_by_role("button", name="Delete").click()
    for page in (ann.page, ben.page):
        expect(page.locator("#message-list li.message.deleted .text")).to_have_text(
            "This message was deleted"
        )
        expect(message_item(page, "a first message")).to_have_count(0)
    # Only my own messages have Edit and Delete.
    other = message_item(ben.page, "the meeting is at 4 pm, in room 5")
    expect(other.locator("button[data-action=edit]")).to_have_count(0)
    expect(other.locator("button[data-action=delete]")).to_have_count(0)


def test_a_message_link_loads_and_highlights_an_old_message(pair, live: Live):
    ann, ben, path = pair
    live.shell(
        "from conversations.models import Conversation\n"
        "from messaging.services import import_messages\n"
        "from users.models import User\n"
        f"conversation = Conversation.objects.get(pk={conversation_id(path)})\n"
        f"senders = list(User.objects.filter(pk__in=[{ann.id}, {ben.id}]).order_by('pk'))\n"
        "import_messages(conversation=conversation, senders=senders,"
        " texts=[f'old message {n}' for n in range(1, 131)])\n"
    )
    around = []
    ben.page.on("request", lambda request: "around=" in request.url and around.append(request.url))
    ben.open(f"{path}#m7")
    target = ben.page.locator("#m7")
    expect(target.locator(".text")).to_have_text("old message 7")
    expect(target).to_have_class(re.compile(r"\bhighlighted\b"))
    expect(target).to_be_in_viewport()
    assert len(around) == 1 and "around=7" in around[0], around
    # The page around it, not the newest: those load when scrolled to.
    expect(ben.page.locator("#m130")).to_have_count(0)
    expect(ben.page.locator("#jump-bottom")).to_be_visible()
    # A link inside the app (e.g. from the switcher or a notification) works the same way.
    ben.page.evaluate("history.pushState({}, '', location.pathname + '#m120')")
    ben.page.evaluate("window.dispatchEvent(new PopStateEvent('popstate'))")
    expect(ben.page.locator("#m120")).to_have_class(re.compile(r"\bhighlighted\b"))
    expect(ben.page.locator("#m120")).to_be_in_viewport()


# -- managing a group ------------------------------------------------------------------


def open_settings(page: Page):
    page.locator("#conversation-settings").click()
    dialog = page.locator("#settings")
    expect(dialog).to_be_visible()
    return dialog


def test_rename_add_remove_and_leave_live_for_every_member(sign_up, live: Live):
    ann, ben, cy = sign_up("Ann Able"), sign_up("Ben Baker"), sign_up("Cy Cole")
    dan = sign_up_over_api(live, "Dan Dorn")
    path = start_conversation(ann, ben, cy, title="Trip")
    for person in (ben, cy):
        person.open(path)
        expect(person.page.locator("#chat-title")).to_have_text("Trip")

    # Rename: the title, the sidebar and a notice on every page.
    dialog = open_settings(ann.page)
    dialog.locator("#rename-input").fill("Trip to Kraków")
    dialog.get_by_role("button", name="Rename").click()
    renamed = f"{ann.name} renamed the group to “Trip to Kraków”."
    for person in (ann, ben, cy):
        expect(person.page.locator("#chat-title")).to_have_text("Trip to Kraków")
        expect(conversation_row(person.page, path).locator(".conversation-name")).to_have_text(
            "Trip to Kraków"
        )
        expect(person.page.locator("#message-list li.message.system .text").last).to_have_text(
            renamed
        )

    # Add Dan through the picker in add mode.
    dialog.locator("#add-people").click()
    expect(ann.page.locator("#picker-title")).to_have_text("Add people")
    pick_people(ann.page, [dan])
    ann.page.locator("#picker-submit").click()
    expect(ann.page.locator("#picker")).to_be_hidden()
    for person in (ann, ben, cy):
        expect(person.page.locator("#message-list li.message.system .text").last).to_have_text(
            f"{ann.name} added {dan.name}."
        )
        expect(person.page.locator("#chat-subtitle")).to_contain_text(dan.name)

    # Remove Cy: the others see the notice, Cy's page drops the conversation.
    cy.page.evaluate("window.__sameDocument = true")
    dialog = open_settings(ann.page)
    dialog.get_by_role("button", name=f"Remove {cy.name}").click()
    for person in (ann, ben):
        expect(person.page.locator("#message-list li.message.system .text").last).to_have_text(
            f"{ann.name} removed {cy.name}."
        )
        expect(person.page.locator("#chat-subtitle")).not_to_contain_text(cy.name)
    expect(dialog.get_by_role("button", name=f"Remove {cy.name}")).to_have_count(0)
    dialog.locator("#settings-done").click()
    expect(conversation_row(cy.page, path)).to_have_count(0)
    expect(cy.page.locator("#chat")).to_be_hidden()
    expect(cy.page.locator("#toast")).to_have_text("You are no longer in that conversation.")
    assert cy.page.evaluate("window.__sameDocument") is True

    # Ben leaves: gone from his list, a notice for the others.
    dialog = open_settings(ben.page)
    dialog.locator("#leave-conversation").click()
    expect(conversation_row(ben.page, path)).to_have_count(0)
    expect(ben.page.locator("#chat")).to_be_hidden()
    expect(ann.page.locator("#message-list li.message.system .text").last).to_have_text(
        f"{ben.name} left."
    )
    expect(ann.page.locator("#chat-subtitle")).not_to_contain_text(ben.name)
    assert system_notices(ann.page) == [
        renamed,
        f"{ann.name} added {dan.name}.",
        f"{ann.name} removed {cy.name}.",
        f"{ben.name} left.",
    ]


# -- drafts, the outbox, refused sends ---------------------------------------------------


def test_a_draft_survives_a_reload(pair):
    ann, _, path = pair
    composer = ann.page.locator("#composer-text")
    composer.fill("half a thought")
    ann.page.wait_for_timeout(400)  # the draft is saved 300 ms after the last keystroke
    ann.page.reload()
    expect(composer).to_have_value("half a thought")
    # Each conversation has its own: the list's other conversation starts empty.
    ann.open("/")
    expect(ann.page.locator("#chat")).to_be_hidden()
    ann.open(path)
    expect(composer).to_have_value("half a thought")
    composer.press("Enter")
    wait_for_message(ann.page, "half a thought")
    ann.page.reload()
    expect(composer).to_have_value("")


def test_the_outbox_survives_a_reload_and_sends_once_when_the_server_is_back(
    pair, live: Live, browser_log: BrowserLog
):
    ann, ben, path = pair
    browser_log.allowed.append(WEBSOCKET_FAILED)
    switch = SocketSwitch(ann.context)
    ann.open(path)  # now through the switch
    switch.cut()
    expect(ann.page.locator("#connection")).not_to_have_attribute("data-state", "online")
    composer = ann.page.locator("#composer-text")
    composer.fill("typed while offline")
    composer.press("Enter")
    pending = ann.page.locator("#message-list li.pending .text")
    expect(pending).to_have_text("typed while offline")

    ann.page.reload()
    expect(pending).to_have_text("typed while offline")
    expect(composer).to_have_value("")

    # The server goes down and comes back; the page's socket reconnects and
    # sends the entry, once.
    live.server.kill()
    switch.restore()
    live.server = live.deployment.restart_server(live.server)
    expect(ann.page.locator("#connection")).to_have_attribute(
        "data-state", "online", timeout=RECONNECT_TIMEOUT
    )
    wait_for_message(ann.page, "typed while offline")
    expect(pending).to_have_count(0)
    expect(ben.page.locator("#connection")).to_have_attribute(
        "data-state", "online", timeout=RECONNECT_TIMEOUT
    )
    wait_for_message(ben.page, "typed while offline")
    ann.page.reload()
    wait_for_message(ann.page, "typed while offline")
    expect(pending).to_have_count(0)
    stored = live.api(
        "GET", f"/api/messages/{conversation_id(path)}?limit=200", token=api_token(live, ann)
    )
    assert [m["text"] for m in stored].count("typed while offline") == 1, stored
    assert message_texts(ann.page).count("typed while offline") == 1


class RefusedSends:
    """Routes a context's sockets through Playwright; while `refusing`, the
    page's `message.send` frames do not reach the server and are answered
    with the server's rate-limit refusal (a 60 s wait, so that the page's own
    retry does not come within the test), as the AsyncAPI document describes it."""

    def __init__(self, context: BrowserContext) -> None:
        self.refusing = True
        self.refusals: list[dict] = []
        context.route_web_socket(re.compile(r"/ws/chat/$"), self.route)

    def route(self, page_side: WebSocketRoute) -> None:
        server_side = page_side.connect_to_server()

        def from_page(message: str) -> None:
            frame = json.loads(message)
            if self.refusing and frame["type"] == "message.send":
                refusal = {
                    "type": "error",
                    "code": "throttled",
                    "message": "Too many messages sent.",
                    "status": 429,
                    "frameType": "message.send",
                    "clientMessageId": frame["clientMessageId"],
                    "conversationId": frame["conversationId"],
                    "details": {"retryAfterSeconds": 60},
                }
                self.refusals.append(refusal)
                page_side.send(json.dumps(refusal))
            else:
                server_side.send(message)

        page_side.on_message(from_page)
        server_side.on_message(page_side.send)


def failed_bubble(page: Page, text: str):
    return page.locator("#message-list li.pending.failed").filter(has_text=text)


def test_a_refused_send_offers_retry_and_discard(sign_up, live: Live):
    ann = sign_up("Ann Able")
    ben = sign_up_over_api(live, "Ben Baker")
    path = start_conversation(ann, ben)
    refused = RefusedSends(ann.context)
    ann.open(path)  # now through the router
    composer = ann.page.locator("#composer-text")
    for text in ("to retry", "to discard"):
        composer.fill(text)
        composer.press("Enter")
        bubble = failed_bubble(ann.page, text)
        expect(bubble.get_by_role("alert")).to_have_text(
            "Not sent: sending too fast, retrying in 60 seconds"
        )
    validator = validator_for(live.api("GET", "/api/asyncapi.json"), "error", "server")
    for refusal in refused.refusals:
        assert validator.is_valid(refusal), list(validator.iter_errors(refusal))

    # Refused entries stay in the outbox across a reload, still refused (no
    # resend on their own before their wait is over).
    ann.page.reload()
    expect(ann.page.locator("#connection")).to_have_attribute("data-state", "online")
    for text in ("to retry", "to discard"):
        expect(failed_bubble(ann.page, text).get_by_role("button", name="Retry")).to_be_visible()
        expect(failed_bubble(ann.page, text).get_by_role("button", name="Discard")).to_be_visible()
    assert len(refused.refusals) == 2, refused.refusals

    failed_bubble(ann.page, "to discard").get_by_role("button", name="Discard").click()
    expect(failed_bubble(ann.page, "to discard")).to_have_count(0)
    refused.refusing = False
    failed_bubble(ann.page, "to retry").get_by_role("button", name="Retry").click()
    wait_for_message(ann.page, "to retry")
    expect(ann.page.locator("#message-list li.pending")).to_have_count(0)
    ann.page.reload()
    wait_for_message(ann.page, "to retry")
    expect(ann.page.locator("#message-list li.pending")).to_have_count(0)
    stored = live.api("GET", f"/api/messages/{conversation_id(path)}", token=ben.token)
    assert [message["text"] for message in stored] == ["to retry"]


# -- account ---------------------------------------------------------------------------


def test_sign_out_everywhere_closes_the_other_browsers_socket(
    sign_up, sign_in, browser_log: BrowserLog
):
    browser_log.allowed.append(SIGN_IN_CHECK_REFUSED)
    ann, ben = sign_up("Ann Able"), sign_up("Ben Baker")
    path = start_conversation(ann, ben)
    elsewhere = sign_in(ann)
    elsewhere.goto(path)
    expect(elsewhere.locator("#connection")).to_have_attribute("data-state", "online")

    ann.page.goto("/accounts/profile/")
    ann.page.get_by_role("button", name="Sign out everywhere").click()
    ann.page.wait_for_url(re.compile(r"/accounts/login/"))
    alert = elsewhere.get_by_role("alert")
    expect(alert).to_contain_text("You have been signed out", timeout=3000)
    expect(elsewhere.locator("#connection")).to_have_attribute("data-state", "signed-out")
    expect(elsewhere.locator("#composer-text")).to_be_disabled()
    # Ben was not signed out.
    expect(ben.page.locator("#connection")).to_have_attribute("data-state", "online")


# -- keyboard --------------------------------------------------------------------------


def test_quick_switcher_and_keyboard_through_the_messages(sign_up, live: Live):
    ann = sign_up("Ann Able")
    ben, cy = sign_up_over_api(live, "Ben Baker"), sign_up_over_api(live, "Cy Cole")
    with_ben = start_conversation(ann, ben)
    with_cy = start_conversation(ann, cy)
    post_message(live, ben.token, ben, with_ben, "from Ben")
    ann.send("first of mine")
    ann.send("second of mine")

    page = ann.page
    page.keyboard.press("Control+k")
    switcher = page.locator("#switcher")
    expect(switcher).to_be_visible()
    expect(page.locator("#switcher-input")).to_be_focused()
    page.keyboard.type("ben")
    expect(page.locator("#switcher-results [role=option]")).to_have_count(1)
    page.keyboard.press("Enter")
    expect(switcher).to_be_hidden()
    page.wait_for_url(f"**{with_ben}")
    wait_for_message(page, "from Ben")
    page.keyboard.press("Control+k")
    page.keyboard.type("cy")
    page.keyboard.press("Escape")
    expect(switcher).to_be_hidden()
    assert page.url.endswith(with_ben)
    page.keyboard.press("Control+k")
    page.keyboard.type("cy")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{with_cy}")
    wait_for_message(page, "second of mine")

    # Tab from the conversation's header reaches the message list (one tab
    # stop, the newest message); arrows move; Enter reaches the toolbar.
    page.locator("#conversation-settings").focus()
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.matches('li.message')"):
            break
    newest = message_item(page, "second of mine")
    expect(newest).to_be_focused()
    page.keyboard.press("ArrowUp")
    expect(message_item(page, "first of mine")).to_be_focused()
    page.keyboard.press("Enter")
    toolbar = message_item(page, "first of mine").locator(".message-actions")
    expect(toolbar.locator("button").first).to_be_focused()
    expect(toolbar).to_be_visible()
    page.keyboard.press("Tab")
    expect(toolbar.locator("button").nth(1)).to_be_focused()
    # E edits the focused message of mine; Escape goes back to it.
    message_item(page, "first of mine").focus()
    page.keyboard.press("e")
    expect(message_item(page, "first of mine").locator("form.edit-form textarea")).to_be_focused()
    page.keyboard.press("Escape")
    expect(message_item(page, "first of mine")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#composer-text")).to_be_focused()


# -- language --------------------------------------------------------------------------

# The UI chrome's English, from the chat page, its dialogs and its scripts: none
# of it may be left on the Polish page (names and message texts are Polish here;
# key names such as Enter and Shift are the same in Polish).
ENGLISH_CHROME = [
    "Chat",
    "Conversations",
    "New",
    "conversation",
    "Filter",
    "Send",
    "to send",
    "new line",
    "Jump to",
    "Today",
    "settings",
    "Connected",
    "Connecting",
    "Messages",
    "Members",
    "Message",
    "Profile",
    "Log out",
    "tokens",
    "theme",
    "Skip to content",
    "Copy link",
    "Edit",
    "Delete",
    "you",
    "online",
    "offline",
    "Seen",
    "start of the conversation",
    "Rename",
    "Group name",
    "Mute",
    "Add people",
    "Leave",
    "Done",
]
CHROME_TEXT = """() => {
  const texts = [document.title, document.body.innerText];
  for (const element of document.querySelectorAll("[placeholder], [aria-label], [title]")) {
    for (const name of ["placeholder", "aria-label", "title"]) {
      if (element.hasAttribute(name)) texts.push(element.getAttribute(name));
    }
  }
  for (const hidden of document.querySelectorAll(".visually-hidden")) {
    texts.push(hidden.textContent);
  }
  return texts.join("\\n");
}"""


def english_left(page: Page) -> list[str]:
    text = page.evaluate(CHROME_TEXT)
    return [word for word in ENGLISH_CHROME if re.search(rf"\b{re.escape(word)}\b", text)]


def test_the_conversation_page_in_polish(sign_up, sign_in, live: Live):
    anna = sign_up("Anna Nowak")
    bartek = sign_up_over_api(live, "Bartek Kowalski")
    path = start_conversation(anna, bartek, title="")
    anna.send("Cześć, jak się masz?")
    post_message(live, bartek.token, bartek, path, "Dobrze, dziękuję")
    page = sign_in(anna, locale="pl-PL")
    page.goto(path)
    expect(page.locator("#connection")).to_have_attribute("data-state", "online")
    wait_for_message(page, "Dobrze, dziękuję")
    expect(page.locator("html")).to_have_attribute("lang", "pl")
    assert english_left(page) == []
    page.locator("#conversation-settings").click()
    expect(page.locator("#settings")).to_be_visible()
    assert english_left(page) == []
