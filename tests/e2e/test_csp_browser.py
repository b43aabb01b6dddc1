"""The Content-Security-Policy in a real browser (issue 10, item 15): every
page is served with the strict policy (no inline script) and still works,
the chat pages, the admin and the API docs (Swagger UI) included, without a
single violation. The server, Chromium, console watch and sign-up are the
fixtures of tests/e2e/conftest.py.

A violation is caught twice: Chromium's console message ("Refused to ...
because it violates the following Content Security Policy directive") and
the page's `securitypolicyviolation` event, recorded by an init script
(which the policy does not apply to) and read at the end from each page's
last document (the console has them all)."""

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Response, expect

from tests.support.browser import PASSWORD, TIMEOUT, BrowserLog, Live, start_conversation
from tests.support.live_server import Deployment

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective}: ${event.blockedURI}`);
});
"""
CSP_MESSAGE = re.compile(r"Content[ -]Security[ -]Policy", re.I)
ADMIN_USERNAME = "csp-admin"


class Violations:
    """The CSP violations (console messages and events) of the pages it watches."""

    def __init__(self) -> None:
        self.found: list[str] = []
        self.pages: list[Page] = []

    def watch(self, page: Page) -> None:
        """Watch `page` from its next navigation on."""
        page.add_init_script(RECORD_VIOLATIONS)
        self.listen(page)

    def watch_context(self, context: BrowserContext, browser_log: BrowserLog) -> None:
        """Watch every page the context opens (popups included) from its first document."""
        context.add_init_script(RECORD_VIOLATIONS)
        context.on("page", self.listen)
        context.on("page", lambda page: browser_log.watch(page, "visitor"))

    def listen(self, page: Page) -> None:
        def on_console(message) -> None:
            if CSP_MESSAGE.search(message.text):
                self.found.append(f"console {message.type}: {message.text}")

        page.on("console", on_console)
        self.pages.append(page)

    def harvest(self) -> list[str]:
        """Everything found so far, with the events of the pages still open
        (call it before their context closes)."""
        for page in self.pages:
            if not page.is_closed():
                events = page.evaluate("window.__cspViolations || []")
                self.found += [f"event {event}" for event in events]
        self.pages = []
        return self.found


def assert_strict_policy(response: Response | None) -> None:
    """The page came with the strict policy: without one there is nothing to violate."""
    assert response is not None and response.ok, response
    policy = response.headers.get("content-security-policy", "")
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives.get("script-src") == "'self'", policy
    assert directives.get("object-src") == "'none'", policy
    assert directives.get("frame-ancestors") == "'none'", policy
    assert directives.get("base-uri") == "'self'", policy
    assert "ws://127.0.0.1:" in directives.get("connect-src", ""), policy
    assert "camera=()" in response.headers.get("permissions-policy", "")


@pytest.fixture
def violations(browser_log: BrowserLog) -> Iterator[Violations]:
    """Fails the test on any CSP violation and on any other console error."""
    found = Violations()
    yield found
    assert found.harvest() == []
    assert browser_log.unexpected() == [], browser_log.unexpected()


@pytest.fixture
def page(
    browser: Browser, live: Live, violations: Violations, browser_log: BrowserLog
) -> Iterator[Page]:
    """A page in a fresh context whose every page is watched."""
    context = browser.new_context(base_url=live.url)
    context.set_default_timeout(TIMEOUT)
    violations.watch_context(context, browser_log)
    yield context.new_page()
    violations.harvest()
    context.close()


@pytest.fixture(scope="module")
def superuser(live: Live) -> str:
    """A superuser of the live deployment (Django's createsuperuser); its username."""
    with_password = Deployment(
        {**live.deployment.env, "DJANGO_SUPERUSER_PASSWORD": PASSWORD}, live.deployment.work_dir
    )
    with_password.manage(
        "createsuperuser", "--no-input", "--username", ADMIN_USERNAME, "--email", "a@example.com"
    )
    return ADMIN_USERNAME


def test_the_login_and_sign_up_pages_work_under_the_policy(page: Page):
    assert_strict_policy(page.goto("/accounts/login/"))
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    assert_strict_policy(page.goto("/accounts/signup/"))
    expect(page.get_by_role("button", name="Sign up")).to_be_visible()


def test_the_chat_pages_work_under_the_policy(sign_up, violations: Violations):
    ann, ben = sign_up("Ann Able"), sign_up("Ben Baker")
    violations.watch(ann.page)
    assert_strict_policy(ann.page.goto("/"))
    start_conversation(ann, ben)
    expect(ann.page.locator("#connection")).to_have_attribute("data-state", "online")
    ann.send("hello under a strict policy")


def test_the_admin_works_under_the_policy(page: Page, superuser: str):
    assert_strict_policy(page.goto("/admin/login/"))
    page.fill("#id_username", superuser)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/admin/$"))
    expect(page.locator("#site-name")).to_be_visible()
    # A change list (with actions and filters) and a form with inlines and widgets.
    assert_strict_policy(page.goto("/admin/users/user/"))
    page.locator("#action-toggle").check()
    expect(page.locator(".action-counter")).to_contain_text("selected")
    assert_strict_policy(page.goto("/admin/conversations/conversation/add/"))
    expect(page.locator("form#conversation_form")).to_be_visible()
    with page.expect_popup() as popup:  # the "+" beside a related field
        page.locator("a.related-widget-wrapper-link.add-related").first.click()
    expect(popup.value.locator("#content form")).to_be_visible()
    popup.value.close()
    assert_strict_policy(page.goto("/admin/status/"))
    expect(page.get_by_role("heading", name=re.compile("Open sockets"))).to_be_visible()


def test_the_api_docs_work_under_the_policy(page: Page):
    assert_strict_policy(page.goto("/api/docs/"))
    # Swagger UI rendered the schema: its script ran, and its fetch was allowed.
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Chat API")
    expect(page.locator(".opblock").first).to_be_visible()
