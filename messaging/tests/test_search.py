"""Message search: GET /api/search/messages and messaging/search.py, on
SQLite and on PostgreSQL (the suite runs on both: where their matching
differs, connection.vendor picks what each run checks).

Who: only the caller's conversations, never deleted or system messages,
edited ones by their current text. Filters, keyset paging through the Link
header, the snippet (plain text, code-point offsets), 400s, the throttle,
and a constant number of queries however many hits a page has."""

import itertools
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import hypothesis
import pytest
from django.db import connection
from hypothesis import strategies as st

from conversations.models import Membership
from messaging import search
from messaging.models import Message
from messaging.services import (
    add_reaction,
    delete_message,
    edit_message,
    import_messages,
    post_system_message,
    send_message,
)
from tests.support.api import assert_error, client_for
from tests.support.factories import ConversationFactory, UserFactory
from tests.support.throttling import set_rates

pytestmark = pytest.mark.django_db

URL = "/api/search/messages"
POSTGRES = "postgresql"
# The caller's conversations, the hits (PostgreSQL: the newest messages,
# then the word statistics and the index or a walk when they hold too few:
# messaging.search.postgres_hits), the page, and its mentions, reactions and
# attachments (prefetched).
SEARCH_QUERIES = 9


@pytest.fixture
def alice(db):
    return UserFactory()


@pytest.fixture
def bob(db):
    return UserFactory()


@pytest.fixture
def direct(alice, bob):
    return ConversationFactory(members=[alice, bob])


def say(sender, conversation, text: str) -> Message:
    return send_message(sender=sender, conversation=conversation, text=text)[0]


def found(client, **params) -> list[dict]:
    response = client.get(URL, params)
    assert response.status_code == 200, response.content[:500]
    return response.json()["results"]


def texts(results: list[dict]) -> list[str]:
    return [result["message"]["text"] for result in results]


def marked(snippet: dict) -> list[str]:
    """The highlighted parts of a snippet, as the page cuts them out."""
    return [snippet["text"][start:end] for start, end in snippet["highlights"]]


def next_link(response) -> dict | None:
    """The query of the Link header's rel="next", if any."""
    match = re.search(r'<([^>]*)>;\s*rel="next"', response.get("Link", ""))
    if match is None:
        return None
    url = urlsplit(match.group(1))
    assert url.path == URL
    return {name: values[0] for name, values in parse_qs(url.query).items()}


# Who sees what --------------------------------------------------------------------


def test_only_the_callers_conversations_are_searched(alice, bob, direct):
    carol, dave = UserFactory(), UserFactory()
    theirs = ConversationFactory(members=[carol, dave])
    group = ConversationFactory(members=[alice, carol], kind="group")
    left = ConversationFactory(members=[alice, dave], kind="group")
    say(bob, direct, "the launch is on Friday")
    say(carol, group, "launch party after")
    say(carol, theirs, "a secret launch code")
    say(dave, left, "launch before alice left")
    Membership.objects.filter(conversation=left, user=alice).delete()

    results = found(client_for(alice), q="launch")
    assert texts(results) == ["launch party after", "the launch is on Friday"]
    assert {result["message"]["conversationId"] for result in results} == {
        str(group.pk),
        str(direct.pk),
    }
    assert texts(found(client_for(carol), q="launch")) == [
        "a secret launch code",
        "launch party after",
    ]


def test_a_result_carries_the_message_shape_to_jump_to_it(alice, bob, direct):
    message = say(bob, direct, "where is the report?")
    add_reaction(user=alice, message=message, emoji="👀")
    (result,) = found(client_for(alice), q="report")
    history = client_for(alice).get(f"/api/messages/{direct.pk}").json()
    assert result["message"] == history[-1]
    assert (result["message"]["conversationId"], result["message"]["seq"]) == (str(direct.pk), 1)
    assert result["message"]["reactions"][0]["me"] is True


def test_anonymous_callers_are_refused(client, direct):
    assert_error(client.get(URL, {"q": "x"}), 401)


