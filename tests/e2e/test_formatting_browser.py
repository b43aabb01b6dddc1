"""The message formatting subset (static/chat/format.js) in Chromium: what
each piece of markup becomes, and an XSS corpus that must come out as text.
format.js builds nodes with DOM calls only; these tests render every case in
a real page and describe the result as (tag, attributes, text) so that any
element or attribute other than the few allowed fails."""

import pytest
from playwright.sync_api import Browser, Page

from tests.support.browser import Live

# What a formatted message may contain: these tags, with these attributes.
ALLOWED = {
    "strong": set(),
    "em": set(),
    "code": set(),
    "pre": set(),
    "span": {"class"},
    "a": {"href", "target", "rel"},
}

DESCRIBE = """async ([cases, mentioned, me]) => {
  const { formatted } = await import("/static/chat/format.js");
  const describe = (node) => [...node.childNodes].map((child) =>
    child.nodeType === Node.TEXT_NODE
      ? ["#text", {}, child.data, []]
      : [child.tagName.toLowerCase(),
         Object.fromEntries([...child.attributes].map((a) => [a.name, a.value])),
         child.textContent, describe(child)]);
  return cases.map((text) => {
    const box = document.createElement("div");
    box.append(formatted(text, { mentioned: new Set(mentioned), me }));
    return { tree: describe(box), text: box.textContent, html: box.innerHTML };
  });
}"""

XSS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "javascript:alert(1)",
    "[click](javascript:alert(1))",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    '**<b onmouseover="alert(1)">bold</b>**',
    "_<i>x</i>_",
    "`<script>`",
    "```\n<svg onload=alert(1)>\n```",
    "**_`<iframe src=//evil>`_**",
    'https://example.com/"><script>alert(1)</script>',
    "https://example.com/?q=<img src=x onerror=alert(1)>",
    "<style>body{display:none}</style>",
    "&lt;script&gt;",
    "@<img src=x onerror=alert(1)>",
]


@pytest.fixture(scope="module")
def page(browser: Browser, live: Live) -> Page:
    context = browser.new_context(base_url=live.url)
    page = context.new_page()
    page.goto("/accounts/login/")
    yield page
    context.close()


def render(page: Page, cases: list[str], mentioned=(), me="") -> list[dict]:
    return page.evaluate(DESCRIBE, [cases, list(mentioned), me])


def elements(tree: list) -> list[tuple[str, dict]]:
    found = []
    for tag, attributes, _, children in tree:
        if tag != "#text":
            found.append((tag, attributes))
        found.extend(elements(children))
    return found


def test_markup_becomes_the_subset(page: Page):
    bold, italic, code, fenced, link, lines = render(
        page,
        [
            "a **bold** word",
            "an _italic_ word, not snake_case_names",
            "run `make test` now",
            "```\nfor x in y:\n    **not bold**\n```",
            "see https://example.com/a_b_c.",
            "one\ntwo",
        ],
    )
    assert [(tag, text) for tag, _, text, _ in bold["tree"]] == [
        ("#text", "a "),
        ("strong", "bold"),
        ("#text", " word"),
    ]
    assert [tag for tag, _ in elements(italic["tree"])] == ["em"]
    assert italic["text"] == "an italic word, not snake_case_names"
    assert elements(code["tree"]) == [("code", {})]
    assert code["text"] == "run make test now"
    assert [tag for tag, _ in elements(fenced["tree"])] == ["pre", "code"]
    assert fenced["text"] == "for x in y:\n    **not bold**"
    ((tag, attributes),) = elements(link["tree"])
    assert tag == "a" and attributes["href"] == "https://example.com/a_b_c"
    assert attributes["rel"] == "noopener noreferrer" and attributes["target"] == "_blank"
    assert link["text"] == "see https://example.com/a_b_c."
    assert lines["text"] == "one\ntwo"


def test_only_resolved_mentions_are_highlighted(page: Page):
    (result,) = render(page, ["@ann and @bob, mail x@ann.org"], mentioned=["ann"], me="ann")
    marks = [(tag, attributes) for tag, attributes in elements(result["tree"])]
    assert marks == [("span", {"class": "mention mention-me"})]
    assert result["text"] == "@ann and @bob, mail x@ann.org"


@pytest.mark.parametrize("text", XSS)
def test_the_xss_corpus_stays_text(page: Page, text: str):
    (result,) = render(page, [text], mentioned=["img"])
    for tag, attributes in elements(result["tree"]):
        assert tag in ALLOWED, (text, result["html"])
        assert set(attributes) <= ALLOWED[tag], (text, result["html"])
        if tag == "a":
            assert attributes["href"].startswith(("https://", "http://")), result["html"]
    # Every angle bracket of the input is still text: none became markup.
    assert result["text"].count("<") == text.count("<")
    assert result["text"].count(">") == text.count(">")
