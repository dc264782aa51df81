"""Contained resources' index rows (search.html#contained) on every store: they follow
their container's current version in the same transaction, by single writes, bulk loads
and the start-up rebuild, and never count as resources."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from fhir_server.definitions import load_definitions
from fhir_server.search.contained import ContainedScope
from fhir_server.storage.port import NewVersion, RequestContext, Storage
from fhir_server.storage.postgres import PostgresStorage
from fhir_server.storage.sqlite import SqliteStorage
from fhir_server.storage.sqlite.contained_rows import unit_key
from fhir_server.storage.sqlite.index_rows import FULL_TEXT_TABLE, INDEX_TABLES
from tests.storage.conftest import Runner
from tests.support import postgres

CTX = RequestContext()
ATC = "http://www.whocc.no/atc"
UNITS = ContainedScope("true", "contained")
XHTML = "http://www.w3.org/1999/xhtml"


def _medication(local_id: str, code: str) -> dict[str, Any]:
    return {
        "resourceType": "Medication",
        "id": local_id,
        "text": {"status": "generated", "div": f'<div xmlns="{XHTML}">Tablett {code}</div>'},
        "code": {"coding": [{"system": ATC, "code": code}]},
    }


def _container(rid: str, *contained: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "contained": list(contained),
        "medicationReference": {"reference": f"#{contained[0]['id']}"} if contained else None,
    }


def _clean(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if v is not None and v != []}


def _put(store: Runner, *resources: dict[str, Any]) -> None:
    async def job(tx: Any) -> None:
        for resource in resources:
            resource = _clean(resource)
            await tx.write(resource["resourceType"], resource["id"], resource, "PUT")

    store(store.store.run(CTX, job))


def _units(store: Runner, *criteria: tuple[str, str]) -> list[str]:
    found = store(store.store.search(CTX, "Medication", list(criteria), count=50, contained=UNITS))
    return [f"{v.container}#{v.id}" for v in found.versions]


def _unit_rows(store: Runner, request: pytest.FixtureRequest) -> dict[str, int]:
    """Rows of contained resources per table (the contained table, index tables by rid)."""
    tables = ("contained", *INDEX_TABLES, FULL_TEXT_TABLE)
    if isinstance(store.store, SqliteStorage):
        conn = sqlite3.connect(store.store._path)  # the test reads the file as it is
        try:
            counts = {}
            for table in tables:
                key = "rowid" if table == FULL_TEXT_TABLE else "rid"
                (n,) = conn.execute(f"SELECT count(*) FROM {table} WHERE {key} < 0").fetchone()
                counts[table] = n
            return counts
        finally:
            conn.close()
    url = request.getfixturevalue("postgres_url")

    async def count() -> dict[str, int]:
        conn = await asyncpg.connect(url)
        try:
            return {
                table: await conn.fetchval(f"SELECT count(*) FROM {table} WHERE rid < 0")
                for table in tables
            }
        finally:
            await conn.close()

    result: dict[str, int] = store(count())
    return result


def test_contained_rows_follow_their_container(
    store: Runner, request: pytest.FixtureRequest
) -> None:
    _put(store, _container("mr1", _medication("a", "N02BE01"), _medication("b", "C03CA01")))
    assert _units(store, ("code", "N02BE01")) == ["MedicationRequest/mr1#a"]
    assert _units(store, ("code", "C03CA01")) == ["MedicationRequest/mr1#b"]
    rows = _unit_rows(store, request)
    assert rows["contained"] == 2 and rows["idx_token"] > 0 and rows[FULL_TEXT_TABLE] == 2
    # an update replaces them: the second one's rows go, the first one's change
    _put(store, _container("mr1", _medication("a", "A10BA02")))
    assert _units(store, ("code", "N02BE01")) == []
    assert _units(store, ("code", "C03CA01")) == []
    assert _units(store, ("code", "A10BA02")) == ["MedicationRequest/mr1#a"]
    assert _units(store, ("_text", "tablett")) == ["MedicationRequest/mr1#a"]
    rows = _unit_rows(store, request)
    assert rows["contained"] == 1 and rows[FULL_TEXT_TABLE] == 1
    # a deletion takes every row with it
    store(store.store.run(CTX, lambda tx: tx.write("MedicationRequest", "mr1", None, "DELETE")))
    assert _units(store) == []
    assert set(_unit_rows(store, request).values()) == {0}


def test_two_writes_of_a_container_in_one_job(
    store: Runner, request: pytest.FixtureRequest
) -> None:
    async def job(tx: Any) -> None:
        for resource in (
            _container("mr1", _medication("a", "N02BE01"), _medication("b", "N02BE01")),
            _container("mr1", _medication("c", "C03CA01")),
        ):
            await tx.write("MedicationRequest", "mr1", _clean(resource), "PUT")

    store(store.store.run(CTX, job))
    assert _units(store, ("code", "N02BE01")) == []
    assert _units(store) == ["MedicationRequest/mr1#c"]
    assert _unit_rows(store, request)["contained"] == 1


def test_a_failing_job_leaves_no_contained_rows(
    store: Runner, request: pytest.FixtureRequest
) -> None:
    async def job(tx: Any) -> None:
        resource = _clean(_container("mr1", _medication("a", "N02BE01")))
        await tx.write("MedicationRequest", "mr1", resource, "PUT")
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        store(store.store.run(CTX, job))
    assert set(_unit_rows(store, request).values()) == {0}
    assert _units(store) == []


def test_contained_resources_never_count_as_resources(store: Runner) -> None:
    _put(
        store,
        _container("mr1", _medication("a", "N02BE01")),
        _container("mr2", _medication("a", "N02BE01")),
        _medication("m1", "N02BE01"),
    )
    for criteria in ([("code", "N02BE01")], [("code", f"{ATC}|N02BE01")], []):
        found = store(store.store.search(CTX, "Medication", criteria, count=10))
        assert ([v.id for v in found.versions], found.total) == (["m1"], 1)
    both = store(
        store.store.search(
            CTX, "Medication", [("code", "N02BE01")], count=10, contained=ContainedScope("both")
        )
    )
    assert [f"{v.resource_type}/{v.id}" for v in both.versions] == [
        "MedicationRequest/mr1",
        "MedicationRequest/mr2",
        "Medication/m1",
    ]
    assert both.total == 3


def test_bulk_load_replaces_contained_rows(store: Runner, request: pytest.FixtureRequest) -> None:
    def items(*resources: dict[str, Any]) -> list[NewVersion]:
        out = []
        for resource in map(_clean, resources):
            entries = store.store.index(resource)
            out.append(
                NewVersion(resource["resourceType"], resource["id"], resource, "PUT", entries)
            )
        return out

    store(store.store.load(CTX, items(_container("mr1", _medication("a", "N02BE01")))))
    assert _units(store, ("code", "N02BE01")) == ["MedicationRequest/mr1#a"]
    store(
        store.store.load(
            CTX,
            items(
                _container("mr1", _medication("b", "C03CA01")),
                _container("mr2", _medication("c", "C03CA01")),
            ),
        )
    )
    assert _units(store, ("code", "N02BE01")) == []
    assert _units(store, ("code", "C03CA01")) == [
        "MedicationRequest/mr1#b",
        "MedicationRequest/mr2#c",
    ]
    assert _unit_rows(store, request)["contained"] == 2


async def _restarted(make: Any, work: Any) -> Any:
    store: Storage = make()
    await store.start()
    try:
        return await work(store)
    finally:
        await store.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_the_start_up_rebuild_indexes_contained_resources(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    definitions = load_definitions()
    if kind == "sqlite":
        path = tmp_path / "store.sqlite3"

        def make() -> Storage:
            return SqliteStorage(path, definitions)

        def forget() -> None:
            conn = sqlite3.connect(path)
            conn.execute("UPDATE search_state SET digest = 'old'")
            conn.execute("DELETE FROM contained")
            conn.commit()
            conn.close()
    else:
        url = request.getfixturevalue("postgres_url")
        postgres.empty_store(url)

        def make() -> Storage:
            return PostgresStorage(url, definitions)

        async def forget_pg() -> None:
            conn = await asyncpg.connect(url)
            await conn.execute("UPDATE search_state SET digest = 'old'; TRUNCATE contained")
            await conn.close()

        def forget() -> None:
            asyncio.run(forget_pg())

    async def put(store: Storage) -> None:
        async def job(tx: Any) -> None:
            resource = _clean(_container("mr1", _medication("a", "N02BE01")))
            await tx.write("MedicationRequest", "mr1", resource, "PUT")

        await store.run(CTX, job)

    async def units(store: Storage) -> list[str]:
        found = await store.search(
            CTX, "Medication", [("code", "N02BE01")], count=5, contained=UNITS
        )
        return [f"{v.container}#{v.id}" for v in found.versions]

    asyncio.run(_restarted(make, put))
    forget()
    assert asyncio.run(_restarted(make, units)) == ["MedicationRequest/mr1#a"]


def test_unit_keys_are_negative_and_ordered_by_container_then_position() -> None:
    assert unit_key(1, 0) < 0
    keys = [unit_key(c, p) for c in (1, 2, 3) for p in (0, 1, 5)]
    assert sorted(keys, key=lambda k: -k) == keys
    assert len(set(keys)) == len(keys)