def test_edited_messages_are_found_by_their_new_text_only(alice, bob, direct):
    message = say(bob, direct, "meet at the harbour")
    edit_message(actor=bob, message=message, text="meet at the station")
    client = client_for(alice)
    assert found(client, q="harbour") == []
    assert texts(found(client, q="station")) == ["meet at the station"]


def test_deleted_messages_are_never_found(alice, bob, direct):
    message = say(bob, direct, "my password is swordfish")
    say(bob, direct, "swordfish is a fish")
    delete_message(actor=bob, message=message)
    assert texts(found(client_for(alice), q="swordfish")) == ["swordfish is a fish"]
    assert texts(found(client_for(alice), q="password")) == []


def test_system_messages_are_never_found(alice, bob, direct):
    post_system_message(direct, "Alice renamed the conversation to Planning")
    say(bob, direct, "planning starts now")
    assert texts(found(client_for(alice), q="planning")) == ["planning starts now"]
    assert found(client_for(alice), q="renamed") == []


def test_a_deleted_senders_messages_are_still_found(alice, bob, direct):
    say(bob, direct, "farewell everyone")
    bob.delete()
    (result,) = found(client_for(alice), q="farewell")
    assert result["message"]["sender"] is None


# Filters ----------------------------------------------------------------------------


def test_conversation_id_narrows_the_search(alice, bob, direct):
    group = ConversationFactory(members=[alice, bob], kind="group")
    say(bob, direct, "budget in the direct one")
    say(bob, group, "budget in the group")
    client = client_for(alice)
    assert texts(found(client, q="budget", conversationId=str(group.pk))) == ["budget in the group"]


def test_a_conversation_id_of_another_conversation_is_403_and_an_unknown_one_404(alice, bob):
    theirs = ConversationFactory(members=[bob, UserFactory()])
    say(bob, theirs, "budget talk")
    client = client_for(alice)
    assert_error(client.get(URL, {"q": "budget", "conversationId": theirs.pk}), 403)
    assert_error(client.get(URL, {"q": "budget", "conversationId": "999999"}), 404)
    assert_error(client.get(URL, {"q": "budget", "conversationId": "x"}), 400, "validation_error")


def test_from_narrows_to_one_sender(alice, bob, direct):
    say(alice, direct, "lunch at noon?")
    say(bob, direct, "lunch sounds good")
    client = client_for(alice)
    assert texts(found(client, q="lunch", **{"from": str(bob.pk)})) == ["lunch sounds good"]
    assert texts(found(client, q="lunch", **{"from": str(alice.pk)})) == ["lunch at noon?"]
    assert found(client, q="lunch", **{"from": "999999"}) == []


def sent_at(message: Message, moment: datetime) -> None:
    Message.objects.filter(pk=message.pk).update(created_at=moment)


def test_before_and_after_bound_the_send_time(alice, bob, direct):
    for day in (1, 2, 3):
        message = say(bob, direct, f"standup notes, day {day}")
        sent_at(message, datetime(2026, 11, day, 9, 30, tzinfo=UTC))
    client = client_for(alice)

    def days(**bounds) -> list[str]:
        return [text[-1] for text in texts(found(client, q="standup", **bounds))]

    # A date is a whole day (UTC): before it, or from the next day on.
    assert days(before="2026-11-02") == ["1"]
    assert days(after="2026-11-02") == ["3"]
    assert days(after="2026-11-01", before="2026-11-03") == ["2"]
    # A date-time is an instant (exclusive); one without an offset is UTC.
    assert days(after="2026-11-02T09:30:00Z") == ["3"]
    assert days(after="2026-11-02T09:29:59+00:00") == ["3", "2"]
    assert days(before="2026-11-02T10:30:00+01:00") == ["1"]
    assert days(before="2026-11-02T09:30:01") == ["2", "1"]
    response = client.get(URL, {"q": "standup", "before": "yesterday"})
    assert_error(response, 400, "validation_error")


# Paging -----------------------------------------------------------------------------


