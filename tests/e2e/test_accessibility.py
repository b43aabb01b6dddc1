"""Accessibility and layout of the web app in Chromium (issue 12, items 8, 9
and 11): axe-core (axe-playwright-python) finds no serious or critical
violation on any page, in the light theme, the dark one from
`prefers-color-scheme`, and the dark one chosen with the header's toggle;
at 375 px and 1280 px nothing scrolls sideways, the header is one line and
the composer is on screen. The screenshots (docs/screenshot-{width}-{theme}.png,
README.md) are written to docs/ with CHAT_UPDATE_SCREENSHOTS=1 and to
test-results/ otherwise. The fixtures are tests/e2e/conftest.py's.
"""

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import (
    SCREENSHOTS,
    TIMEOUT,
    Live,
    Person,
    no_sideways_scroll,
    post_message,
    sign_up_over_api,
    start_conversation,
    wait_for_message,
)

BLOCKING = {"serious", "critical"}
HEADER_MAX_PX = 60

axe = Axe()


def blocking_violations(page: Page, where: str) -> list[str]:
    """axe-core on the page as it is now: one line per serious or critical
    violation (rule, impact, help, the first few elements), printed too."""
    found = []
    for violation in axe.run(page).response["violations"]:
        if violation["impact"] not in BLOCKING:
            continue
        targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:5]]
        found.append(
            f"{where}: {violation['id']} ({violation['impact']}) {violation['help']}: {targets}"
        )
    for line in found:
        print(line)
    return found


def chat_pages(page: Page, path: str, theme: str) -> list[str]:
    """The inbox, the conversation, its dialogs open, and the @ suggestions."""
    found = []
    page.goto("/")
    expect(page.locator("#connection")).to_have_attribute("data-state", "online")
    found += blocking_violations(page, f"inbox, {theme}")
    page.goto(path)
    expect(page.locator("#connection")).to_have_attribute("data-state", "online")
    wait_for_message(page, "Are we still on for 3?")
    found += blocking_violations(page, f"conversation, {theme}")
    page.locator("#new-conversation").click()
    expect(page.locator("#picker-results [role=option]").first).to_be_visible()
    found += blocking_violations(page, f"picker, {theme}")
    page.keyboard.press("Escape")
    page.locator("#conversation-settings").click()
    expect(page.locator("#settings")).to_be_visible()
    found += blocking_violations(page, f"settings dialog, {theme}")
    page.keyboard.press("Escape")
    message = page.locator("#message-list li.message").last
    message.hover()
    message.locator("button[data-action=react]").click()
    expect(page.locator("#emoji-picker")).to_be_visible()
    found += blocking_violations(page, f"emoji picker, {theme}")
    page.keyboard.press("Escape")
    # Closing gives focus back to the message (actions.js): typed before
    # that, "@b" went outside the composer.
    expect(page.locator("#emoji-picker")).to_be_hidden()
    page.wait_for_function("() => document.activeElement?.closest('#message-list') != null")
    page.locator("#composer-text").press_sequentially("@b")
    expect(page.locator("#mention-suggestions")).to_be_visible()
    found += blocking_violations(page, f"mention suggestions, {theme}")
    page.locator("#composer-text").fill("")
    page.goto("/accounts/profile/")
    found += blocking_violations(page, f"profile, {theme}")
    return found


def signed_out_pages(browser: Browser, live: Live, color_scheme: str) -> list[str]:
    context = browser.new_context(base_url=live.url, color_scheme=color_scheme)
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    found = []
    for path, name in (("/accounts/login/", "login"), ("/accounts/signup/", "sign-up")):
        page.goto(path)
        found += blocking_violations(page, f"{name}, {color_scheme}")
    context.close()
    return found


@pytest.fixture
def group_chat(sign_up, live: Live) -> tuple[Person, str]:
    """Ann in a group with two people who write over the API, on its page,
    with messages from everyone (a day separator, grouping, a system notice)."""
    ann = sign_up("Ann Able")
    ben, cy = sign_up_over_api(live, "Ben Baker"), sign_up_over_api(live, "Cy Cole")
    path = start_conversation(ann, ben, cy, title="Design review")
    post_message(live, ben.token, ben, path, "Are we still on for 3?")
    post_message(live, cy.token, cy, path, "Yes, see https://example.com/agenda")
    ann.send("Great, I'll bring the mockups.")
    return ann, path


def test_no_serious_violation_on_any_page_in_either_theme(
    group_chat, sign_in, browser: Browser, live: Live
):
    ann, path = group_chat
    found = chat_pages(ann.page, path, "light")
    found += chat_pages(sign_in(ann, color_scheme="dark"), path, "dark (prefers-color-scheme)")
    # The header's toggle: dark on a light system, saved for the user.
    ann.page.goto(path)
    ann.page.locator("#theme-toggle").click()
    expect(ann.page.locator("html")).to_have_attribute("data-theme", "dark")
    ann.page.reload()
    expect(ann.page.locator("html")).to_have_attribute("data-theme", "dark")
    found += chat_pages(ann.page, path, "dark (toggle)")
    found += signed_out_pages(browser, live, "light")
    found += signed_out_pages(browser, live, "dark")
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_layout_at_phone_and_desktop_widths_and_screenshots(group_chat, sign_in, theme: str):
    ann, path = group_chat
    page = sign_in(ann, color_scheme=theme)
    SCREENSHOTS.mkdir(exist_ok=True)
    for width, height in ((1280, 800), (375, 667)):
        page.set_viewport_size({"width": width, "height": height})
        for where in ("/", path):  # the list, then the conversation
            page.goto(where)
            expect(page.locator("#connection")).to_have_attribute("data-state", "online")
            no_sideways_scroll(page)
            header = page.locator(".site-header").bounding_box()
            assert header["height"] < HEADER_MAX_PX, f"{where} at {width} px: {header}"
        wait_for_message(page, "Great, I'll bring the mockups.")
        expect(page.locator("#composer-text")).to_be_in_viewport(ratio=1)
        expect(page.locator("#composer button[type=submit]")).to_be_in_viewport(ratio=1)
        if width >= 900:  # both panes side by side
            expect(page.locator("#conversation-list")).to_be_visible()
        else:  # one pane: the conversation, with a way back to the list
            expect(page.locator("#conversation-list")).to_be_hidden()
            expect(page.locator("#back")).to_be_visible()
        page.locator("#composer-text").blur()  # no focus ring in the picture
        picture = SCREENSHOTS / f"screenshot-{width}-{theme}.png"
        page.screenshot(path=str(picture))
        assert picture.stat().st_size > 10_000
