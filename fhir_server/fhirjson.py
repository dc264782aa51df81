"""FHIR JSON in and out, keeping the precision of decimals.

FHIR decimals carry their precision in their text: 1.50 is not 1.5 (datatypes.html#decimal).
Python floats lose that, so a body whose numbers could change when printed again (a trailing
zero in a fraction, an exponent, more digits than a double holds) is parsed with each such
number kept as `Decimal`, a float that remembers its text and is printed as it came.
Everything else takes orjson's fast path.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

# numbers whose float form would print differently: 1.50, 1e3, 0.12345678901234567
_INEXACT = re.compile(rb"[0-9]\.[0-9]*0(?![0-9])|[0-9][eE][-+]?[0-9]|\.[0-9]{16,}")


class Decimal(float):
    """A JSON number that keeps its original text."""

    __slots__ = ("text",)
    text: str

    def __new__(cls, text: str) -> Decimal:
        value = super().__new__(cls, text)
        value.text = text
        return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(value.text)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def loads(raw: bytes | str) -> Any:
    """Parse JSON; raises ValueError (orjson.JSONDecodeError is one) when it is not JSON."""
    data = raw.encode() if isinstance(raw, str) else raw
    if _INEXACT.search(data) is None:
        return orjson.loads(data)
    orjson.loads(data)  # the same strictness as the fast path (no NaN, valid UTF-8)
    return json.loads(data, parse_float=Decimal, parse_constant=_reject_constant)


def dumps(value: Any, pretty: bool = False) -> bytes:
    return orjson.dumps(value, default=_default, option=orjson.OPT_INDENT_2 if pretty else 0)


def plain(value: Any) -> Any:
    """The same JSON with every Decimal as a plain float (for the schema validator)."""
    return orjson.loads(dumps(value))
