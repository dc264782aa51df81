"""The range of numbers a decimal stands for, by its precision (search.html#number).

"100" searched for means [99.5, 100.5); "100.0" means [99.95, 100.05). A stored decimal is
a range by the same rule (5.4 covers [5.35, 5.45]), so that eq matches when the search
range contains it. Stored JSON integers are exact: they are integer, positiveInt or
unsignedInt elements far more often than whole decimals.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def parse_decimal(text: str) -> Decimal | None:
    """A search value's number, or None when the text is not a decimal."""
    if not _NUMBER.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def implied_range(value: Decimal) -> tuple[float, float]:
    """The interval a decimal stands for: half a unit of its last digit either side."""
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    half = Decimal(5).scaleb(exponent - 1)
    return float(value - half), float(value + half)


def stored_range(value: Any) -> tuple[float, float] | None:
    """The range an indexed JSON number covers; None for anything that is not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return float(value), float(value)
    if isinstance(value, float):
        # fhirjson.Decimal keeps the text as written (1.50); other floats print as written
        text = getattr(value, "text", None) or repr(value)
        parsed = parse_decimal(text)
        if parsed is None:  # inf or nan cannot come from JSON, but never raise
            return None
        return implied_range(parsed)
    return None
