"""Reads of messages used by more than one caller (REST, socket sync, pages,
the seed 001-004 endpoints)."""

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import NamedTuple

from django.db import connection, connections, router
from django.db.models import BooleanField, Count, F, Prefetch, Q, prefetch_related_objects
from django.db.models.expressions import RawSQL

from chatproject.errors import NotFound
from conversations.models import Conversation
from conversations.selectors import membership_for
from messaging.models import Attachment, Mention, Message, MessageEdit, Reaction
from messaging.serializers import MessageSerializer, message_json_sql

# A message's mentions as MessageSerializer reads them (`mention_list`); the
# send and edit services set the same attribute on the message they store.
MENTIONS = Prefetch("mention_rows", queryset=Mention.objects.order_by("pk"), to_attr="mention_list")
# Its reactions in order of first use, as messaging.serializers.reaction_summaries
# reads them (`reaction_rows`).
REACTIONS = Prefetch(
    "reactions", queryset=Reaction.objects.order_by("created_at", "pk"), to_attr="reaction_rows"
)
# Its attachments in their order (`attachment_list`).
ATTACHMENTS = Prefetch(
    "attachments", queryset=Attachment.objects.order_by("position"), to_attr="attachment_list"
)
SHAPE_PREFETCHES = (MENTIONS, REACTIONS, ATTACHMENTS)


def message_rows():
    """Messages with their senders, for reads that show neither replies nor mentions
    (the seed 001-004 endpoints)."""
    return Message.objects.select_related("sender")


def messages_with_attachments():
    """message_rows with their attachments (`attachment_list`: one query a
    page), for the seed endpoints, which name a message's files."""
    return message_rows().prefetch_related(ATTACHMENTS)


def messages_queryset():
    """Messages with everything MessageSerializer reads: the sender and the
    original replied to joined, the mentions, reactions and attachments
    prefetched (one query each per page, whatever its size)."""
    return message_rows().select_related("reply_to").prefetch_related(*SHAPE_PREFETCHES)


# For a page of messages: whether each has rows of a prefetch, as an EXISTS
# probe in the page's own query (each an index lookup by message), so that a
# prefetch runs only for the messages that have such rows. Most pages have no
# mentions, reactions or files: one query instead of four, which made most of
# a history page's time (docs/performance.md "History pages").
SHAPE_PRESENCE = {
    "has_mention_rows": (Mention, MENTIONS),
    "has_reaction_rows": (Reaction, REACTIONS),
    "has_attachment_rows": (Attachment, ATTACHMENTS),
}


def has_rows_of(model) -> RawSQL:
    """Whether the message has rows of `model` (by its `message` key), written
    out as SQL: the same EXISTS as an Exists of a queryset, without building
    and compiling a subquery for every page (a tenth of a page's CPU)."""
    quote = connection.ops.quote_name
    table, messages = quote(model._meta.db_table), quote(Message._meta.db_table)
    key = quote(model._meta.get_field("message").column)
    return RawSQL(
        f"EXISTS (SELECT 1 FROM {table} WHERE {table}.{key} = {messages}.{quote('id')})",
        [],
        output_field=BooleanField(),
    )


# The aliases of the page statement's joins (page_rows): the original a
# message replies to, and (for the chat page) its sender.
PAGE_JOINS = {"reply_to": "replied", "sender": "message_sender"}


def page_bounds(quote, *, key: str, above: bool, below: bool, descending: bool) -> str:
    """The WHERE, ORDER BY and LIMIT of a page of a conversation's messages in
    order of `key` (seq or version), bounded from below when `above` and from
    above when `below`; its parameters are page_parameters'."""
    messages = quote(Message._meta.db_table)
    conditions = [f"{messages}.{quote('conversation_id')} = %s"]
    for bounded, operator in ((above, ">"), (below, "<")):
        if bounded:
            conditions.append(f"{messages}.{quote(key)} {operator} %s")
    order = f"{messages}.{quote(key)} {'DESC' if descending else 'ASC'}"
    return f"WHERE {' AND '.join(conditions)} ORDER BY {order} LIMIT %s"


def page_parameters(
    conversation_id: int, above: int | None, below: int | None, limit: int
) -> list[int]:
    """The parameters of page_bounds' SQL for these bounds."""
    return [conversation_id, *(bound for bound in (above, below) if bound is not None), limit]


