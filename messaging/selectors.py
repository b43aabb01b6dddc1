"""Reads of messages used by more than one caller (REST, socket sync, pages)."""

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


def history_page(
    conversation_id: int,
    *,
    limit: int,
    before: int | None = None,
    after: int | None = None,
) -> tuple[list[Message], bool]:
    """Up to `limit` messages in ascending seq order, by keyset on seq (never
    OFFSET, so a page deep in a long history costs what the newest does).
    With `after`, the oldest page after that seq; otherwise the newest page
    before `before` (or the newest of all). Returns (messages, more): whether
    more messages lie beyond the page in the direction it was read."""
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
