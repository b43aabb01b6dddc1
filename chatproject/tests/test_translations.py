"""The Polish translation (issue 12 item 10, docs/web.md "Languages"): both
catalogs complete and compiled, and the pages in Polish with none of their
templates' English left. The English strings looked for are the msgids whose
location is a template the page rendered, so a string added to a page is
checked as soon as `make messages` collects it."""

import gettext
import json
import re
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.test import RequestFactory
from django.utils import translation
from django.views.defaults import server_error

from messaging.services import delete_message, edit_message, send_message
from tests.support.api import assert_error
from tests.support.factories import TEST_PASSWORD, ConversationFactory, UserFactory
from tests.support.throttling import set_rates
from users import services as user_services
from users.models import User

pytestmark = pytest.mark.django_db

CATALOGS = Path(settings.BASE_DIR) / "locale" / "pl" / "LC_MESSAGES"
DOMAINS = ["django", "djangojs"]
PLURAL_FORMS = (
    "nplurals=3; plural=(n==1 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);"
)
POLISH_BROWSER = {"Accept-Language": "pl,en;q=0.5"}
ENGLISH_BROWSER = {"Accept-Language": "en-GB,en;q=0.8"}


# ---- the .po files ----------------------------------------------------------------


@dataclass
class Entry:
    msgid: str
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    locations: set[str] = field(default_factory=set)


def po_string(text: str) -> str:
    """One quoted PO string, C escapes undone."""
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    return re.sub(r"\\(.)", lambda match: escapes[match[1]], text.strip()[1:-1])


def read_po(domain: str) -> tuple[dict[str, str], list[Entry]]:
    """The catalog's header fields and its entries."""
    entries = []
    for block in re.split(r"\n\s*\n", (CATALOGS / f"{domain}.po").read_text("utf-8").strip()):
        entry, keyword, strings = Entry(msgid=""), None, {}
        for line in block.splitlines():
            if line.startswith("#,"):
                entry.flags |= {flag.strip() for flag in line[2:].split(",")}
            elif line.startswith("#:"):
                entry.locations |= set(line[2:].split())
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                strings[keyword] += po_string(line)
            else:
                keyword, text = line.split(" ", 1)
                strings[keyword] = po_string(text)
        entry.msgid = strings.pop("msgid")
        entry.msgctxt = strings.pop("msgctxt", None)
        entry.msgid_plural = strings.pop("msgid_plural", None)
        entry.msgstr = [strings[key] for key in sorted(strings)]
        entries.append(entry)
    header, *entries = entries
    fields = dict(line.split(": ", 1) for line in header.msgstr[0].splitlines() if line)
    assert "fuzzy" not in header.flags, f"{domain}.po: the header is marked fuzzy"
    return fields, entries


def plural_index(n: int) -> int:
    """PLURAL_FORMS in Python."""
    return 0 if n == 1 else 1 if 2 <= n % 10 <= 4 and not 10 <= n % 100 < 20 else 2


@pytest.mark.parametrize("domain", DOMAINS)
def test_the_catalog_is_polish_with_three_plural_forms(domain):
    fields, _ = read_po(domain)
    assert fields["Language"] == "pl"
    assert fields["Plural-Forms"] == PLURAL_FORMS
    assert fields["Content-Type"] == "text/plain; charset=UTF-8"


def test_the_python_plural_rule_is_the_catalogs():
    rule = gettext.c2py(PLURAL_FORMS.split("plural=")[1].rstrip(";"))
    assert [plural_index(n) for n in range(200)] == [rule(n) for n in range(200)]
    assert [plural_index(n) for n in (1, 2, 4, 5, 12, 14, 21, 22, 25, 112, 122)] == [
        0, 1, 1, 2, 2, 2, 2, 1, 2, 2, 1,
    ]  # fmt: skip


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_entry_is_translated_and_none_is_fuzzy(domain):
    _, entries = read_po(domain)
    assert len(entries) > 40
    for entry in entries:
        assert "fuzzy" not in entry.flags, entry.msgid
        assert entry.msgstr and all(entry.msgstr), f"untranslated: {entry.msgid!r}"
        assert len(entry.msgstr) == (3 if entry.msgid_plural else 1), entry.msgid


def placeholders(text: str) -> list[str]:
    return sorted(re.findall(r"%\(\w+\)[sd]|<[^>]+>|&\w+;", text))


