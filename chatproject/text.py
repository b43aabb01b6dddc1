"""Free-form text made safe to show on one line (display names in system
notices, group titles)."""

import unicodedata

ZERO_WIDTH_JOINER = "\u200d"  # joins emoji sequences (👩‍💻): kept


def one_line(text: str) -> str:
    """`text` as one line: each run of whitespace, line breaks and control
    characters becomes one space, invisible format characters (bidi
    overrides and the like) are dropped, and the ends are trimmed."""
    characters = []
    for character in text:
        category = unicodedata.category(character)
        if character.isspace() or category in {"Cc", "Zl", "Zp"}:
            characters.append(" ")
        elif category != "Cf" or character == ZERO_WIDTH_JOINER:
            characters.append(character)
    return " ".join("".join(characters).split())
