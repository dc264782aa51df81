"""FHIR dates as the instant range they cover, in UTC text that sorts as time does.

A date search compares ranges (search.html#date): "2020" is all of 2020, "2020-03-01" a day,
"2020-03-01T10:00:00+01:00" one second. A value becomes (low, high), both fixed-width UTC
text like "2020-01-01T00:00:00.000000Z", so ranges compare as plain strings in any store.
A time without a zone is taken as UTC, and so is a date.
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta
from functools import lru_cache

EARLIEST = "0001-01-01T00:00:00.000000Z"
LATEST = "9999-12-31T23:59:59.999999Z"

_DATE = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})"
    r"(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?"
)


def format_instant(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds") + "Z"


@lru_cache(maxsize=16384)
def date_range(text: str) -> tuple[str, str] | None:
    """The UTC range a date, dateTime or instant covers; None when it is not one."""
    match = _DATE.fullmatch(text.strip())
    if match is None:
        return None
    year_text, month_text, day_text, hour, minute, second, fraction, zone = match.groups()
    try:
        year = int(year_text)
        if month_text is None:
            low = datetime(year, 1, 1)
            high = datetime(year, 12, 31, 23, 59, 59, 999999)
            return format_instant(low), format_instant(high)
        month = int(month_text)
        if day_text is None:
            last = calendar.monthrange(year, month)[1] if 1 <= month <= 12 else 0
            low = datetime(year, month, 1)
            high = datetime(year, month, last, 23, 59, 59, 999999)
            return format_instant(low), format_instant(high)
        day = int(day_text)
        if hour is None:
            low = datetime(year, month, day)
            high = datetime(year, month, day, 23, 59, 59, 999999)
            return format_instant(low), format_instant(high)
        if second is None:
            low = datetime(year, month, day, int(hour), int(minute))
            high = low.replace(second=59, microsecond=999999)
        elif fraction is None:
            low = datetime(year, month, day, int(hour), int(minute), int(second))
            high = low.replace(microsecond=999999)
        else:
            micros = int(fraction[:6].ljust(6, "0"))
            low = datetime(year, month, day, int(hour), int(minute), int(second), micros)
            high = low.replace(microsecond=int(fraction[:6].ljust(6, "9")))
    except ValueError:  # month 13, February 30th, hour 25, ...
        return None
    if zone is None or zone == "Z":
        return format_instant(low), format_instant(high)
    sign = -1 if zone[0] == "+" else 1
    shift = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])) * sign
    return _shifted(low, shift), _shifted(high, shift)


def _shifted(moment: datetime, shift: timedelta) -> str:
    try:
        return format_instant(moment + shift)
    except OverflowError:  # within hours of year 1 or year 9999
        return EARLIEST if shift < timedelta(0) else LATEST