@dataclass(frozen=True)
class PageColumns:
    """What page_rows selects: the message's own columns, SHAPE_PRESENCE's
    flags and the columns of each joined relation (PAGE_JOINS), in that
    order; `sql`, the select list."""

    own: list
    flags: list
    joined: dict[str, list]

    @property
    def all(self) -> list:
        """Every column, in the order of the select list."""
        return [*self.own, *self.flags, *(c for columns in self.joined.values() for c in columns)]

    def sql(self, quote) -> list[str]:
        joined = [c for columns in self.joined.values() for c in columns]
        return [
            *(column_sql(quote, column) for column in self.own),
            *(f"({flag.sql})" for flag in self.flags),
            *(column_sql(quote, column) for column in joined),
        ]


def column_sql(quote, column) -> str:
    """A column (Col) of page_rows' statement, as its alias names it."""
    return f"{quote(column.alias)}.{quote(column.target.column)}"


@cache
def page_columns(joins: tuple[str, ...]) -> PageColumns:
    return PageColumns(
        own=[field.get_col(Message._meta.db_table) for field in Message._meta.concrete_fields],
        flags=[has_rows_of(model) for model, _ in SHAPE_PRESENCE.values()],
        joined={
            name: [
                field.get_col(PAGE_JOINS[name])
                for field in Message._meta.get_field(name).related_model._meta.concrete_fields
            ]
            for name in joins
        },
    )


def page_joins(quote, joins: tuple[str, ...]) -> str:
    """The messages table LEFT OUTER JOINed to each relation of `joins` under
    its PAGE_JOINS alias."""
    messages = quote(Message._meta.db_table)
    tables = [messages]
    for name in joins:
        field = Message._meta.get_field(name)
        table = quote(field.related_model._meta.db_table)
        alias = quote(PAGE_JOINS[name])
        target, source = quote(field.target_field.column), quote(field.column)
        tables.append(f"LEFT OUTER JOIN {table} {alias} ON {alias}.{target} = {messages}.{source}")
    return " ".join(tables)


@cache
def page_converters(database: str, joins: tuple[str, ...]) -> dict:
    """Django's converters of page_columns(joins), by position, for rows of `database`."""
    compiler = Message.objects.all().query.get_compiler(database)
    return compiler.get_converters(page_columns(joins).all)


def page_models(database: str, joins: tuple[str, ...], rows: list) -> list[Message]:
    """The rows of page_columns(joins) as models, each flagged with
    SHAPE_PRESENCE and with its joined relations cached, through Django's own
    converters."""
    columns = page_columns(joins)
    compiler = Message.objects.all().query.get_compiler(database)
    converters = page_converters(database, joins)
    if converters:
        rows = compiler.apply_converters(rows, converters)
    own_names = [column.target.attname for column in columns.own]
    page = []
    for row in rows:
        message = Message.from_db(database, own_names, row[: len(own_names)])
        at = len(own_names)
        for flag in SHAPE_PRESENCE:
            setattr(message, flag, row[at])
            at += 1
        for name, joined in columns.joined.items():
            values = row[at : at + len(joined)]
            at += len(joined)
            field = Message._meta.get_field(name)
            model = field.related_model
            related = None
            if values[model._meta.concrete_fields.index(model._meta.pk)] is not None:
                related = model.from_db(
                    database, [column.target.attname for column in joined], values
                )
            field.set_cached_value(message, related)
        page.append(message)
    return page


def page_rows(
    conversation_id: int,
    *,
    key: str,
    above: int | None = None,
    below: int | None = None,
    descending: bool = False,
    limit: int,
    with_senders: bool,
) -> list[Message]:
    """Up to `limit` of the conversation's messages in order of `key` (seq or
    version), only those with a key above `above` and below `below`, each
    flagged with which of SHAPE_PRESENCE's prefetches it needs and with the
    original it replies to joined (select_related("reply_to")); read it
    through shaped_page. MessageSerializer reads no sender (only its id):
    `with_senders` joins them for a reader that shows their names (the chat
    page). One statement written out from the models' fields, its rows turned
    into models by Django's converters: the same query built and compiled by
    the ORM for every page was a fifth of a history page's CPU
    (docs/performance.md "History pages")."""
    database = router.db_for_read(Message)
    joins = ("reply_to", "sender") if with_senders else ("reply_to",)
    sql = page_statement(
        database,
        joins,
        key=key,
        above=above is not None,
        below=below is not None,
        descending=descending,
    )
    with connections[database].cursor() as cursor:
        cursor.execute(sql, page_parameters(conversation_id, above, below, limit))
        rows = cursor.fetchall()
    return page_models(database, joins, rows)