def test_pages_follow_the_link_header_newest_first_without_repeats(alice, bob, direct):
    group = ConversationFactory(members=[alice, bob], kind="group")
    for number in range(7):
        say(bob, direct if number % 2 else group, f"ticket {number}")
    say(bob, direct, "unrelated")
    client = client_for(alice)
    seen: list[str] = []
    params: dict | None = {"q": "ticket", "limit": "3"}
    pages = 0
    while params is not None:
        response = client.get(URL, params)
        assert response.status_code == 200
        page = texts(response.json()["results"])
        assert len(page) <= 3
        seen += page
        pages += 1
        params = next_link(response)
        if params is not None:
            assert params["q"] == "ticket" and params["limit"] == "3"
    assert pages == 3
    assert seen == [f"ticket {number}" for number in reversed(range(7))]


def test_the_next_link_keeps_the_filters(alice, bob, direct):
    for number in range(3):
        say(bob, direct, f"invoice {number}")
    response = client_for(alice).get(
        URL,
        {
            "q": "invoice",
            "limit": 1,
            "conversationId": direct.pk,
            "from": bob.pk,
            "after": "2000-01-01",
        },
    )
    link = next_link(response)
    assert link is not None
    assert {name: link[name] for name in ("conversationId", "from", "after")} == {
        "conversationId": str(direct.pk),
        "from": str(bob.pk),
        "after": "2000-01-01",
    }
    assert texts(found(client_for(alice), **link)) == ["invoice 1"]


def test_the_last_page_has_no_next_link(alice, bob, direct):
    say(bob, direct, "one receipt")
    response = client_for(alice).get(URL, {"q": "receipt", "limit": 1})
    assert len(response.json()["results"]) == 1
    assert "Link" not in response


@pytest.mark.parametrize("cursor", ["x", "bTEy!", "bWFueQ", "m12"])
def test_a_cursor_not_made_by_the_server_is_400(alice, cursor):
    response = client_for(alice).get(URL, {"q": "anything", "cursor": cursor})
    assert_error(response, 400, "validation_error")


def test_a_rare_word_is_found_beyond_the_newest_messages(alice, bob, direct):
    """PostgreSQL reads the newest RECENT_PER_HIT * (limit + 1) messages
    first; a word that is not among them is found through the index."""
    say(bob, direct, "the zanzibar plan")
    window = search.RECENT_PER_HIT * 2
    import_messages(
        conversation=direct,
        senders=[bob],
        texts=(f"chatter {number}" for number in range(window + 10)),
    )
    say(bob, direct, "more chatter")
    client = client_for(alice)
    assert texts(found(client, q="zanzibar", limit=1)) == ["the zanzibar plan"]
    # A common word is found among the newest, page after page.
    first = client.get(URL, {"q": "chatter", "limit": 1})
    assert texts(first.json()["results"]) == ["more chatter"]
    assert texts(found(client, **next_link(first))) == [f"chatter {window + 9}"]


def test_a_word_with_more_hits_than_gathered_is_walked_for(monkeypatch, alice, bob, direct):
    """Beyond the newest messages, a word the statistics call common (or one
    with more hits than GATHER_MAX, as here) is found by walking from the
    newest message on: the newest hits first, none left out."""
    monkeypatch.setattr(search, "GATHER_MAX", 2)
    for number in range(3):
        say(bob, direct, f"old harvest {number}")
    import_messages(
        conversation=direct,
        senders=[bob],
        texts=(f"filler {number}" for number in range(search.RECENT_PER_HIT * 3)),
    )
    client = client_for(alice)
    first = client.get(URL, {"q": "harvest", "limit": 2})
    assert texts(first.json()["results"]) == ["old harvest 2", "old harvest 1"]
    assert texts(found(client, **next_link(first))) == ["old harvest 0"]


