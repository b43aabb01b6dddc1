"""Ids as the API and the pages write them: strings of digits."""

import re

from rest_framework import serializers

ID_PATTERN = re.compile(r"^[0-9]{1,18}$")


def parse_id(value: str | None) -> int | None:
    """A database id written as digits (1 to 18 ASCII ones, around spaces), or
    None for anything else ("²", "-1", a number too big for the database's
    integer): an id that cannot exist is "not found", never a query."""
    value = (value or "").strip()
    return int(value) if ID_PATTERN.fullmatch(value) else None


class IdField(serializers.RegexField):
    """An id as the API writes it: a string of digits (a JSON number is accepted too)."""

    def __init__(self, **kwargs):
        super().__init__(ID_PATTERN.pattern, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, int) and not isinstance(data, bool):
            data = str(data)
        if not isinstance(data, str):
            self.fail("invalid")
        value = super().to_internal_value(data)
        # The regex validator runs only after this method, so check it here
        # before int(): "abc" must be a 400, not a ValueError (500).
        if not ID_PATTERN.match(value):
            self.fail("invalid")
        return int(value)
