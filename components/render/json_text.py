"""JSON text of rendered documents (dashboards): sorted keys, two-space indentation.

``json.dumps(indent=...)`` runs Python's pure-Python encoder (the C one serves only compact
output); orjson writes the same text about twenty times faster. The two differ in a few places,
each checked on orjson's output, which then goes back to ``json.dumps``: non-ASCII text and DEL
(``json`` escapes them, ``ensure_ascii``), float spelling (``1e-05`` against ``0.00001``), keys
that are not strings and integers beyond 64 bits (orjson refuses them). ``NaN`` and infinities
(``json`` writes ``NaN``, orjson ``null``) cannot occur: every float a dashboard holds comes from
a setting validated finite.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
# The end of a number with a fraction or an exponent (`0.9`, `1e-05`), alone at the end of its line
# (a string ends with a quote, so text inside strings never matches); the number starts after the
# space before it (of `"key": ` or of an array's indentation).
_FLOAT_END = re.compile(r"[.eE][-+]?[0-9]+,?\n")


def sorted_json(value: Any) -> str:
    """``json.dumps(value, sort_keys=True, indent=2)``, byte for byte."""
    try:
        text = orjson.dumps(value, option=_OPTIONS).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(value, sort_keys=True, indent=2)
    if not text.isascii() or "\x7f" in text or not _floats_spelled_as_python_does(text):
        return json.dumps(value, sort_keys=True, indent=2)
    return text


def _floats_spelled_as_python_does(text: str) -> bool:
    for match in _FLOAT_END.finditer(text):
        number = text[text.rfind(" ", 0, match.start()) + 1:match.end()].rstrip(",\n")
        if repr(float(number)) != number:
            return False
    return True
