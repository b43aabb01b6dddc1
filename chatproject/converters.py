"""Path converters shared by every app's urls; importing this module
registers them once."""

from django.urls import register_converter


class IdConverter:
    """Database ids in paths: digits only, small enough for a 64-bit column."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")
