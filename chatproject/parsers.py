"""The API's request body parser."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with JSON nested deeper than the decoder can recurse
    (`[[[[…]]]]`, 100,000 levels) a 400 `parse_error` like any malformed body:
    DRF's own parser catches only ValueError, so such a body was a 500 with a
    logged traceback on every request, anonymous ones included."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