@cache
def page_statement(
    database: str, joins: tuple[str, ...], *, key: str, above: bool, below: bool, descending: bool
) -> str:
    """page_rows' SQL (written once per process for each kind of page)."""
    quote = connections[database].ops.quote_name
    bounds = page_bounds(quote, key=key, above=above, below=below, descending=descending)
    columns = ", ".join(page_columns(joins).sql(quote))
    return f"SELECT {columns} FROM {page_joins(quote, joins)} {bounds}"


def shaped_page(page: list[Message]) -> list[Message]:
    """The messages of page_rows with what MessageSerializer reads, as
    messages_queryset gives them: one query for the page, then one per
    prefetch that some message of the page needs."""
    for flag, (_, prefetch) in SHAPE_PRESENCE.items():
        needing = [message for message in page if getattr(message, flag)]
        for message in page:
            if not getattr(message, flag):
                setattr(message, prefetch.to_attr, [])
        if needing:
            prefetch_related_objects(needing, prefetch)
    return page


def message_of_member(user, conversation_id: int, message_id: int) -> Message:
    """A message of a conversation `user` is a member of, as messages_queryset
    reads it: 403 for a non-member, 404 for no such conversation, or no such
    message in it."""
    membership_for(user, conversation_id)
    message = messages_queryset().filter(pk=message_id, conversation_id=conversation_id).first()
    if message is None:
        raise NotFound("No such message in this conversation.")
    return message


# Conversations per query of last_messages_by_conversation: each adds an OR
# term (SQLite refuses expression trees deeper than 1000) and two parameters
# (older SQLite builds allow 999).
LAST_MESSAGES_CHUNK = 400


def last_messages_by_conversation(
    conversations: list[Conversation],
) -> dict[int, Message]:
    """Each conversation's newest message: one query per 400 conversations,
    then one per prefetch of SHAPE_PREFETCHES for all of them."""
    pairs = [
        (conversation.pk, conversation.last_seq)
        for conversation in conversations
        if conversation.last_seq
    ]
    found: dict[int, Message] = {}
    for start in range(0, len(pairs), LAST_MESSAGES_CHUNK):
        wanted = Q()
        for conversation_id, seq in pairs[start : start + LAST_MESSAGES_CHUNK]:
            wanted |= Q(conversation_id=conversation_id, seq=seq)
        found.update(
            (message.conversation_id, message)
            # Prefetched once below for every chunk.
            for message in messages_queryset().prefetch_related(None).filter(wanted)
        )
    prefetch_related_objects(list(found.values()), *SHAPE_PREFETCHES)
    return found


def unread_mention_counts(conversations: list[Conversation]) -> dict[int, int]:
    """How many times the viewer (each conversation's `my_membership`) is
    mentioned above their read mark, by conversation: one grouped query over
    the conversations with unread messages, none when everything is read."""
    unread = [
        conversation.my_membership.pk
        for conversation in conversations
        if conversation.my_membership is not None
        and conversation.last_seq > conversation.my_membership.last_read_seq
    ]
    if not unread:
        return {}
    rows = (
        Mention.objects.filter(
            conversation__memberships__pk__in=unread,
            user_id=F("conversation__memberships__user_id"),
            seq__gt=F("conversation__memberships__last_read_seq"),
        )
        .values("conversation_id")
        .annotate(count=Count("pk"))
        .order_by()
    )
    return {row["conversation_id"]: row["count"] for row in rows}


def with_last_messages(conversations: list[Conversation]) -> list[Conversation]:
    """Sets what MemberConversationSerializer reads beyond with_details: each
    conversation's `last_message` and `unread_mentions`."""
    last_messages = last_messages_by_conversation(conversations)
    unread_mentions = unread_mention_counts(conversations)
    for conversation in conversations:
        conversation.last_message = last_messages.get(conversation.pk)
        conversation.unread_mentions = unread_mentions.get(conversation.pk, 0)
    return conversations


class RenderedMessage(NamedTuple):
    """A message of a page as the REST API writes it: `json`, its
    MessageSerializer shape as JSON text, and the keys pages link by."""

    seq: int
    version: int
    json: str


def rendered(message: Message, viewer_id: int) -> RenderedMessage:
    """The message through MessageSerializer, as JSON as compact as the API's
    renderer writes it (the shape holds only strings, numbers, lists and maps)."""
    data = MessageSerializer(message, context={"viewer_id": viewer_id}).data
    document = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return RenderedMessage(message.seq, message.version, document)


