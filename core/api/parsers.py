"""The API's JSON parser: well-formed JSON whose strings PostgreSQL can store."""

import re
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from core.api.problems import pointer_token
from core.errors import FieldErrors

# NUL cannot be stored in a PostgreSQL text or jsonb value; a lone surrogate cannot be
# encoded as UTF-8 at all. Both are refused for every string in the body, keys included.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _check_strings(value: Any, pointer: str = "") -> None:
    if isinstance(value, str):
        if _UNSTORABLE.search(value):
            raise FieldErrors(
                {
                    pointer or "/": [
                        "This text contains a NUL byte or a lone surrogate; send valid Unicode text."
                    ]
                }
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key, pointer)
            _check_strings(item, f"{pointer}/{pointer_token(key)}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_strings(item, f"{pointer}/{index}")


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        # json raises RecursionError, not ValueError, for a body like [[[[...; it was a 500.
        try:
            data = super().parse(stream, media_type, parser_context)
            _check_strings(data)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
        return data
