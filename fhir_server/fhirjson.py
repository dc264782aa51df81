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

# numbers whose float form may print differently: 1.50, 0.12345678901234567, 1e3. Two
# patterns, each starting with a fixed character set the regex engine scans for quickly
# (one alternation of both is ~40 times slower on a typical resource). Text in strings can
# match too ("v2.4.0-100" in a narrative, "23:37:54.530" in an instant), and many long
# fractions print as they came (3.4961958350963034): a fraction's match counts only where
# a number can stand and when its float prints otherwise (_inexact_number_at), so neither
# costs the slower exact parse (all 40 Synthea bundles took it before).
_INEXACT_FRACTION = re.compile(rb"\.[0-9]*0(?![0-9])|\.[0-9]{16,}")
# an exponent ending where a number ends, on the text with every digit made 0 (one fixed
# character to scan for): "urn:uuid:6e8ba06d" in a string goes on with a letter
_EXPONENT_END = re.compile(rb"0[eE][-+]?0+(?:[,\]}\s]|$)")
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")


_DIGITS = frozenset(b"0123456789")
_BLANK = frozenset(b" \t\r\n")
_BEFORE_VALUE = frozenset(b":[,")


def _inexact_number_at(data: bytes, dot: int, end: int) -> bool:
    """Whether the fraction from the "." at `dot` to `end` belongs to a JSON number whose
    float would print otherwise. A number: digits before the ".", an optional minus,
    blanks, and what a value follows (a "," or "[", or the ":" after a member's name).
    Erring only one way: a string's text can look so too, which costs the exact parse,
    never a lost precision."""
    i = dot - 1
    while i >= 0 and data[i] in _DIGITS:
        i -= 1
    if i == dot - 1:
        return False  # a number has digits before its fraction
    start = i + 1
    if i >= 0 and data[i] == 0x2D:  # -
        start = i
        i -= 1
    while i >= 0 and data[i] in _BLANK:
        i -= 1
    if i >= 0 and data[i] not in _BEFORE_VALUE:
        return False
    if i >= 0 and data[i] == 0x3A and not _after_name(data, i):
        return False  # not 23:37:54.530
    if end < len(data) and data[end] in b"eE":
        return True
    text = data[start:end].decode("ascii")
    return repr(float(text)) != text


def _after_name(data: bytes, colon: int) -> bool:
    """Whether the ":" at `colon` ends a member's name ("…" before it, blanks aside)."""
    i = colon - 1
    while i >= 0 and data[i] in _BLANK:
        i -= 1
    return i >= 0 and data[i] == 0x22


def _has_inexact_fraction(data: bytes) -> bool:
    return any(
        _inexact_number_at(data, m.start(), m.end()) for m in _INEXACT_FRACTION.finditer(data)
    )


def _has_exponent(data: bytes) -> bool:
    """A number in exponent form (1e3): a cheap look for a digit before e/E first, then
    for such a pair ending as a number ends (ids and UUIDs have pairs that go on). Like
    the fractions, erring only towards the exact parse (text such as "x 1e5 y")."""
    zeroed = data.translate(_DIGITS_TO_ZERO)
    if b"0e" not in zeroed and b"0E" not in zeroed:
        return False
    return _EXPONENT_END.search(zeroed) is not None


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
    if not _has_inexact_fraction(data) and not _has_exponent(data):
        return orjson.loads(data)
    orjson.loads(data)  # the same strictness as the fast path (no NaN, valid UTF-8)
    return json.loads(data, parse_float=Decimal, parse_constant=_reject_constant)


def dumps(value: Any, pretty: bool = False) -> bytes:
    return orjson.dumps(value, default=_default, option=orjson.OPT_INDENT_2 if pretty else 0)


def plain(value: Any) -> Any:
    """The same JSON with every Decimal as a plain float (for the schema validator)."""
    return orjson.loads(dumps(value))
