"""Full-text search of messages (GET /api/search/messages, docs/api.md "Search").

The query is read as PostgreSQL's websearch_to_tsquery reads it: words, all
required; "quoted phrases"; `or` between two terms; `-` before a term
excludes it. The last word, unless the query ends with a space, also
matches the words it begins (search as you type).

PostgreSQL matches words through the generated column `search_vector` of
messaging/migrations/0005_message_search.py (the 'simple' configuration, GIN
index). SQLite, the embedded default, has no such index: it finds the
messages that contain every term, case-insensitively, anywhere in the text
(so also inside longer words), by scanning the caller's messages.

Only messages of the caller's conversations (Membership) are searched, never
deleted or system messages; newest (highest id) first, keyset paging on id.
Snippets are plain text with highlight offsets in code points: never HTML.
"""

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL

from chatproject.errors import Invalid
from conversations.models import Membership
from conversations.selectors import membership_for
from messaging.models import Message
from messaging.selectors import messages_queryset
from users.models import User

QUERY_MAX_LENGTH = 200
# A last word this long or longer also matches the words it begins.
PREFIX_MIN_LENGTH = 2
SNIPPET_LENGTH = 200  # code points of text around the first highlight, at most
SNIPPET_LEAD = 60  # of them before the first highlight, when the text is cut
ELLIPSIS = "…"

# The query's pieces, as websearch_to_tsquery splits them: a "quoted phrase"
# (to the end when unterminated) or a run of anything but spaces and quotes.
QUERY_TOKEN = re.compile(r'"([^"]*)"?|([^\s"]+)')
# A word as PostgreSQL's parser finds them, nearly: letters and digits
# (underscores and all other punctuation separate words).
WORD = re.compile(r"[^\W_]+")
# <, > and & are read as spaces on both sides (the migration explains why).
MARKUP = str.maketrans("<>&", "   ")
# Every run of whitespace and punctuation between the words of a phrase.
SEPARATOR = r"[\W_]+"


@dataclass(frozen=True)
class Term:
    """A word or a phrase of the query (a token of several words, such as
    "e-mail", is a phrase, as PostgreSQL reads it)."""

    words: tuple[str, ...]
    excluded: bool = False
    prefix: bool = False

    def pattern(self, *, whole_words: bool) -> str:
        """A regular expression of the term's occurrences in a text (to be
        compiled case-insensitively): as words, or anywhere (SQLite's
        containment)."""
        body = SEPARATOR.join(re.escape(word) for word in self.words)
        if not whole_words:
            return body
        end = r"[^\W_]*" if self.prefix else r"(?![^\W_])"
        return rf"(?<![^\W_]){body}{end}"


@dataclass(frozen=True)
class SearchQuery:
    """The query `text` (for PostgreSQL to parse) and its terms: `clauses`
    all required, each satisfied by any one of its terms (`or`)."""

    text: str
    clauses: tuple[tuple[Term, ...], ...]

    @property
    def wanted(self) -> list[Term]:
        """The terms a hit has (what its snippet highlights)."""
        return [term for clause in self.clauses for term in clause if not term.excluded]

    @property
    def prefix(self) -> bool:
        return any(term.prefix for term in self.wanted)


