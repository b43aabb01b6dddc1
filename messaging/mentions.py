"""`@username` in a message's text: which tokens are mentions, and which
members of the conversation they name."""

import re
from collections.abc import Iterable

# A username as Django's UnicodeUsernameValidator allows it (letters, digits
# and @ . + - _), after "@" at the start, after a space or after punctuation;
# never after a username character, so the "@" of an email address
# (bob@example.com) is not a mention.
MENTION = re.compile(r"(?<![\w.@+-])@([\w.@+-]+)")
# A sentence may end right after a mention ("thanks, @alice."): these
# characters are allowed in usernames, so the token is tried without them too.
TRAILING = ".+-@"


def mention_tokens(text: str) -> list[str]:
    """The @-tokens of `text`, in order, without the "@"."""
    return MENTION.findall(text)


def mentioned_user_ids(text: str, members: Iterable[tuple[int, str]]) -> list[int]:
    """Ids of the `members` ((user id, username) pairs) whose usernames the
    text mentions, case-insensitively, in the order first mentioned. A
    token naming no member as written is tried without its trailing
    punctuation."""
    by_name = {username.casefold(): user_id for user_id, username in members}
    found: dict[int, None] = {}
    for token in mention_tokens(text):
        for candidate in (token, token.rstrip(TRAILING)):
            user_id = by_name.get(candidate.casefold())
            if user_id is not None:
                found.setdefault(user_id)
                break
    return list(found)