def rendered_rows(
    conversation_id: int,
    *,
    key: str,
    above: int | None = None,
    below: int | None = None,
    descending: bool = False,
    limit: int,
    viewer_id: int,
) -> list[RenderedMessage]:
    """page_rows' messages as `viewer_id` reads them over REST, in the same
    order. On PostgreSQL one statement builds each message's JSON
    (messaging.serializers.message_json_sql), and only the messages with
    mentions, reactions or files are made models from the same statement's
    columns and serialized (with one query per prefetch they need, as
    shaped_page); elsewhere every message is serialized."""
    database = router.db_for_read(Message)
    if connections[database].vendor != "postgresql":
        page = shaped_page(
            page_rows(
                conversation_id,
                key=key,
                above=above,
                below=below,
                descending=descending,
                limit=limit,
                with_senders=False,
            )
        )
        return [rendered(message, viewer_id) for message in page]
    sql = rendered_page_statement(
        database, key=key, above=above is not None, below=below is not None, descending=descending
    )
    with connections[database].cursor() as cursor:
        cursor.execute(sql, page_parameters(conversation_id, above, below, limit))
        rows = cursor.fetchall()
    columns = page_columns(("reply_to",))
    own, shape = len(columns.own), 3 + len(SHAPE_PRESENCE)
    having_rows = [
        (index, (*row[shape : shape + own], *row[3:shape], *row[shape + own :]))
        for index, row in enumerate(rows)
        if any(row[3:shape])
    ]
    page = [RenderedMessage(row[0], row[1], row[2]) for row in rows]
    if having_rows:
        models = shaped_page(page_models(database, ("reply_to",), [row for _, row in having_rows]))
        for (index, _), message in zip(having_rows, models, strict=True):
            page[index] = rendered(message, viewer_id)
    return page


@cache
def rendered_page_statement(
    database: str, *, key: str, above: bool, below: bool, descending: bool
) -> str:
    """rendered_rows' SQL on PostgreSQL (written once per process for each
    kind of page): page_rows' bounds, each message's JSON, SHAPE_PRESENCE's
    flags and, for a message with such rows, page_rows' columns."""
    quote = connections[database].ops.quote_name
    columns = page_columns(("reply_to",))
    flags = [f"{quote('shape')}.{quote(flag)}" for flag in SHAPE_PRESENCE]
    # page_rows' columns, for a message with rows of SHAPE_PRESENCE only
    # (NULL for the others, read for nothing): it is made a model from them
    # and serialized, without a query to read it again. OFFSET 0 keeps the
    # flags a subquery of their own: inlined, each use of a flag would
    # repeat its EXISTS (planning took 4 ms).
    model_columns = [
        f"CASE WHEN {' OR '.join(flags)} THEN {column_sql(quote, column)} END"
        for column in [*columns.own, *columns.joined["reply_to"]]
    ]
    bounds = page_bounds(quote, key=key, above=above, below=below, descending=descending)
    messages = quote(Message._meta.db_table)
    presence = ", ".join(f"({flag.sql})" for flag in columns.flags)
    return (
        f"SELECT {messages}.{quote('seq')}, {messages}.{quote('version')}, "
        f"{message_json_sql(quote, Message._meta.db_table, PAGE_JOINS['reply_to'])}, "
        f"{', '.join(flags + model_columns)} "
        f"FROM {page_joins(quote, ('reply_to',))} CROSS JOIN LATERAL (SELECT {presence} OFFSET 0) "
        f"AS {quote('shape')} ({', '.join(quote(flag) for flag in SHAPE_PRESENCE)}) {bounds}"
    )


