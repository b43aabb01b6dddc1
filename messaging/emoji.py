"""What a reaction may be: one emoji (docs/api.md "Reactions").

An emoji here is exactly one extended grapheme cluster (what a reader sees
as one character) that Unicode's emoji data makes an emoji: a flag (two
regional indicators, or a tag sequence such as the flag of Scotland), a keycap (1️⃣), or
an emoji with an optional presentation selector or skin tone, joined by
ZWJ to more of them (👨‍👩‍👧, 🧑🏽‍🤝‍🧑🏻). Digits, `#` and `*` are \\p{Emoji} in
Unicode's data but plain text on their own, and so is a lone regional
indicator: both are refused. NON_EMOJI_ALLOWED lists the few characters
accepted although they are not emoji.
"""

import unicodedata

import regex

from chatproject.errors import Invalid

# One emoji character: a presentation selector (U+FE0F) or a skin tone may follow it.
_CHARACTER = r"(?![0-9#*\p{Regional_Indicator}])\p{Emoji}(?:\uFE0F|\p{Emoji_Modifier})?"
EMOJI = regex.compile(
    rf"""
      \p{{Regional_Indicator}}{{2}}                # a flag: 🇵🇱
    | [0-9#*]\uFE0F?\u20E3                     # a keycap: 1️⃣
    | {_CHARACTER}
      (?:[\U000E0020-\U000E007E]+\U000E007F)?  # tag characters: the flag of Scotland
      (?:\u200D{_CHARACTER})*                    # joined by ZWJ: 👨‍👩‍👧
    """,
    regex.VERBOSE,
)
GRAPHEME = regex.compile(r"\X")

# Not emoji, accepted anyway: the check mark people use to say "done".
# (✔ U+2714 is an emoji already.)
NON_EMOJI_ALLOWED = frozenset({"✓"})

MAX_BYTES = 64  # Reaction.emoji's max_length, in UTF-8 bytes


def validate_emoji(value: str) -> str:
    """The emoji as stored (NFC), or Invalid({"emoji": ...})."""
    emoji = unicodedata.normalize("NFC", value)
    if len(emoji.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise Invalid({"emoji": [f"An emoji has at most {MAX_BYTES} bytes."]})
    if emoji in NON_EMOJI_ALLOWED:
        return emoji
    if len(GRAPHEME.findall(emoji)) != 1 or not EMOJI.fullmatch(emoji):
        raise Invalid({"emoji": ["A reaction is one emoji."]})
    return emoji
