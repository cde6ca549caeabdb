"""Request-body parsers of the whole API (DEFAULT_PARSER_CLASSES): JSON read exactly, refused cleanly when malformed.

``StrictJSONParser`` differs from DRF's ``JSONParser`` in what reaches a view:

- a number with a fraction or an exponent becomes a ``Decimal``, never a ``float``
  (no float touches money); ``NaN``/``Infinity`` are refused (``STRICT_JSON``);
- a body nested deeper than ``MAX_DEPTH`` is a 400, not a ``RecursionError`` (a 500);
- no string (value or key) may hold a NUL character or an unpaired UTF-16
  surrogate (``"\\ud800"``): PostgreSQL refuses NUL in text and neither can be
  encoded as UTF-8, so either would otherwise fail deep inside a query or while
  rendering an error message that echoes it (a 500). The body is refused as a
  whole with a 400 ``parse_error``.
"""

from __future__ import annotations

import codecs
import re
from decimal import Decimal

from rest_framework.exceptions import ParseError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.settings import api_settings
from rest_framework.utils import json

# Far deeper than any body of this API; far shallower than Python's recursion limit.
MAX_DEPTH = 32
_UNSAFE_TEXT = re.compile("[\x00\ud800-\udfff]")


def _check(data) -> None:
    """Refuse too deep nesting and unsafe text anywhere in a parsed JSON value (iteratively)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if _UNSAFE_TEXT.search(value):
                raise ParseError("JSON parse error - text may not contain NUL characters or unpaired surrogates.")
        elif isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.")
            if isinstance(value, dict):
                stack.extend((key, depth) for key in value)
                stack.extend((item, depth + 1) for item in value.values())
            else:
                stack.extend((item, depth + 1) for item in value)


class StrictJSONParser(JSONParser):
    """JSON with exact decimals, bounded nesting and no NUL/surrogate text (see the module docstring)."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", "utf-8")
        try:
            decoded = codecs.getreader(encoding)(stream)
            constant = json.strict_constant if api_settings.STRICT_JSON else None
            data = json.load(decoded, parse_float=Decimal, parse_constant=constant)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.") from None
        except ValueError as exc:  # also UnicodeDecodeError
            raise ParseError(f"JSON parse error - {exc}") from None
        _check(data)
        return data


# For views that also take HTML-form bodies (DRF's default set, with the strict JSON parser).
PARSERS = [StrictJSONParser, FormParser, MultiPartParser]
JSON_ONLY = [StrictJSONParser]
