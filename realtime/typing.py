"""Which `typing` frames of a socket are worth publishing: at most one
`active` per CHAT_TYPING_INTERVAL per conversation, and an `inactive` only
after an `active` (typing is never stored: messaging/typing_state.py keeps it
a few seconds for readers)."""

import time

from django.conf import settings


class TypingLimiter:
    """One per socket."""

    def __init__(self) -> None:
        self.sent_at: dict[int, float] = {}
        self.typing_in: set[int] = set()

    def admits(self, conversation_id: int, *, active: bool) -> bool:
        if active:
            now = time.monotonic()
            last = self.sent_at.get(conversation_id)
            if last is not None and now - last < settings.CHAT_TYPING_INTERVAL:
                return False
            self.sent_at[conversation_id] = now
            self.typing_in.add(conversation_id)
            return True
        if conversation_id in self.typing_in:
            self.typing_in.discard(conversation_id)
            return True
        return False