@pytest.mark.parametrize("domain", DOMAINS)
def test_translations_keep_the_placeholders_and_markup(domain):
    _, entries = read_po(domain)
    for entry in entries:
        for index, text in enumerate(entry.msgstr):
            source = entry.msgid if index == 0 or not entry.msgid_plural else entry.msgid_plural
            assert placeholders(text) == placeholders(source), (entry.msgid, text)


@pytest.mark.parametrize("domain", DOMAINS)
def test_the_mo_file_is_compiled_from_the_po_file(domain):
    """A .po changed without `make messages` (compilemessages) leaves a stale
    .mo: the server would show the old translation, or none."""
    _, entries = read_po(domain)
    with (CATALOGS / f"{domain}.mo").open("rb") as compiled:
        mo = gettext.GNUTranslations(compiled)
    for entry in entries:
        if entry.msgid_plural:
            for n in (1, 2, 5, 22):
                key = (entry.msgid, plural_index(n))
                if entry.msgctxt:
                    key = (f"{entry.msgctxt}\x04{entry.msgid}", plural_index(n))
                assert mo._catalog.get(key) == entry.msgstr[plural_index(n)], entry.msgid
        elif entry.msgctxt:
            assert mo.pgettext(entry.msgctxt, entry.msgid) == entry.msgstr[0], entry.msgid
        else:
            assert mo.gettext(entry.msgid) == entry.msgstr[0], entry.msgid
    compiled_ids = {key[0] if isinstance(key, tuple) else key for key in mo._catalog} - {""}
    po_ids = {
        f"{entry.msgctxt}\x04{entry.msgid}" if entry.msgctxt else entry.msgid for entry in entries
    }
    assert compiled_ids == po_ids
    assert mo.plural(5) == 2 and mo.plural(22) == 1


# Strings marked in the sources with the simple forms (blocktranslate and the
# Python ones are left to makemessages), to tell a string marked since the last
# `make messages` from one the catalog has.
MARKED_IN_MODULES = re.compile(r'\b(?:gettext|ngettext)\(\s*"((?:[^"\\]|\\.)*)"')
MARKED_IN_TEMPLATES = re.compile(r"""\{%\s*translate\s+(?:"([^"]*)"|'([^']*)')\s*%\}""")


def marked_strings(pattern: re.Pattern, files: list[Path]) -> set[str]:
    assert files
    return {
        next(group for group in match.groups() if group is not None)
        for path in files
        for match in pattern.finditer(path.read_text("utf-8"))
    }


@pytest.mark.parametrize(
    ("domain", "pattern", "folder", "suffix"),
    [
        ("djangojs", MARKED_IN_MODULES, "static", "*.js"),
        ("django", MARKED_IN_TEMPLATES, "templates", "*.html"),
    ],
    ids=["modules", "templates"],
)
def test_every_string_marked_in_the_sources_is_in_the_catalog(domain, pattern, folder, suffix):
    """A string marked since the last `make messages` fails here (run it, and
    translate the new entries)."""
    files = sorted((Path(settings.BASE_DIR) / folder).rglob(suffix))
    marked = marked_strings(pattern, files)
    _, entries = read_po(domain)
    assert len(marked) > 40
    assert marked - {entry.msgid for entry in entries if entry.msgctxt is None} == set()


# ---- the pages ------------------------------------------------------------------

INLINE = {"a", "abbr", "b", "code", "em", "i", "kbd", "small", "span", "strong", "time"}
SHOWN_ATTRIBUTES = {"alt", "aria-label", "placeholder", "title"}