def parse_query(q: str) -> SearchQuery:
    """The terms of `q`, grouped as websearch_to_tsquery groups them (`or`
    binds tighter than the implied `and`). A query with no wanted term
    (only punctuation, or only exclusions) finds nothing."""
    text = q.translate(MARKUP)
    tokens = list(QUERY_TOKEN.finditer(text))
    clauses: list[list[Term]] = []
    joining = False  # the previous token was `or` between two terms
    excluding = False  # the previous token was a lone "-"
    for index, token in enumerate(tokens):
        phrase, bare = token.group(1), token.group(2)
        is_or = bare is not None and bare.lower() == "or"
        if is_or and clauses and not joining and index + 1 < len(tokens):
            joining = True
            continue
        if bare == "-":
            excluding = True
            continue
        excluded = excluding or (bare is not None and bare.startswith("-"))
        words = tuple(WORD.findall(phrase if phrase is not None else bare))
        excluding = False
        if not words:
            continue
        last = index == len(tokens) - 1 and token.end() == len(text)
        prefix = (
            last
            and bare is not None
            and not excluded
            and len(words) == 1
            and len(words[0]) >= PREFIX_MIN_LENGTH
        )
        term = Term(words=words, excluded=excluded, prefix=prefix)
        if joining:
            clauses[-1].append(term)
        else:
            clauses.append([term])
        joining = False
    query = SearchQuery(text=text, clauses=tuple(tuple(clause) for clause in clauses))
    return query if query.wanted else SearchQuery(text=text, clauses=())


# Cursors -------------------------------------------------------------------------