def test_the_statistics_expect_hits_by_the_commonest_words():
    words = ("load", "test", "message", "catch")
    statistics = (list(words), [1.0, 0.5, 0.25, 0.01, 0.01, 1.0], 1000.0)
    for q, expected in [
        ("load", 1000),
        ("load test", 500),
        ("test or message", 750),
        ('"test message"', 250),
        ("cat", 10),  # as a prefix: "catch"
        ("cat ", 0),  # a word not among the commonest
        ("load -test", 1000),
    ]:
        assert search.expected_hits(search.parse_query(q), statistics) == expected, q
    assert search.expected_hits(search.parse_query("load"), None) == 0


def test_postgresql_statistics_name_a_common_word(alice, bob, direct):
    if connection.vendor != POSTGRES:
        return
    import_messages(conversation=direct, senders=[bob], texts=(f"common {n}" for n in range(300)))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE messaging_message")
        cursor.execute(search.WORD_STATISTICS)
        statistics = cursor.fetchone()
    assert search.expected_hits(search.parse_query("common "), statistics) >= 290
    assert search.expected_hits(search.parse_query("uncommon "), statistics) == 0


# Matching ---------------------------------------------------------------------------


def test_matching_ignores_case_in_every_alphabet(alice, bob, direct):
    say(bob, direct, "Żółw ZJADŁ sałatę")
    client = client_for(alice)
    assert texts(found(client, q="żółw zjadł")) == ["Żółw ZJADŁ sałatę"]
    assert texts(found(client, q="SAŁATĘ")) == ["Żółw ZJADŁ sałatę"]


def test_every_word_is_required_and_or_and_minus_work(alice, bob, direct):
    say(bob, direct, "red apples are sweet")
    say(bob, direct, "green apples are sour")
    say(bob, direct, "red cherries")
    client = client_for(alice)
    assert texts(found(client, q="red apples ")) == ["red apples are sweet"]
    assert texts(found(client, q="apples -green ")) == ["red apples are sweet"]
    assert texts(found(client, q="sweet or sour ")) == [
        "green apples are sour",
        "red apples are sweet",
    ]
    assert texts(found(client, q='"red cherries"')) == ["red cherries"]
    assert texts(found(client, q='"cherries red"')) == []


def test_code_in_a_message_is_found_by_its_words(alice, bob, direct):
    say(bob, direct, "try <script>alert(1)</script> & see")
    assert texts(found(client_for(alice), q="alert")) == ["try <script>alert(1)</script> & see"]
    assert len(found(client_for(alice), q="script")) == 1


def test_a_query_without_words_or_with_only_exclusions_finds_nothing(alice, bob, direct):
    say(bob, direct, "anything at all")
    client = client_for(alice)
    assert found(client, q="!!! ...") == []
    assert found(client, q="-nothing") == []


def test_postgresql_matches_words_and_the_last_one_as_a_prefix(alice, bob, direct):
    say(bob, direct, "the category page")
    say(bob, direct, "concatenate the files")
    client = client_for(alice)
    if connection.vendor == POSTGRES:
        # Whole words: "cat" is no word of either text; as the last word
        # of a query it begins one ("category"), unless a space ends it.
        assert texts(found(client, q="cat")) == ["the category page"]
        assert found(client, q="cat ") == []
        assert found(client, q="cat page") == []
        assert texts(found(client, q="page categ")) == ["the category page"]
        assert found(client, q="atenate") == []
    else:
        # SQLite: every term anywhere in the text.
        assert texts(found(client, q="cat ")) == ["concatenate the files", "the category page"]
        assert texts(found(client, q="atenate")) == ["concatenate the files"]


# Snippets ---------------------------------------------------------------------------


def test_highlights_are_code_point_offsets_of_the_snippet(alice, bob, direct):
    say(bob, direct, "🎉🎉 Deploy done: deploy-bot says DEPLOY ok")
    (result,) = found(client_for(alice), q="deploy ")
    snippet = result["snippet"]
    assert snippet["text"] == "🎉🎉 Deploy done: deploy-bot says DEPLOY ok"
    assert snippet["highlights"][0] == [3, 9]
    assert marked(snippet) == ["Deploy", "deploy", "DEPLOY"]