class ShownText(HTMLParser):
    """What a page shows or reads out: its text (not scripts or styles), with a
    line break at each block element, and the attributes that are shown or
    read (plus a button input's value) on lines of their own."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag in {"script", "style"}:
            self.skipping += 1
        if tag not in INLINE:
            self.parts.append("\n")
        shown = [value for name, value in attrs if name in SHOWN_ATTRIBUTES and value]
        if tag == "input" and values.get("type") in {"submit", "button"} and values.get("value"):
            shown.append(values["value"])
        self.parts.extend(f"\n{value}\n" for value in shown)

    def handle_endtag(self, tag):
        if tag in {"script", "style"}:
            self.skipping -= 1
        if tag not in INLINE:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)

    def text(self) -> str:
        return "\n".join(
            re.sub(r"\s+", " ", line).strip() for line in "".join(self.parts).split("\n")
        )


def shown_lines(response) -> list[str]:
    parser = ShownText()
    parser.feed(response.content.decode())
    return [line for line in parser.text().split("\n") if line]


def literal_parts(msgid: str) -> list[str]:
    """The English words of a msgid as a page shows them: without markup and
    placeholders, each run between placeholders on its own."""
    text = unescape(re.sub(r"<[^>]+>", "", msgid))
    runs = (re.sub(r"\s+", " ", run).strip() for run in re.split(r"%\(\w+\)[sd]", text))
    return [run for run in runs if re.search(r"[A-Za-z]", run)]


def rendered_templates(response) -> set[str]:
    return {template.name for template in response.templates if template.name}


def english_strings_of(templates: set[str]) -> set[str]:
    """The English of every translated msgid of `templates` (names as Django's loader has them)."""
    locations = {f"templates/{name}" for name in templates}
    _, entries = read_po("django")
    return {
        part
        for entry in entries
        if entry.locations & locations and entry.msgstr[0] != entry.msgid
        for part in literal_parts(entry.msgid)
    }


def english_left(
    response, templates: set[str] | None = None, data: tuple[str, ...] = ()
) -> set[str]:
    """Which of its templates' English strings the page shows (`templates`:
    those it rendered, when the test client did not render it), once `data`
    (what the page quotes from elsewhere: paths, hosts, error texts) is taken out."""
    text = "\n".join(shown_lines(response))
    for quoted in data:
        text = text.replace(quoted, "")
    return {
        english
        for english in english_strings_of(templates or rendered_templates(response))
        if re.search(rf"(?<!\w){re.escape(english)}(?!\w)", text)
    }


def unmarked_lines(polish, english, data: set[str]) -> set[str]:
    """Lines with words that the page in Polish shows exactly as in English,
    once `data` (the users' own words, names, keys) is taken out: strings not
    marked at all, which no catalog knows of."""
    in_english = set(shown_lines(english))

    def words_left(line: str) -> bool:
        for text in data:
            line = line.replace(text, "")
        return bool(re.search(r"[A-Za-z]", line))

    return {line for line in shown_lines(polish) if line in in_english and words_left(line)}


def assert_polish_page(
    polish, *, status: int = 200, expected: tuple[str, ...] = (), data: tuple[str, ...] = ()
) -> list[str]:
    """`polish` is a page in Polish: <html lang="pl">, none of its templates'
    English (outside `data`), and `expected` (Polish) shown."""
    assert polish.status_code == status
    assert '<html lang="pl"' in polish.content.decode()
    assert english_left(polish, data=data) == set()
    lines = shown_lines(polish)
    for text in expected:
        assert any(text in line for line in lines), text
    return lines


def assert_translated_page(
    client, path, *, data=frozenset(), post=None, status=200, expected=()
) -> list[str]:
    """The page at `path` (POSTed `post`, if given) in Polish, as
    assert_polish_page, and nothing of it left as in English but `data`."""

    def fetch(headers):
        if post is None:
            return client.get(path, headers=headers)
        return client.post(path, post, headers=headers)

    polish, english = fetch(POLISH_BROWSER), fetch(ENGLISH_BROWSER)
    assert english.status_code == status
    assert unmarked_lines(polish, english, set(data)) == set()
    return assert_polish_page(polish, status=status, expected=expected)


@pytest.fixture
def ala(db) -> User:
    return UserFactory(username="ala", display_name="Ala")


@pytest.fixture
def ala_client(client, ala):
    client.force_login(ala)
    return client


@pytest.fixture
def chats(ala):
    """Ala's direct conversation with Bartek (a message, an edited one, a
    deleted one) and her group; the texts are Polish, as a user's would be."""
    bartek = UserFactory(username="bartek", display_name="Bartek")
    direct = ConversationFactory(members=[ala, bartek])
    group = ConversationFactory(kind="group", title="Zespół", members=[ala, bartek])
    send_message(sender=bartek, conversation=direct, text="Cześć, Ala!")
    mine, _ = send_message(sender=ala, conversation=direct, text="Cześć")
    edit_message(actor=ala, message=mine, text="Cześć!")
    gone, _ = send_message(sender=bartek, conversation=direct, text="Już nieważne")
    delete_message(actor=bartek, message=gone)
    return {"direct": direct, "group": group}


CHAT_DATA = {"Ala", "Bartek", "Zespół", "Cześć"}
CHAT_CHROME = ("Rozmowy", "Filtruj rozmowy", "Nowa", "Wyślij", "Wiadomość", "Wyloguj się", "Profil")


def test_the_inbox_in_polish_has_no_english_chrome(ala_client, chats):
    assert_translated_page(
        ala_client,
        "/",
        data=CHAT_DATA,
        expected=(*CHAT_CHROME, "Wybierz rozmowę albo rozpocznij nową.", "Zespół"),
    )


def test_a_conversation_in_polish_has_no_english_chrome(ala_client, chats):
    lines = assert_translated_page(
        ala_client,
        f"/c/{chats['direct'].pk}/",
        data=CHAT_DATA,
        expected=(
            *CHAT_CHROME,
            "Ta wiadomość została usunięta",
            "(edytowano)",
            "Usunąć tę wiadomość?",
            "Nastąpiło wylogowanie.",
        ),
    )
    assert "Cześć, Ala!" in lines


def test_the_checks_find_the_english_of_an_english_page(ala_client, chats):
    """The list of English strings is not empty, and the checks find them:
    the same page in English shows every one of its chrome strings, and
    compared with itself every line of it is "unmarked"."""
    english = ala_client.get(f"/c/{chats['direct'].pk}/", headers=ENGLISH_BROWSER)
    expected = {"Conversations", "Send", "Filter conversations", "Message", "New", "Log out"}
    assert expected <= english_strings_of(rendered_templates(english))
    assert expected <= english_left(english)
    assert len(english_left(english)) > 30
    assert {"Conversations", "Send", "Filter conversations", "Log out"} <= unmarked_lines(
        english, english, CHAT_DATA
    )


def test_a_user_who_chose_polish_gets_it_from_an_english_browser(client, chats, ala):
    ala.language = User.Language.POLISH
    ala.save(update_fields=["language"])
    client.force_login(ala)
    response = client.get(f"/c/{chats['direct'].pk}/", headers=ENGLISH_BROWSER)
    assert_polish_page(response, expected=CHAT_CHROME)


def test_a_user_who_chose_english_gets_it_from_a_polish_browser(client, chats, ala):
    ala.language = User.Language.ENGLISH
    ala.save(update_fields=["language"])
    client.force_login(ala)
    response = client.get("/", headers=POLISH_BROWSER)
    assert '<html lang="en"' in response.content.decode()
    assert {"Conversations", "Send"} <= english_left(response)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/accounts/login/", ("Zaloguj się", "Nazwa użytkownika", "Hasło", "Załóż konto")),
        (
            "/accounts/signup/",
            ("Załóż konto", "Wyświetlana nazwa (opcjonalnie)", "Masz już konto?"),
        ),
    ],
)
def test_the_sign_in_pages_in_polish(client, path, expected):
    assert_translated_page(client, path, expected=expected)