def keyset_page(read, *, limit: int, before: int | None, after: int | None, around: int | None):
    """The page history_page describes, read with `read(key=, above=,
    below=, descending=, limit=)`: (up to `limit` of what it returns in
    ascending seq order, whether more lie beyond)."""
    if around is not None:
        after = max(around - limit // 2, 1) - 1
    if after is not None:
        page = read(key="seq", above=after, below=None, descending=False, limit=limit + 1)
        return page[:limit], len(page) > limit
    page = read(key="seq", above=None, below=before, descending=True, limit=limit + 1)
    return list(reversed(page[:limit])), len(page) > limit


def history_page(
    conversation_id: int,
    *,
    limit: int,
    before: int | None = None,
    after: int | None = None,
    around: int | None = None,
    with_senders: bool = True,
) -> tuple[list[Message], bool]:
    """Up to `limit` messages in ascending seq order, by keyset on seq (never
    OFFSET, so a page deep in a long history costs what the newest does).
    With `after`, the oldest page after that seq; with `around`, the page
    from `limit // 2` before that seq on, read as an `after` page (seq numbers
    the messages 1, 2, 3 … without a gap: deleted ones stay as tombstones);
    otherwise the newest page before `before` (or the newest of all). Returns
    (messages, more): whether more messages lie beyond the page in the
    direction it was read (forward for `after` and `around`). Without
    `with_senders` the messages come without their senders joined (page_rows)."""

    def read(**bounds) -> list[Message]:
        return shaped_page(page_rows(conversation_id, with_senders=with_senders, **bounds))

    return keyset_page(read, limit=limit, before=before, after=after, around=around)


def rendered_history_page(
    conversation_id: int,
    *,
    viewer_id: int,
    limit: int,
    before: int | None = None,
    after: int | None = None,
    around: int | None = None,
) -> tuple[list[RenderedMessage], bool]:
    """history_page as `viewer_id` reads it over REST (rendered_rows)."""

    def read(**bounds) -> list[RenderedMessage]:
        return rendered_rows(conversation_id, viewer_id=viewer_id, **bounds)

    return keyset_page(read, limit=limit, before=before, after=after, around=around)


def changes_since(conversation_id: int, version: int, *, limit: int) -> tuple[list[Message], bool]:
    """Messages created, edited or deleted after `version`, in version order;
    each message once, in its latest state (a deleted one as a tombstone),
    as MessageSerializer reads them (no senders joined)."""
    page = shaped_page(
        page_rows(
            conversation_id, key="version", above=version, limit=limit + 1, with_senders=False
        )
    )
    return page[:limit], len(page) > limit


def rendered_changes_since(
    conversation_id: int, version: int, *, viewer_id: int, limit: int
) -> tuple[list[RenderedMessage], bool]:
    """changes_since as `viewer_id` reads it over REST (rendered_rows)."""
    page = rendered_rows(
        conversation_id, key="version", above=version, limit=limit + 1, viewer_id=viewer_id
    )
    return page[:limit], len(page) > limit


def visible_messages(conversation_id: int, *, limit: int) -> list[Message]:
    """Up to `limit` messages that are not deleted, oldest first, with their
    senders and attachments (`attachment_list`): two queries, bounded
    (deleted messages are tombstones with no text, which the foreign APIs
    have no way to show)."""
    return list(
        messages_with_attachments()
        .filter(conversation_id=conversation_id, deleted_at__isnull=True)
        .order_by("seq")[:limit]
    )


def visible_messages_page(
    conversation_id: int, *, page: int, per_page: int
) -> tuple[list[Message], bool]:
    """Page `page` (from 1) of the messages that are not deleted, oldest
    first, `per_page` to a page; and whether more follow. Seed 003 pages by
    number, so this is OFFSET paging: one query (and one for their
    attachments), reading at most page * per_page index entries of this one
    conversation."""
    offset = (page - 1) * per_page
    rows = list(
        messages_with_attachments()
        .filter(conversation_id=conversation_id, deleted_at__isnull=True)
        .order_by("seq")[offset : offset + per_page + 1]
    )
    return rows[:per_page], len(rows) > per_page


def first_message_at(conversation_id: int) -> datetime | None:
    """When the conversation's first message was sent (deleted or not): one indexed query."""
    return (
        Message.objects.filter(conversation_id=conversation_id, seq=1)
        .values_list("created_at", flat=True)
        .first()
    )


@dataclass(frozen=True)
class MessageVersion:
    """One text a message had: from `at`, written by the user `by_id`."""

    text: str
    at: datetime
    by_id: int | None


def edit_history(message: Message) -> list[MessageVersion]:
    """The message's texts, oldest first: the original (by its sender, at
    its creation), then the text each edit left (by its editor, at the
    edit); the last is the current text. One query."""
    edits = list(MessageEdit.objects.filter(message=message).order_by("edited_at", "pk"))
    texts = [edit.previous_text for edit in edits] + [message.text]
    authors = [(message.created_at, message.sender_id)] + [
        (edit.edited_at, edit.edited_by_id) for edit in edits
    ]
    return [
        MessageVersion(text=text, at=at, by_id=by_id)
        for text, (at, by_id) in zip(texts, authors, strict=True)
    ]


def attachment_for_viewer(user, attachment_id: int) -> Attachment:
    """An attachment `user` may download: one sent in a conversation they are
    a member of, or their own upload not sent yet. Anything else is 404, as
    an unknown id (one query)."""
    attachment = (
        Attachment.objects.filter(pk=attachment_id)
        .filter(
            Q(message__isnull=False, conversation__memberships__user=user)
            | Q(message__isnull=True, uploader=user)
        )
        .first()
    )
    if attachment is None:
        raise NotFound("No such attachment.")
    return attachment
