"""Time for the LUS clocks: instants, Swedish calendar days and deadlines.

Every legal clock counts in Swedish local time (Europe/Stockholm): "3 days after the
notice" is the same wall-clock time three calendar days later, which is 71 or 73 hours of
elapsed time across a daylight-saving change; "24 hours" is elapsed time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fhir_server.transitions.codes import STOCKHOLM

SWEDEN = ZoneInfo(STOCKHOLM)


def instant(text: str) -> datetime:
    """An aware datetime from a FHIR instant or dateTime; a date alone is its start in
    Swedish time, a dateTime without offset is read as Swedish time."""
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), time(), SWEDEN)
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=SWEDEN)


def swedish(moment: datetime) -> datetime:
    return moment.astimezone(SWEDEN)


def swedish_date(moment: datetime) -> date:
    """The calendar day in Sweden of an instant."""
    return moment.astimezone(SWEDEN).date()


def fhir_instant(moment: datetime) -> str:
    """An instant as FHIR writes it, in Swedish local time with its offset."""
    return moment.astimezone(SWEDEN).isoformat(timespec="seconds")


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class DeadlineRule:
    """When a task is due, counted from the event that created it.

    hours: elapsed hours; days: calendar days in Swedish time at the same wall-clock time,
    or at `at` ("HH:MM" or "HH:MM:SS") on that day when given. All unset: no deadline."""

    hours: float | None = None
    days: int | None = None
    at: str | None = None

    def due(self, start: datetime) -> datetime | None:
        if self.hours is not None:
            return start + timedelta(hours=self.hours)
        if self.days is None and self.at is None:
            return None
        local = swedish(start)
        day = local.date() + timedelta(days=self.days or 0)
        wall = time.fromisoformat(self.at) if self.at else local.time().replace(tzinfo=None)
        # a wall-clock time that does not exist (spring forward) moves on; fold=0 takes the
        # first of two that exist twice (autumn): zoneinfo normalises through UTC
        return datetime.combine(day, wall, SWEDEN).astimezone(UTC).astimezone(SWEDEN)