def test_the_sign_up_pages_errors_in_polish(client, ala):
    """Django's validators are translated by Django; the sign-up service's own
    message ("taken", for "ala" spelt with a Cyrillic a) by this catalog."""
    form = {"username": "\u0430la", "password1": TEST_PASSWORD}
    mismatch = {**form, "password2": "something else"}
    assert_translated_page(
        client, "/accounts/signup/", post=mismatch, expected=("Hasła w obu polach nie są zgodne.",)
    )
    taken = {**form, "password2": TEST_PASSWORD}
    assert_translated_page(
        client, "/accounts/signup/", post=taken, expected=("Ta nazwa użytkownika jest zajęta",)
    )
    assert list(User.objects.values_list("username", flat=True)) == ["ala"]


def test_the_sign_in_limit_in_polish_and_in_english_in_the_api(
    settings, client, api_client, clock, ala
):
    """The login page's notice is the limiter's reason and wait, translated;
    the API's message for the same limit stays English."""
    set_rates(settings, {"auth.username": "1/min"})
    form = {"username": "ala", "password": "guess"}
    client.post("/accounts/login/", form)
    lines = assert_translated_page(client, "/accounts/login/", post=form, status=429)
    notice = "Zbyt wiele nieudanych prób logowania na tę nazwę użytkownika. Spróbuj ponownie za"
    assert any(re.fullmatch(rf"{notice} \d+ sekund[ay]?\.", line) for line in lines), lines
    response = api_client.post(
        "/api/auth/token",
        {"username": "ala", "password": "guess"},
        format="json",
        headers=POLISH_BROWSER,
    )
    error = assert_error(response, 429, "throttled")
    assert error["message"].startswith("Too many failed sign-in attempts for this username.")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/accounts/profile/", ("Profil", "Nazwa i preferencje", "Motyw", "Systemowy", "Język")),
        ("/accounts/tokens/", ("Tokeny API", "Utwórz token", "Nie masz jeszcze tokenów.")),
        ("/accounts/password/", ("Zmień hasło", "Wróć do profilu")),
        ("/conversations/new/", ("Nowa rozmowa", "Szukaj po imieniu lub nazwie użytkownika")),
    ],
)
def test_the_account_pages_in_polish(ala_client, path, expected):
    # The language choices are named in their own language.
    data = {"Ala", "English", "Polski"}
    assert_translated_page(ala_client, path, data=data, expected=expected)


