"""What makes two usernames the same name: NFKC ("alice" in fullwidth
letters is "alice"), case (casefold), and the common Cyrillic and Greek
look-alikes of Latin letters ("alice" spelt with a Cyrillic a).
users.services.register_user
stores the NFKC form and refuses a name whose skeleton is a taken name's.

The table is the small, common part of Unicode's confusables (UTS #39): the
letters that render the same as a Latin letter in usual fonts, in lower or
upper case (casefolding loses which: the Cyrillic ka stands for "K" and "k").
Digits are left alone ("bob1" and "bobl" are both allowed)."""

import re
import unicodedata

LOOK_ALIKES = {
    unicodedata.lookup(name): latin
    for name, latin in {
        # Cyrillic
        "CYRILLIC SMALL LETTER A": "a",
        "CYRILLIC SMALL LETTER VE": "b",
        "CYRILLIC SMALL LETTER ES": "c",
        "CYRILLIC SMALL LETTER KOMI DE": "d",
        "CYRILLIC SMALL LETTER IE": "e",
        "CYRILLIC SMALL LETTER SHHA": "h",
        "CYRILLIC SMALL LETTER EN": "h",
        "CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I": "i",
        "CYRILLIC SMALL LETTER JE": "j",
        "CYRILLIC SMALL LETTER KA": "k",
        "CYRILLIC SMALL LETTER PALOCHKA": "l",
        "CYRILLIC SMALL LETTER EM": "m",
        "CYRILLIC SMALL LETTER O": "o",
        "CYRILLIC SMALL LETTER ER": "p",
        "CYRILLIC SMALL LETTER QA": "q",
        "CYRILLIC SMALL LETTER DZE": "s",
        "CYRILLIC SMALL LETTER TE": "t",
        "CYRILLIC SMALL LETTER U": "y",
        "CYRILLIC SMALL LETTER WE": "w",
        "CYRILLIC SMALL LETTER HA": "x",
        # Greek
        "GREEK SMALL LETTER ALPHA": "a",
        "GREEK SMALL LETTER BETA": "b",
        "GREEK SMALL LETTER EPSILON": "e",
        "GREEK SMALL LETTER ETA": "h",
        "GREEK SMALL LETTER IOTA": "i",
        "GREEK SMALL LETTER KAPPA": "k",
        "GREEK SMALL LETTER MU": "m",
        "GREEK SMALL LETTER NU": "v",
        "GREEK SMALL LETTER OMICRON": "o",
        "GREEK SMALL LETTER RHO": "p",
        "GREEK SMALL LETTER TAU": "t",
        "GREEK SMALL LETTER UPSILON": "u",
        "GREEK SMALL LETTER CHI": "x",
        "GREEK SMALL LETTER GAMMA": "y",
        "GREEK SMALL LETTER ZETA": "z",
    }.items()
}
FULLWIDTH_OFFSET = 0xFEE0  # FULLWIDTH LATIN SMALL LETTER A is "a" + this


def stored_username(username: str) -> str:
    """The form a username is stored in (as Django's UsernameField: NFKC)."""
    return unicodedata.normalize("NFKC", username)


def skeleton(username: str) -> str:
    """What a name looks like: the same skeleton is the same name to a reader."""
    folded = stored_username(username).casefold()
    return "".join(LOOK_ALIKES.get(char, char) for char in folded)


def spellings(char: str) -> set[str]:
    """The characters a stored name may have where a skeleton has `char`: its
    cases, its look-alikes in both cases, and the fullwidth forms (names
    stored before they were normalised)."""
    sources = {char} | {alike for alike, latin in LOOK_ALIKES.items() if latin == char}
    found = set()
    for source in sources:
        for variant in {source, source.upper(), source.lower()}:
            if len(variant) == 1:
                found.add(variant)
                if "!" <= variant <= "~":
                    found.add(chr(ord(variant) + FULLWIDTH_OFFSET))
    return found


def look_alike_pattern(username: str) -> str:
    """A regular expression (the subset that Python and PostgreSQL read
    alike) matching the stored names with the skeleton of `username`."""
    classes = (
        "".join(sorted(re.escape(c) for c in spellings(char))) for char in skeleton(username)
    )
    return "^" + "".join(f"[{chars}]" for chars in classes) + "$"
