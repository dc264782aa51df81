"""The SQLite store's search index: migrations, shared rows, rebuild on changed definitions."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

from fhir_server import fhirjson
from fhir_server.definitions import load_definitions
from fhir_server.storage.port import RequestContext
from fhir_server.storage.sqlite import SqliteStorage
from fhir_server.storage.sqlite.connection import SCHEMA_VERSION, migrations

CTX = RequestContext()


def _run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def _with_store(path: Path, work: Any) -> Any:
    store = SqliteStorage(path, load_definitions())
    await store.start()
    try:
        return await work(store)
    finally:
        await store.close()


async def _put(store: SqliteStorage, resource: dict[str, Any]) -> None:
    async def job(tx: Any) -> None:
        await tx.write(resource["resourceType"], resource["id"], resource, "PUT")

    await store.run(CTX, job)


async def _ids(store: SqliteStorage, rtype: str, *criteria: tuple[str, str]) -> set[str]:
    found = await store.search(CTX, rtype, list(criteria), count=100)
    return {v.id for v in found.versions}


def test_one_row_per_distinct_value_and_the_parameter_still_decides(tmp_path: Path) -> None:
    """Anna as a family name and Anna as a given name share no row meaning: family=anna
    finds only the first, given=anna only the second, name=anna both."""
    path = tmp_path / "store.sqlite3"

    async def work(store: SqliteStorage) -> tuple[set[str], set[str], set[str]]:
        await _put(store, {"resourceType": "Patient", "id": "a", "name": [{"family": "Anna"}]})
        await _put(store, {"resourceType": "Patient", "id": "b", "name": [{"given": ["Anna"]}]})
        return (
            await _ids(store, "Patient", ("family", "anna")),
            await _ids(store, "Patient", ("given", "anna")),
            await _ids(store, "Patient", ("name", "anna")),
        )

    assert _run(_with_store(path, work)) == ({"a"}, {"b"}, {"a", "b"})
    conn = sqlite3.connect(path)
    # "anna" of Patient/a is one row for name, family and phonetic
    (rows,) = conn.execute(
        "SELECT count(*) FROM idx_string s JOIN resource r ON r.rid = s.rid"
        " WHERE r.id = 'a' AND s.value = 'anna'"
    ).fetchone()
    assert rows == 1


def test_a_version_1_database_is_migrated_and_its_resources_reindexed(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    (number, first), *_ = migrations()
    assert number == 1
    conn.executescript(first.read_text())
    conn.execute("PRAGMA user_version=1")
    patient = {"resourceType": "Patient", "id": "old", "name": [{"family": "Öberg"}]}
    conn.execute(
        "INSERT INTO resource (rid, type, id, version, seq, deleted)"
        " VALUES (1, 'Patient', 'old', 1, 1, 0)"
    )
    conn.execute(
        "INSERT INTO version (seq, rid, type, id, version, last_updated, method, deleted, data)"
        " VALUES (1, 1, 'Patient', 'old', 1, '2026-01-01T00:00:00.000000Z', 'PUT', 0, ?)",
        (fhirjson.dumps(patient),),
    )
    conn.close()

    async def work(store: SqliteStorage) -> set[str]:
        return await _ids(store, "Patient", ("family", "oberg"))

    assert _run(_with_store(path, work)) == {"old"}
    (version,) = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()
    assert version == SCHEMA_VERSION


def test_rows_are_rebuilt_when_the_definitions_changed(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"

    async def fill(store: SqliteStorage) -> None:
        await _put(store, {"resourceType": "Patient", "id": "p", "gender": "female"})

    _run(_with_store(path, fill))
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DELETE FROM idx_token")  # rows of an older definition set, say
    conn.execute("UPDATE search_state SET digest = 'older definitions'")
    conn.close()

    async def find(store: SqliteStorage) -> set[str]:
        return await _ids(store, "Patient", ("gender", "female"))

    assert _run(_with_store(path, find)) == {"p"}
    # and a start with unchanged definitions does not rebuild: rows deleted stay deleted
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DELETE FROM idx_token")
    conn.close()
    assert _run(_with_store(path, find)) == set()


def test_has_reads_the_reference_rows_from_the_rid_index_alone(tmp_path: Path) -> None:
    """The reverse look-up of _has is answered by the covering (rid, params) index."""
    path = tmp_path / "store.sqlite3"

    async def fill(store: SqliteStorage) -> None:
        await _put(store, {"resourceType": "Patient", "id": "p"})

    _run(_with_store(path, fill))
    conn = sqlite3.connect(path)
    plan = conn.execute(
        "EXPLAIN QUERY PLAN SELECT i.target_id FROM idx_reference i"
        " WHERE i.rid IN (1, 2) AND (i.params & 4) <> 0 AND i.target_type = 'Patient'"
    ).fetchall()
    assert any("COVERING INDEX idx_reference_rid" in row[3] for row in plan), plan