def test_the_snippet_is_plain_text_never_html(alice, bob, direct):
    text = 'look <img src=x onerror="alert(1)"> <script>steal()</script> &amp; ok'
    say(bob, direct, text)
    (result,) = found(client_for(alice), q="steal")
    assert result["snippet"]["text"] == text  # as written: the page escapes it
    assert marked(result["snippet"]) == ["steal"]
    assert result["message"]["text"] == text


def test_a_long_text_is_cut_around_the_first_hit():
    pattern = search.highlighter("needle")
    text = "hay " * 100 + "the needle is here, another needle " + "straw " * 100
    snippet = search.snippet(text, pattern)
    assert len(snippet.text) <= search.SNIPPET_LENGTH + 2
    assert snippet.text.startswith("…hay ") and snippet.text.endswith("…")
    assert [snippet.text[start:end] for start, end in snippet.highlights] == ["needle", "needle"]
    lead = snippet.text.index("the needle")
    assert search.SNIPPET_LEAD // 2 <= lead <= search.SNIPPET_LEAD + 1


def test_a_short_text_is_the_whole_snippet():
    snippet = search.snippet("needle in a haystack", search.highlighter("needle"))
    assert snippet == search.Snippet("needle in a haystack", [(0, 6)])


def test_a_text_without_a_visible_hit_starts_at_its_beginning():
    snippet = search.snippet("x" * 500, search.highlighter("needle"))
    assert snippet.text == "x" * search.SNIPPET_LENGTH + "…"
    assert snippet.highlights == []


def test_the_query_is_read_as_websearch_reads_it():
    query = search.parse_query('big "red fox" or wolf -cat e-mail')
    assert [[(term.words, term.excluded) for term in clause] for clause in query.clauses] == [
        [(("big",), False)],
        [(("red", "fox"), False), (("wolf",), False)],
        [(("cat",), True)],
        [(("e", "mail"), False)],
    ]
    assert not query.prefix  # the last token is several words
    assert search.parse_query("big wol").prefix
    assert not search.parse_query("big wol ").prefix
    assert not search.parse_query("big w").prefix
    assert not search.parse_query("big -wol").prefix
    assert search.parse_query("or").wanted[0].words == ("or",)
    assert search.parse_query("-cat").clauses == ()


# Errors, throttle, queries -------------------------------------------------------------


@pytest.mark.parametrize("q", [None, "", "   ", "\t\n"])
def test_an_empty_or_blank_query_is_400(alice, q):
    params = {} if q is None else {"q": q}
    assert_error(client_for(alice).get(URL, params), 400, "validation_error")


def test_a_query_over_200_characters_is_400(alice, bob, direct):
    say(bob, direct, "word")
    client = client_for(alice)
    assert client.get(URL, {"q": "word " + "x" * 195}).status_code == 200
    assert_error(client.get(URL, {"q": "word " + "x" * 196}), 400, "validation_error")


@pytest.mark.parametrize("limit", ["0", "101", "x"])
def test_a_limit_out_of_range_is_400(alice, limit):
    assert_error(client_for(alice).get(URL, {"q": "a", "limit": limit}), 400, "validation_error")


def test_searches_are_throttled_per_user(settings, alice, bob, direct):
    set_rates(settings, {"search": "2/min"})
    say(bob, direct, "hello")
    client = client_for(alice)
    assert [client.get(URL, {"q": "hello"}).status_code for _ in range(2)] == [200, 200]
    refused = client.get(URL, {"q": "hello"})
    error = assert_error(refused, 429, "throttled")
    assert error["details"]["retryAfterSeconds"] >= 1
    assert int(refused["Retry-After"]) >= 1
    assert client_for(bob).get(URL, {"q": "hello"}).status_code == 200


