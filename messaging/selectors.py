"""Reads of messages used by more than one caller (REST, socket sync, pages,
the seed 001-004 endpoints)."""

from datetime import datetime

from django.db.models import Q

from conversations.models import Conversation
from messaging.models import Message


def messages_queryset():
    return Message.objects.select_related("sender")


# Conversations per query of last_messages_by_conversation: each adds an OR
# term (SQLite refuses expression trees deeper than 1000) and two parameters
# (older SQLite builds allow 999).
LAST_MESSAGES_CHUNK = 400


def last_messages_by_conversation(
    conversations: list[Conversation],
) -> dict[int, Message]:
    """Each conversation's newest message: one query per 400 conversations."""
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
            (message.conversation_id, message) for message in messages_queryset().filter(wanted)
        )
    return found


def with_last_messages(conversations: list[Conversation]) -> list[Conversation]:
    """Sets each conversation's `last_message` (MemberConversationSerializer's)."""
    last_messages = last_messages_by_conversation(conversations)
    for conversation in conversations:
        conversation.last_message = last_messages.get(conversation.pk)
    return conversations


def history_page(
    conversation_id: int,
    *,
    limit: int,
    before: int | None = None,
    after: int | None = None,
    around: int | None = None,
) -> tuple[list[Message], bool]:
    """Up to `limit` messages in ascending seq order, by keyset on seq (never
    OFFSET, so a page deep in a long history costs what the newest does).
    With `after`, the oldest page after that seq; with `around`, the page
    from `limit // 2` before that seq on, read as an `after` page (seq numbers
    the messages 1, 2, 3 … without a gap: deleted ones stay as tombstones);
    otherwise the newest page before `before` (or the newest of all). Returns
    (messages, more): whether more messages lie beyond the page in the
    direction it was read (forward for `after` and `around`)."""
    if around is not None:
        after = max(around - limit // 2, 1) - 1
    messages = messages_queryset().filter(conversation_id=conversation_id)
    if after is not None:
        page = list(messages.filter(seq__gt=after).order_by("seq")[: limit + 1])
        return page[:limit], len(page) > limit
    if before is not None:
        messages = messages.filter(seq__lt=before)
    page = list(messages.order_by("-seq")[: limit + 1])
    more = len(page) > limit
    return list(reversed(page[:limit])), more


def changes_since(conversation_id: int, version: int, *, limit: int) -> tuple[list[Message], bool]:
    """Messages created, edited or deleted after `version`, in version order;
    each message once, in its latest state (a deleted one as a tombstone)."""
    page = list(
        messages_queryset()
        .filter(conversation_id=conversation_id, version__gt=version)
        .order_by("version")[: limit + 1]
    )
    return page[:limit], len(page) > limit


def visible_messages(conversation_id: int, *, limit: int) -> list[Message]:
    """Up to `limit` messages that are not deleted, oldest first, with their
    senders: one query, bounded (deleted messages are tombstones with no text,
    which the foreign APIs have no way to show)."""
    return list(
        messages_queryset()
        .filter(conversation_id=conversation_id, deleted_at__isnull=True)
        .order_by("seq")[:limit]
    )


def visible_messages_page(
    conversation_id: int, *, page: int, per_page: int
) -> tuple[list[Message], bool]:
    """Page `page` (from 1) of the messages that are not deleted, oldest
    first, `per_page` to a page; and whether more follow. Seed 003 pages by
    number, so this is OFFSET paging: one query, reading at most
    page * per_page index entries of this one conversation."""
    offset = (page - 1) * per_page
    rows = list(
        messages_queryset()
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
