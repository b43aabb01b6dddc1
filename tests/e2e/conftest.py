"""Fixtures of the browser tests: each module gets one SQLite deployment
with one daphne process (`live`) and one Chromium (`browser`); each test's
people sign up in fresh browser contexts (`sign_up`), and the test fails on
any unexpected console error, page error or dialog of their pages."""

import itertools
import uuid
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.support.browser import (
    DESKTOP,
    LAUNCH_ARGS,
    PASSWORD,
    TIMEOUT,
    BrowserLog,
    Live,
    Person,
    page_data,
    start_conversation,
)
from tests.support.live_server import sqlite_deployment
from tests.support.services import require_chromium

_serial = itertools.count(1)


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    with sqlite_deployment(tmp_path_factory.mktemp("e2e")) as deployment:
        yield Live(deployment, deployment.start_server())


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # The chromium_path fixture's check, for a module-scoped browser.
    chromium = require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def bfcache_browser(browser: Browser) -> Iterator[Browser]:
    """A Chromium with its back/forward cache on (Playwright turns it off by default)."""
    browser = browser.browser_type.launch(
        executable_path=require_chromium(),
        args=LAUNCH_ARGS,
        ignore_default_args=["--disable-back-forward-cache"],
    )
    yield browser
    browser.close()


@pytest.fixture
def browser_log() -> BrowserLog:
    return BrowserLog()


@pytest.fixture
def sign_up(
    browser: Browser, live: Live, browser_log: BrowserLog
) -> Iterator[Callable[..., Person]]:
    """sign_up("Ann") -> a Person in a fresh browser context, signed up through
    the sign-up page and now on the inbox. At teardown the contexts close and
    the test fails on any unexpected console error, page error or dialog."""
    contexts: list[BrowserContext] = []

    def make(name: str, viewport: dict = DESKTOP, in_browser: Browser | None = None) -> Person:
        username = f"{name.split()[0].lower()}{next(_serial)}{uuid.uuid4().hex[:4]}"
        context = (in_browser or browser).new_context(base_url=live.url, viewport=viewport)
        contexts.append(context)
        context.set_default_timeout(TIMEOUT)
        page = context.new_page()
        browser_log.watch(page, username)
        page.goto("/accounts/signup/")
        page.fill("#id_username", username)
        page.fill("#id_display_name", name)
        page.fill("#id_password1", PASSWORD)
        page.fill("#id_password2", PASSWORD)
        page.get_by_role("button", name="Sign up").click()
        page.wait_for_url(f"{live.url}/")
        expect(page.locator(".whoami")).to_have_text(name)
        return Person(username, name, page_data(page)["me"], context, page)

    yield make
    for context in contexts:
        context.close()
    assert browser_log.dialogs == [], browser_log.dialogs
    assert browser_log.unexpected() == [], browser_log.unexpected()


@pytest.fixture
def sign_in(browser: Browser, live: Live, browser_log: BrowserLog) -> Iterator[Callable[..., Page]]:
    """sign_in(person, **context_options) -> a page of `person` signed in from
    another browser (a fresh context with `context_options`, e.g. color_scheme
    or locale, through the login page: a session of its own), on the inbox."""
    contexts: list[BrowserContext] = []

    def make(person: Person, **context_options) -> Page:
        options = {"viewport": DESKTOP, **context_options}
        context = browser.new_context(base_url=live.url, **options)
        contexts.append(context)
        context.set_default_timeout(TIMEOUT)
        page = context.new_page()
        browser_log.watch(page, f"{person.username} (another browser)")
        page.goto("/accounts/login/")
        page.fill("#id_username", person.username)
        page.fill("#id_password", PASSWORD)
        page.locator("#id_password").press("Enter")  # whatever the page's language
        page.wait_for_url(f"{live.url}/")
        expect(page.locator("#connection")).to_have_attribute("data-state", "online")
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def pair(sign_up) -> tuple[Person, Person, str]:
    """Ann and Ben in a direct conversation, both on its page and connected."""
    ann, ben = sign_up("Ann Able"), sign_up("Ben Baker")
    path = start_conversation(ann, ben)
    expect(ann.page.locator("#connection")).to_have_attribute("data-state", "online")
    ben.open(path)
    return ann, ben, path
