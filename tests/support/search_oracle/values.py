"""What a selected element is worth to each search parameter type (search.html#ptypes).

Ranges are half-open [low, high) in exact arithmetic (Decimal): a date is the seconds since
1970-01-01T00:00:00Z it covers, a decimal the interval its written precision implies.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

INFINITY = Decimal("Infinity")

# ContactPoint.system codes: a token of a ContactPoint has no system (search.html#token)
CONTACT_SYSTEMS = frozenset({"phone", "fax", "email", "pager", "url", "sms", "other"})
HUMAN_NAME_PARTS = ("family", "given", "prefix", "suffix", "text")
ADDRESS_PARTS = ("line", "city", "district", "state", "postalCode", "country", "text")


def fold(text: str) -> str:
    """Case and accents do not matter to a string search: "Åsa" is "asa"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def extension_value(item: Any) -> Any:
    """An Extension selected by a search expression stands for its value[x]."""
    if isinstance(item, dict) and "url" in item:
        for key, value in item.items():
            if key.startswith("value"):
                return value
    return item


# strings ---------------------------------------------------------------------------------


def strings(values: list[Any]) -> list[str]:
    out: list[str] = []
    for item in values:
        item = extension_value(item)
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            parts = HUMAN_NAME_PARTS if _is_name(item) else ADDRESS_PARTS
            for part in parts:
                value = item.get(part)
                for text in value if isinstance(value, list) else [value]:
                    if isinstance(text, str):
                        out.append(text)
    # whitespace around a string is not part of its value (datatypes.html#string)
    return [s.strip() for s in out if s.strip()]


def _is_name(item: dict[str, Any]) -> bool:
    return any(k in item for k in ("family", "given", "prefix", "suffix"))


# tokens ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    system: str | None
    code: str | None
    texts: tuple[str, ...] = ()  # the text :text looks at
    contact: bool = False  # a ContactPoint's


def tokens(values: list[Any]) -> list[Token]:
    out: list[Token] = []
    for item in values:
        item = extension_value(item)
        if isinstance(item, bool):
            out.append(Token(None, "true" if item else "false"))
        elif isinstance(item, str):
            out.append(Token(None, item))
        elif isinstance(item, int | Decimal):
            out.append(Token(None, str(item)))
        elif isinstance(item, dict):
            out.extend(_object_tokens(item))
    return out


def _object_tokens(item: dict[str, Any]) -> list[Token]:
    if "coding" in item or ("text" in item and "value" not in item and "code" not in item):
        # CodeableConcept: every coding, with its display and the concept's text
        text = item.get("text")
        found = []
        for coding in item.get("coding") or []:
            if isinstance(coding, dict):
                texts = tuple(t for t in (coding.get("display"), text) if isinstance(t, str))
                found.append(Token(coding.get("system"), coding.get("code"), texts))
        if not found and isinstance(text, str):
            found.append(Token(None, None, (text,)))
        return found
    if "value" in item:
        value = item["value"]
        if not isinstance(value, str):
            return []
        system = item.get("system")
        if system in CONTACT_SYSTEMS or "rank" in item:  # ContactPoint: no system
            return [Token(None, value, contact=True)]
        kind = item.get("type")
        texts = (
            (kind["text"],) if isinstance(kind, dict) and isinstance(kind.get("text"), str) else ()
        )
        return [Token(system, value, texts)]  # Identifier
    if "code" in item or "system" in item:  # Coding
        display = item.get("display")
        return [Token(item.get("system"), item.get("code"), (display,) if display else ())]
    return []


# references ------------------------------------------------------------------------------


def reference_texts(values: list[Any]) -> list[str]:
    out = []
    for item in values:
        item = extension_value(item)
        if isinstance(item, dict):
            item = item.get("reference")
        if isinstance(item, str) and item:
            out.append(item)
    return out


# dates -----------------------------------------------------------------------------------

_DATE = re.compile(
    r"(-?\d{4})(?:-(\d{2})(?:-(\d{2})"
    r"(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?"
)


