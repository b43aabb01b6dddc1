"""Who is typing right now, for readers that are not sockets (seed 002's
`visitorTyping` and `userTyping`).

The consumer's `typing` frames go through realtime.presence.publish_typing,
which records them here: a key per (conversation, user) in Django's cache
(Redis when REDIS_URL is set, so every process sees every process's
typists), set by `active: true` and deleted by `active: false`. The key lives
TYPING_TTL seconds: the web client repeats `active` every 3 s while typing and
shows others as typing for 6 s after the last one, so a typist whose socket
went away stops counting as the browsers stop showing them. Nothing here is
stored in the database, and a cache that is down is logged, never raised.
"""

import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger("messaging.typing_state")


def typing_key(conversation_id: int, user_id: int) -> str:
    return f"typing:{conversation_id}:{user_id}"


async def record_typing(conversation_id: int, user_id: int, *, active: bool) -> None:
    key = typing_key(conversation_id, user_id)
    try:
        if active:
            await cache.aset(key, True, timeout=settings.CHAT_TYPING_TTL)
        else:
            await cache.adelete(key)
    except Exception as exc:
        logger.warning("Recording typing in %s failed: %s", conversation_id, exc)


def typing_user_ids(conversation_id: int, user_ids: Iterable[int]) -> set[int] | None:
    """Which of `user_ids` are typing in the conversation now (one cache
    round trip); None when the cache cannot be read."""
    keys = {typing_key(conversation_id, user_id): user_id for user_id in user_ids}
    if not keys:
        return set()
    try:
        found = cache.get_many(list(keys))
    except Exception as exc:
        logger.warning("Reading typing state of %s failed: %s", conversation_id, exc)
        return None
    return {keys[key] for key in found}
