"""Issue 13's message features on the page, with two or three people in
their own browser contexts: a reply quotes its original and leads to it, an
@mention is suggested, highlighted, badged in the list and notifies through
a mute, a reaction toggles live for everyone, and "(edited)" opens the edit
history."""

import re

from playwright.sync_api import expect

from tests.support.browser import (
    Live,
    conversation_row,
    message_item,
    notifications,
    start_conversation,
    wait_for_message,
    watch_notifications,
)


def test_a_reply_quotes_its_original_and_leads_to_it(pair):
    ann, ben, _ = pair
    ann.send("Which room is the review in?")
    wait_for_message(ben.page, "Which room is the review in?")
    original = message_item(ben.page, "Which room is the review in?")
    original.hover()
    original.locator("button[data-action=reply]").click()
    expect(ben.page.locator("#reply-bar")).to_contain_text("Which room is the review in?")
    ben.send("Room 4")

    for page in (ann.page, ben.page):
        reply = message_item(page, "Room 4")
        expect(reply.locator(".reply-quote")).to_contain_text("Which room is the review in?")
    expect(ben.page.locator("#reply-bar")).to_be_hidden()
    message_item(ann.page, "Room 4").locator(".reply-quote").click()
    expect(message_item(ann.page, "Which room is the review in?")).to_have_class(
        re.compile(r"\bhighlighted\b")
    )


def test_a_mention_is_suggested_highlighted_badged_and_notifies_through_a_mute(sign_up, live: Live):
    ann, ben, cy = sign_up("Ann Able"), sign_up("Ben Baker"), sign_up("Cy Cole")
    watch_notifications(live, ben)
    group = start_conversation(ann, ben, cy, title="Review")
    ben.open("/")
    conversation_row(ben.page, group).locator("a").click()
    ben.page.locator("#conversation-settings").click()
    ben.page.locator("#mute-toggle").check()
    expect(conversation_row(ben.page, group)).to_have_class(re.compile(r"\bmuted\b"))
    ben.page.locator("#settings-done").click()
    ben.page.goto("/")
    expect(ben.page.locator("#connection")).to_have_attribute("data-state", "online")

    composer = ann.page.locator("#composer-text")
    composer.press_sequentially(f"@{ben.username[:3]}")
    suggestion = ann.page.locator("#mention-suggestions [role=option]", has_text=ben.name)
    expect(suggestion).to_be_visible()
    composer.press("Enter")  # picks the suggestion, does not send
    expect(composer).to_have_value(f"@{ben.username} ")
    composer.press_sequentially("can you check this?")
    composer.press("Enter")
    text = f"@{ben.username} can you check this?"
    wait_for_message(ann.page, text)

    row = conversation_row(ben.page, group)
    expect(row.locator(".mention-badge")).to_be_visible()
    expect(ben.page).to_have_title("(1) Chat")
    ben.page.wait_for_function("window.__notifications.length === 1")
    (shown,) = notifications(ben.page)
    assert shown["body"] == text

    row.locator("a").click()
    expect(message_item(ben.page, text).locator(".mention-me")).to_have_text(f"@{ben.username}")
    expect(row.locator(".mention-badge")).to_have_count(0)
    # A message without the mention, in the muted conversation: nothing more.
    ben.page.goto("/")
    expect(ben.page.locator("#connection")).to_have_attribute("data-state", "online")
    ann.send("no mention here")
    expect(conversation_row(ben.page, group).locator(".unread")).to_have_attribute(
        "data-count", "1"
    )
    expect(ben.page).to_have_title("Chat")
    assert notifications(ben.page) == []  # recorded since this page load


def test_a_reaction_toggles_live_for_everyone(pair):
    ann, ben, _ = pair
    ann.send("Shipped!")
    wait_for_message(ben.page, "Shipped!")
    item = message_item(ben.page, "Shipped!")
    item.hover()
    item.locator("button[data-action=react]").click()
    ben.page.locator("#emoji-picker button[value='🎉']").click()

    for page, mine in ((ben.page, "true"), (ann.page, "false")):
        reaction = message_item(page, "Shipped!").locator("button.reaction")
        expect(reaction).to_have_attribute("data-emoji", "🎉")
        expect(reaction.locator(".reaction-count")).to_have_text("1")
        expect(reaction).to_have_attribute("aria-pressed", mine)
        expect(reaction).to_have_attribute("title", ben.name)

    message_item(ann.page, "Shipped!").locator("button.reaction").click()  # Ann joins
    expect(
        message_item(ben.page, "Shipped!").locator("button.reaction .reaction-count")
    ).to_have_text("2")
    message_item(ben.page, "Shipped!").locator("button.reaction").click()  # Ben takes his back
    reaction = message_item(ann.page, "Shipped!").locator("button.reaction")
    expect(reaction.locator(".reaction-count")).to_have_text("1")
    expect(reaction).to_have_attribute("title", ann.name)


def test_edited_opens_the_edit_history(pair):
    ann, ben, _ = pair
    ann.send("Meet at 3")
    composer = ann.page.locator("#composer-text")
    composer.press("ArrowUp")
    editor = ann.page.locator(".edit-form textarea")
    editor.fill("Meet at 4")
    editor.press("Enter")
    wait_for_message(ben.page, "Meet at 4")
    message_item(ben.page, "Meet at 4").locator("button.edited").click()
    versions = ben.page.locator("#edit-history .history-versions li .history-text")
    expect(versions).to_have_text(["Meet at 3", "Meet at 4"])
    expect(ben.page.locator("#edit-history .history-when").first).to_contain_text(ann.name)
