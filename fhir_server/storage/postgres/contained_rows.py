"""Contained resources as search units in the PostgreSQL store: the keys and layout of
sqlite/contained_rows.py, written by this store's statements."""

from __future__ import annotations

from typing import Any

import asyncpg

from fhir_server.search.index import IndexEntries
from fhir_server.storage.postgres.index_rows import INDEX_TABLES, index_arrays, index_records
from fhir_server.storage.postgres.statements import CONTAINED_DELETE, contained_insert_statement
from fhir_server.storage.sqlite.contained_rows import (
    CONTAINED_TABLE,
    SPAN,
    unit_key,
    unit_range,
)
from fhir_server.storage.sqlite.index_rows import FULL_TEXT_TABLE, SearchKeys


async def write_contained(
    conn: asyncpg.Connection,
    keys: SearchKeys,
    container: int,
    seq: int,
    entries: IndexEntries | None,
    removed: bool,
) -> None:
    """After a write (statements.write_statement): the units of the former version go with
    their rows (`removed`: it may have had some), those of the new version (`entries`;
    None for a deletion) come in."""
    if removed:
        await conn.execute(CONTAINED_DELETE, *unit_range(container))
    for unit in entries.contained if entries is not None else ():
        present, arrays = index_arrays(keys, unit.resource_type, unit.entries)
        await conn.execute(
            contained_insert_statement(present),
            unit_key(container, unit.position),
            container,
            seq,
            unit.resource_type,
            unit.id,
            *arrays,
        )


def contained_records(
    keys: SearchKeys, container: int, seq: int, entries: IndexEntries, into: dict[str, list[Any]]
) -> None:
    """Appends a container's units and their index rows to `into` (index_records' COPY)."""
    for unit in entries.contained:
        key = unit_key(container, unit.position)
        into.setdefault(CONTAINED_TABLE, []).append(
            (key, container, seq, unit.resource_type, unit.id)
        )
        index_records(keys, key, unit.resource_type, unit.entries, into)


async def delete_contained_of(conn: asyncpg.Connection, containers: list[int]) -> None:
    """Removes the units of these containers and their index rows (bulk load)."""
    gone = await conn.fetch(
        "DELETE FROM contained c USING unnest($1::bigint[]) o(rid)"
        f" WHERE c.rid BETWEEN -(o.rid * {SPAN} + {SPAN - 1}) AND -(o.rid * {SPAN} + 1)"
        " RETURNING c.rid",
        containers,
    )
    if not gone:
        return
    units = [row[0] for row in gone]
    for table in (*INDEX_TABLES, FULL_TEXT_TABLE):
        await conn.execute(f"DELETE FROM {table} WHERE rid = ANY($1::bigint[])", units)