def encode_cursor(message_id: int) -> str:
    """The opaque cursor of the page after `message_id` (older hits)."""
    return base64.urlsafe_b64encode(f"m{message_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The message id a cursor of encode_cursor names; Invalid (400) otherwise."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        decoded = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    match = re.fullmatch(r"m([0-9]{1,18})", decoded)
    if match is None:
        raise Invalid({"cursor": ["Not a cursor of this endpoint."]})
    return int(match.group(1))


# The search ----------------------------------------------------------------------


def searchable_messages(
    *,
    user: User,
    conversation_id: int | None,
    sender_id: int | None,
    before: datetime | None,
    after: datetime | None,
    below_id: int | None,
) -> QuerySet[Message] | None:
    """The messages a search of `user` looks at, or None when there are none:
    text messages, not deleted, of the conversations they are a member of
    (the one named: 403 for a non-member, 404 for no such conversation).
    The conversations are a list of ids in the query, not a join, so that
    PostgreSQL's planner sees from its statistics how many messages they
    hold (it walks the newest messages of a large one, reads a small one
    from its index)."""
    if conversation_id is not None:
        membership_for(user, conversation_id)
        conversation_ids = [conversation_id]
    else:
        conversation_ids = list(
            Membership.objects.filter(user=user).values_list("conversation_id", flat=True)
        )
        if not conversation_ids:
            return None
    messages = Message.objects.filter(
        conversation_id__in=conversation_ids, kind=Message.Kind.TEXT, deleted_at__isnull=True
    ).order_by()
    if sender_id is not None:
        messages = messages.filter(sender_id=sender_id)
    if before is not None:
        messages = messages.filter(created_at__lt=before)
    if after is not None:
        messages = messages.filter(created_at__gt=after)
    if below_id is not None:
        messages = messages.filter(pk__lt=below_id)
    return messages


def search_messages(
    *,
    user: User,
    q: str,
    conversation_id: int | None = None,
    sender_id: int | None = None,
    before: datetime | None = None,
    after: datetime | None = None,
    limit: int,
    cursor: str | None = None,
) -> tuple[list[Message], bool]:
    """Up to `limit` messages matching `q`, newest first, as
    messages_queryset reads them (a page costs the same few queries
    whatever its size), and whether more follow (the next page's cursor is
    encode_cursor(the last one's id)). `before`/`after` bound created_at
    (exclusive)."""
    query = parse_query(q)
    messages = searchable_messages(
        user=user,
        conversation_id=conversation_id,
        sender_id=sender_id,
        before=before,
        after=after,
        below_id=decode_cursor(cursor) if cursor else None,
    )
    if messages is None or not query.clauses:
        return [], False
    if connection.vendor == "postgresql":
        ids = postgres_hits(messages, query, limit + 1)
    else:
        ids = list(
            messages.filter(containing(query))
            .order_by("-pk")
            .values_list("pk", flat=True)[: limit + 1]
        )
    page_ids = ids[:limit]
    found = {message.pk: message for message in messages_queryset().filter(pk__in=page_ids)}
    return [found[message_id] for message_id in page_ids], len(ids) > limit


def containing(query: SearchQuery) -> Q:
    """SQLite's fallback: every clause has one of its terms somewhere in the
    text (an excluded term nowhere), case-insensitively. iregex, because
    Django runs SQLite's REGEXP in Python, whose case folding knows all of
    Unicode (SQLite's LIKE folds only ASCII: Ż would not find ż)."""
    found = Q()
    for clause in query.clauses:
        either = Q()
        for term in clause:
            matches = Q(text__iregex=term.pattern(whole_words=False))
            either |= ~matches if term.excluded else matches
        found &= either
    return found


# The newest messages read for hits first, per hit wanted: a word in one
# message of 250 or more is found among them.
RECENT_PER_HIT = 250
# Then a word with at most this many hits (by the statistics) has them all
# gathered through the GIN index and sorted; one with more is walked for.
GATHER_MAX = 20_000
WORD_STATISTICS = """
SELECT s.most_common_elems::text::text[], s.most_common_elem_freqs, c.reltuples
FROM pg_stats s
JOIN pg_class c ON c.relname = s.tablename AND c.relnamespace = s.schemaname::regnamespace
WHERE s.schemaname = current_schema() AND s.tablename = 'messaging_message'
    AND s.attname = 'search_vector'
"""


def postgres_hits(messages: QuerySet[Message], query: SearchQuery, count: int) -> list[int]:
    """The ids of the newest `count` of `messages` matching `query`. The
    planner cannot be left to choose between walking the newest messages
    (right for a common word) and gathering the hits from the GIN index
    (right for a rare one): it guesses every word not among the commonest
    of its statistics, and every prefix, at a flat rate, and walked a
    million rows for a rare word or gathered a million hits for a common
    prefix. So, in steps, each query fenced (MATERIALIZED) or written so
    that it runs as meant:

    1. the newest RECENT_PER_HIT * count messages are read (an index walk
       that stops there) and matched: enough for a word common lately, ~3 ms;
    2. else, if the statistics (expected_hits) expect at most GATHER_MAX hits,
       up to GATHER_MAX are gathered through the GIN index (or a small
       conversation's own index) and sorted: all of a rare word's;
    3. else (a word common, but not lately; or more hits than expected) the
       messages are walked from the newest until `count` hits, matched by
       ts_match_vq, @@'s function, which no index answers."""
    text = [query.text]
    recent_sql, recent_params = (
        messages.annotate(vector=RawSQL("messaging_message.search_vector", []))
        .order_by("-pk")
        .values("pk", "vector")[: RECENT_PER_HIT * count]
        .query.sql_with_params()
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH recent AS MATERIALIZED ({recent_sql}) SELECT pk FROM recent "
            f"WHERE vector @@ {tsquery_sql(query)} ORDER BY pk DESC LIMIT %s",
            [*recent_params, *text, count],
        )
        ids = [row[0] for row in cursor.fetchall()]
        if len(ids) == count:
            return ids
        cursor.execute(WORD_STATISTICS)
        statistics = cursor.fetchone()
        if expected_hits(query, statistics) <= GATHER_MAX:
            matches = RawSQL(
                f"messaging_message.search_vector @@ {tsquery_sql(query)}", text, BooleanField()
            )
            gather_sql, gather_params = (
                messages.filter(matches).values("pk")[:GATHER_MAX].query.sql_with_params()
            )
            cursor.execute(
                f"WITH hits AS MATERIALIZED ({gather_sql}) "
                "SELECT pk, count(*) OVER () FROM hits ORDER BY pk DESC LIMIT %s",
                [*gather_params, count],
            )
            rows = cursor.fetchall()
            if not rows or rows[0][1] < GATHER_MAX:
                return [row[0] for row in rows]
    walked = RawSQL(
        f"ts_match_vq(messaging_message.search_vector, {tsquery_sql(query)})", text, BooleanField()
    )
    return list(messages.filter(walked).order_by("-pk").values_list("pk", flat=True)[:count])


def expected_hits(query: SearchQuery, statistics: tuple | None) -> float:
    """How many messages the statistics of `search_vector` (ANALYZE's
    commonest words and their frequencies, and the table's rows) expect to
    match: each clause as common as its terms together, the query as its
    rarest clause. A word not among the commonest counts as none (a table
    never analyzed has no statistics: everything is rare)."""
    if statistics is None or statistics[0] is None:
        return 0.0
    words, frequencies, rows = statistics
    frequency_of = dict(zip(words, frequencies, strict=False))

    def frequency(term: Term) -> float:
        if term.prefix:
            start = term.words[0].lower()
            return sum(f for word, f in frequency_of.items() if word.startswith(start))
        return min(frequency_of.get(word.lower(), 0.0) for word in term.words)

    # A clause of exclusions only narrows nothing down by itself.
    clauses = [
        min(1.0, sum(frequency(term) for term in clause if not term.excluded))
        for clause in query.clauses
        if not all(term.excluded for term in clause)
    ]
    return min(clauses, default=0.0) * max(rows, 0)


def tsquery_sql(query: SearchQuery) -> str:
    """The tsquery of the query text (one parameter): websearch_to_tsquery
    with 'simple', as the column is built; for a prefix, its last lexeme
    (the last word) given `:*` in the query's text form. NULLIF: a query
    PostgreSQL finds no word in matches nothing, rather than failing."""
    parsed = "websearch_to_tsquery('simple'::regconfig, %s)"
    if not query.prefix:
        return parsed
    return f"(NULLIF({parsed}::text, '') || ':*')::tsquery"


# Snippets ------------------------------------------------------------------------


@dataclass(frozen=True)
class Snippet:
    """Part of a message's text (all of it when short) and the spans of the
    hit's terms in it: [start, end) offsets in code points (Python str
    indices), sorted, not overlapping. Plain text: the client escapes it."""

    text: str
    highlights: list[tuple[int, int]]


def highlighter(q: str) -> re.Pattern[str] | None:
    """The pattern of what `q` matches in a text, as this database matches
    it (whole words on PostgreSQL, anywhere on SQLite), or None."""
    terms = parse_query(q).wanted
    if not terms:
        return None
    whole_words = connection.vendor == "postgresql"
    # Longer terms first: where "cat" and "category" both match, the longer wins.
    terms.sort(key=lambda term: -sum(map(len, term.words)))
    return re.compile(
        "|".join(term.pattern(whole_words=whole_words) for term in terms), re.IGNORECASE
    )


def snippet(text: str, pattern: re.Pattern[str] | None) -> Snippet:
    """The text around the first occurrence of `pattern`: all of a short
    text, else SNIPPET_LENGTH code points from up to SNIPPET_LEAD before it
    (starting and ending at a space where one is near, with "…" where it is
    cut); and the occurrences in that part (one cut at the end, cut too)."""
    spans = [match.span() for match in pattern.finditer(text)] if pattern else []
    spans = [(begin, end) for begin, end in spans if end > begin]
    if len(text) <= SNIPPET_LENGTH:
        return Snippet(text, spans)
    first_start, first_end = spans[0] if spans else (0, 0)
    start = max(0, first_start - SNIPPET_LEAD)
    if start:
        space = text.find(" ", start, first_start)
        start = start if space == -1 else space + 1
    end = min(len(text), start + SNIPPET_LENGTH)
    if end < len(text):
        space = text.rfind(" ", max(start, first_end), end)
        end = end if space == -1 else space
    lead = ELLIPSIS if start else ""
    shown = lead + text[start:end] + (ELLIPSIS if end < len(text) else "")
    shift = len(lead) - start
    inside = [
        (max(begin, start) + shift, min(finish, end) + shift)
        for begin, finish in spans
        if begin < end and finish > start
    ]
    return Snippet(shown, inside)
