"""A search past Settings.search_timeout_seconds is stopped inside the store, mid-query,
and answered 400 too-costly (storage/limits.py); the store goes on serving."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from fhir_server.definitions import load_definitions
from fhir_server.outcome import FhirError
from fhir_server.storage.port import RequestContext
from fhir_server.storage.postgres import PostgresStorage
from fhir_server.storage.sqlite.connection import time_limit
from tests.support import postgres

# a client's request (the server's own searches are not limited)
CLIENT = RequestContext(target="/Patient")
# a query that runs for minutes unless stopped
ENDLESS = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000)"
    " SELECT count(*) FROM c"
)


def _assert_too_costly(error: FhirError) -> None:
    assert error.status == 400
    assert [issue.code for issue in error.issues] == ["too-costly"]


def test_sqlite_stops_a_query_mid_way(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "x.sqlite3")
    started = time.monotonic()
    with pytest.raises(FhirError) as stopped, time_limit(conn, 0.2):
        conn.execute(ENDLESS).fetchone()
    assert 0.2 <= time.monotonic() - started < 2.0
    _assert_too_costly(stopped.value)
    # the limit went with it: the connection runs long queries again
    (count,) = conn.execute(ENDLESS.replace("1000000000", "300000")).fetchone()
    assert count == 300000


def test_postgres_cancels_a_query_mid_way_and_the_connection_goes_on(postgres_url: str) -> None:
    postgres.empty_store(postgres_url)

    async def run() -> None:
        store = PostgresStorage(postgres_url, load_definitions(), search_timeout=0.3)
        await store.start()
        try:
            started = time.monotonic()
            with pytest.raises(FhirError) as stopped:
                async with store._searching(CLIENT) as (_, fetch):
                    await fetch("SELECT pg_sleep(30)", [])
            assert 0.3 <= time.monotonic() - started < 3.0
            _assert_too_costly(stopped.value)
            # no connection lost to it: more searches than the pool has connections
            for _ in range(12):
                page = await store.search(CLIENT, "Patient", [], count=10)
                assert page.versions == [] and page.total == 0
            async with store._searching(CLIENT) as (_, fetch):
                busy = await fetch(
                    "SELECT count(*) FROM pg_stat_activity WHERE query LIKE ?",
                    ["SELECT pg_sleep%"],
                )
            assert busy == [(0,)]  # cancelled in PostgreSQL too, not only abandoned
        finally:
            await store.close()

    asyncio.run(run())