def _days(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to a proleptic Gregorian date (any year)."""
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _month_length(year: int, month: int) -> int:
    following = (year + 1, 1) if month == 12 else (year, month + 1)
    return _days(*following, 1) - _days(year, month, 1)


def date_range(text: str) -> tuple[Decimal, Decimal] | None:
    """[low, high) in seconds since the epoch (UTC) that a date/dateTime/instant covers.
    A time without a zone is taken as UTC (the server's time zone)."""
    match = _DATE.fullmatch(text)
    if match is None:
        return None
    year_t, month_t, day_t, hour_t, minute_t, second_t, fraction, zone = match.groups()
    year = int(year_t)
    if month_t is None:
        return Decimal(_days(year, 1, 1) * 86400), Decimal(_days(year + 1, 1, 1) * 86400)
    month = int(month_t)
    if not 1 <= month <= 12:
        return None
    if day_t is None:
        first = _days(year, month, 1)
        return Decimal(first * 86400), Decimal((first + _month_length(year, month)) * 86400)
    day = int(day_t)
    if not 1 <= day <= _month_length(year, month):
        return None
    midnight = _days(year, month, day) * 86400
    if hour_t is None:
        return Decimal(midnight), Decimal(midnight + 86400)
    hour, minute = int(hour_t), int(minute_t)
    if hour > 23 or minute > 59:
        return None
    offset = 0
    if zone not in (None, "Z"):
        sign = 1 if zone[0] == "+" else -1
        offset = sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    moment = Decimal(midnight + hour * 3600 + minute * 60 - offset)
    if second_t is None:
        return moment, moment + 60
    second = int(second_t)
    if second > 59:
        return None
    moment += second
    if fraction is None:
        return moment, moment + 1
    step = Decimal(1).scaleb(-len(fraction))
    moment += Decimal("0." + fraction)
    return moment, moment + step


def date_ranges(values: list[Any]) -> list[tuple[Decimal, Decimal]]:
    out = []
    for item in values:
        item = extension_value(item)
        if isinstance(item, str):
            found = date_range(item)
            if found is not None:
                out.append(found)
        elif isinstance(item, dict):
            # a Period (open ends unbounded), or a Timing: only its outer limits matter
            # (search.html#date)
            found = _period(item) if "start" in item or "end" in item else _timing(item)
            if found is not None:
                out.append(found)
    return out


def _period(period: dict[str, Any]) -> tuple[Decimal, Decimal] | None:
    start = date_range(period["start"]) if isinstance(period.get("start"), str) else None
    end = date_range(period["end"]) if isinstance(period.get("end"), str) else None
    if start is None and end is None:
        return None
    return (-INFINITY if start is None else start[0]), (INFINITY if end is None else end[1])


def _timing(timing: dict[str, Any]) -> tuple[Decimal, Decimal] | None:
    found = [date_range(e) for e in timing.get("event") or [] if isinstance(e, str)]
    repeat = timing.get("repeat")
    if isinstance(repeat, dict) and isinstance(repeat.get("boundsPeriod"), dict):
        found.append(_period(repeat["boundsPeriod"]))
    ranges = [r for r in found if r is not None]
    if not ranges:
        return None
    return min(r[0] for r in ranges), max(r[1] for r in ranges)


# numbers and quantities ------------------------------------------------------------------


@dataclass(frozen=True)
class Number:
    """A value as the interval [low, high) its precision implies, or a point (exact)."""

    low: Decimal
    high: Decimal
    exact: bool
    value: Decimal  # as written (for a Range: its low, or its high)

    @classmethod
    def of(cls, value: Any) -> Number | None:
        if isinstance(value, bool):
            return None
        if isinstance(value, int):  # integer, positiveInt, unsignedInt: exact
            return cls(Decimal(value), Decimal(value), True, Decimal(value))
        if isinstance(value, Decimal) and value.is_finite():
            low, high = implied(value)
            return cls(low, high, False, value)
        return None


def implied(value: Decimal) -> tuple[Decimal, Decimal]:
    """[value - ½ unit of its last digit, value + ½ unit): "100" is [99.5, 100.5)."""
    half = Decimal(5).scaleb(value.as_tuple().exponent - 1)  # type: ignore[operator]
    return value - half, value + half


def numbers(values: list[Any]) -> list[Number]:
    found = [Number.of(extension_value(v)) for v in values]
    return [n for n in found if n is not None]


@dataclass(frozen=True)
class QuantityValue:
    number: Number
    system: str | None
    code: str | None
    unit: str | None


def quantities(values: list[Any]) -> list[QuantityValue]:
    out = []
    for item in values:
        item = extension_value(item)
        if not isinstance(item, dict):
            continue
        if "low" in item or "high" in item:  # Range: from low to high, open ends unbounded
            low = item.get("low") if isinstance(item.get("low"), dict) else None
            high = item.get("high") if isinstance(item.get("high"), dict) else None
            low_n = Number.of(low.get("value")) if low else None
            high_n = Number.of(high.get("value")) if high else None
            if low_n is None and high_n is None:
                continue
            unit_of = low if low_n is not None else high
            assert unit_of is not None
            number = Number(
                -INFINITY if low_n is None else low_n.low,
                INFINITY if high_n is None else high_n.high,
                False,
                (low_n or high_n).value,  # type: ignore[union-attr]
            )
            out.append(_quantity(number, unit_of))
            continue
        found = Number.of(item.get("value"))
        if found is None:
            continue
        number = found
        comparator = item.get("comparator")
        if comparator in ("<", "<="):
            number = Number(-INFINITY, number.high, False, number.value)
        elif comparator in (">", ">="):
            number = Number(number.low, INFINITY, False, number.value)
        out.append(_quantity(number, item))
    return out


def _quantity(number: Number, item: dict[str, Any]) -> QuantityValue:
    if isinstance(item.get("currency"), str):  # Money
        return QuantityValue(number, "urn:iso:std:iso:4217", item["currency"], None)
    return QuantityValue(number, item.get("system"), item.get("code"), item.get("unit"))


def uris(values: list[Any]) -> list[str]:
    found = [extension_value(v) for v in values]
    return [v for v in found if isinstance(v, str) and v]