def test_a_page_takes_the_same_queries_for_1_and_100_hits(
    alice, bob, direct, django_assert_max_num_queries
):
    group = ConversationFactory(members=[alice, bob], kind="group")
    first = say(bob, direct, f"report @{alice.username}")
    add_reaction(user=alice, message=first, emoji="👍")
    client = client_for(alice)
    with django_assert_max_num_queries(SEARCH_QUERIES):
        assert len(found(client, q="report")) == 1
    previous = first
    for number in range(99):
        conversation = group if number % 2 else direct
        message = send_message(
            sender=bob,
            conversation=conversation,
            text=f"report {number} for @{alice.username}",
            reply_to_id=previous.pk if conversation == direct else None,
        )[0]
        add_reaction(user=alice, message=message, emoji="🎉")
        previous = message if conversation == direct else previous
    with django_assert_max_num_queries(SEARCH_QUERIES):
        results = found(client, q="report", limit=100)
    assert len(results) == 100
    assert all(result["message"]["mentions"] == [str(alice.pk)] for result in results)


def test_the_postgresql_column_follows_sends_edits_and_deletes(alice, bob, direct):
    """The generated column (PostgreSQL only): current after every write,
    empty (NULL) for what search never finds."""
    if connection.vendor != POSTGRES:
        with connection.cursor() as cursor:
            columns = [
                column.name
                for column in connection.introspection.get_table_description(
                    cursor, "messaging_message"
                )
            ]
        assert "search_vector" not in columns
        return
    message = say(bob, direct, "First Draft")
    post_system_message(direct, "a system notice")

    def vectors() -> list:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT search_vector::text FROM messaging_message WHERE conversation_id = %s "
                "ORDER BY seq",
                [direct.pk],
            )
            return [row[0] for row in cursor.fetchall()]

    assert vectors() == ["'draft':2 'first':1", None]
    edit_message(actor=bob, message=message, text="final version")
    assert vectors()[0] == "'final':1 'version':2"
    delete_message(actor=bob, message=message)
    assert vectors() == [None, None]


def test_a_conversation_without_messages_or_a_user_without_conversations(alice, db):
    assert found(client_for(alice), q="anything") == []
    assert search.search_messages(user=UserFactory(), q="x", limit=5) == ([], False)


def test_the_selector_pages_by_cursor(alice, bob, direct):
    for number in range(5):
        say(bob, direct, f"note {number}")
    page, more = search.search_messages(user=alice, q="note", limit=2)
    assert [m.text for m in page] == ["note 4", "note 3"] and more
    cursor = search.encode_cursor(page[-1].pk)
    page, more = search.search_messages(user=alice, q="note", limit=2, cursor=cursor)
    assert [m.text for m in page] == ["note 2", "note 1"] and more
    after = datetime.now(UTC) + timedelta(days=1)
    assert search.search_messages(user=alice, q="note", limit=2, after=after) == ([], False)


QUERY_ALPHABET = st.characters(codec="utf-8", exclude_categories=["Cs"])
TEXTS = [
    'say "hi" or -bye <b>&amp; e-mail me@x.org',
    "Zażółć gęślą jaźń 🎉 ŻÓŁW",
    "x" * 300 + " needle " + "y" * 300,
]


@hypothesis.settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture],
)
@hypothesis.given(
    q=st.one_of(
        st.text(QUERY_ALPHABET, max_size=40),
        st.lists(
            st.sampled_from(['"', "-", "or", " ", "hi", "e-mail", "<", "ż", ":*", "&", "!"])
        ).map("".join),
    )
)
def test_any_query_answers_without_failing_and_highlights_stay_in_the_snippet(
    settings, alice, bob, direct, q
):
    set_rates(settings, {"search": "off"})
    if not Message.objects.filter(conversation=direct).exists():
        for text in TEXTS:
            say(bob, direct, text)
    response = client_for(alice).get(URL, {"q": q})
    if not q.strip() or "\x00" in q:
        assert_error(response, 400, "validation_error")
        return
    assert response.status_code == 200, response.content[:300]
    for result in response.json()["results"]:
        snippet = result["snippet"]
        spans = snippet["highlights"]
        assert all(0 <= start < end <= len(snippet["text"]) for start, end in spans)
        assert all(end <= start for (_, end), (start, _) in itertools.pairwise(spans))
