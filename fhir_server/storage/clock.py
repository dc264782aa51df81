"""Timestamps for meta.lastUpdated: UTC, microseconds, fixed width, strictly increasing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class MonotonicClock:
    """Strictly increasing instants, so versions order by time as they do by sequence."""

    def __init__(self) -> None:
        self._last = datetime.min.replace(tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> str:
        with self._lock:
            current = datetime.now(UTC)
            if current <= self._last:
                current = self._last + timedelta(microseconds=1)
            self._last = current
            return format_instant(current)


def format_instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_instant(text: str) -> datetime:
    """Parse a FHIR instant/dateTime (with offset, or 'Z'); naive values are taken as UTC."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value