def test_the_tokens_list_in_polish(ala_client, ala):
    unnamed, _ = user_services.issue_token(ala, name="")
    revoked, _ = user_services.issue_token(ala, name="skrypt")
    user_services.revoke_token(revoked)
    assert_translated_page(
        ala_client,
        "/accounts/tokens/",
        data={"Ala", "skrypt", unnamed.prefix, revoked.prefix},
        expected=("Twoje tokeny", "(bez nazwy)", "nigdy", "unieważniony", "Unieważnij"),
    )


def test_the_404_page_in_polish(ala_client):
    assert_translated_page(
        ala_client,
        "/no/such/page/",
        data={"/no/such/page/"},
        status=404,
        expected=("Nie znaleziono strony",),
    )


def test_the_403_page_in_polish(client):
    client.force_login(UserFactory(is_staff=True))  # staff, not a superuser
    assert_translated_page(
        client, "/admin/status/", status=403, expected=("Nie możesz otworzyć tej strony", "Czat")
    )


def test_the_500_page_in_polish():
    """Rendered with no context at all, in the language the request had."""
    with translation.override("pl"):
        response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    assert '<html lang="pl"' in response.content.decode()
    assert english_left(response, {"500.html", "errors/base.html"}) == set()
    assert "Coś poszło nie tak" in shown_lines(response)


def test_the_status_page_in_polish(admin_client):
    """The status page's own strings (the admin's menu around it has the
    models' names, which are not translated: docs/web.md "Languages")."""
    response = admin_client.get("/admin/status/", headers=POLISH_BROWSER)
    # The checks' details quote the database's path and the layer's hosts,
    # which may hold any word (CI failed once with the database under a ".../check/..." path).
    context = response.context
    quoted = (
        *(check.detail for check in context["checks"]),
        *context["layer_hosts"],
        context["redis_url"] or "",
    )
    assert_polish_page(
        response, expected=("Stan czatu", "Warstwa kanałów", "Otwarte gniazda: 0"), data=quoted
    )


# ---- the JavaScript catalog -----------------------------------------------------


def test_jsi18n_in_polish_serves_every_translation_of_the_modules(client):
    response = client.get("/jsi18n/", headers=POLISH_BROWSER)
    assert response.status_code == 200
    source = response.content.decode()
    catalog = json.loads(re.search(r"const newcatalog = (\{.*?\});\n", source, re.S)[1])
    _, entries = read_po("djangojs")
    for entry in entries:
        assert catalog[entry.msgid] == (entry.msgstr if entry.msgid_plural else entry.msgstr[0])
    assert catalog["Today"] == "Dzisiaj"
    assert catalog["%(count)s new message"] == [
        "%(count)s nowa wiadomość",
        "%(count)s nowe wiadomości",
        "%(count)s nowych wiadomości",
    ]
    assert PLURAL_FORMS.split("plural=")[1].rstrip(";") in source


def test_jsi18n_in_english_has_no_polish(client):
    source = client.get("/jsi18n/", headers=ENGLISH_BROWSER).content.decode()
    assert "django.gettext = function" in source
    assert "Dzisiaj" not in source and "newcatalog" not in source
