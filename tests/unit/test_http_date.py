"""Last-Modified: the HTTP-date of a stored instant, checked against the standard library's
RFC 5322 formatting (email.utils) over many instants, the cut path and the parsed one."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

from fhir_server.rest.responses import http_date
from fhir_server.storage.clock import format_instant


def test_stored_instants_give_the_rfc_date() -> None:
    rng = random.Random(7)
    start = datetime(1970, 1, 1, tzinfo=UTC)
    for _ in range(5000):
        moment = start + timedelta(
            seconds=rng.randrange(0, 4_000_000_000), microseconds=rng.randrange(1_000_000)
        )
        assert http_date(format_instant(moment)) == format_datetime(moment, usegmt=True)


def test_instants_with_an_offset_are_given_in_gmt() -> None:
    moment = datetime(2026, 3, 1, 0, 30, 5, 120000, tzinfo=timezone(timedelta(hours=2)))
    assert http_date(moment.isoformat()) == "Sat, 28 Feb 2026 22:30:05 GMT"
    assert http_date("2024-02-29T23:59:59Z") == "Thu, 29 Feb 2024 23:59:59 GMT"
