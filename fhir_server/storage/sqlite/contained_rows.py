"""Contained resources as search units: their keys, and writing their rows (SQLite).

A contained resource has no identity of its own (search.html#contained): it lives and dies
with its container's current version. Its search rows sit in the same index tables as a
resource's, under a negative key made of the container's rid and its position in
`contained` (see migrations/0007_contained.sql), so they never meet a resource's rows and
a container's units are one key range. Both stores use these keys; PostgreSQL writes the
rows with its own statements (postgres/contained_rows.py).

The order of search units (search_results.py pages by one integer) puts each container
before its contained resources: a resource's is its rid * 2^20, a contained one's is its
key without the sign.
"""

from __future__ import annotations

import sqlite3

from fhir_server.search.index import IndexEntries
from fhir_server.storage.sqlite.index_rows import (
    FULL_TEXT_TABLE,
    INDEX_TABLES,
    SearchKeys,
    insert_rows,
)

SHIFT = 20
SPAN = 1 << SHIFT
CONTAINED_TABLE = "contained"


def unit_key(container: int, position: int) -> int:
    """The (negative) key of the contained resource at `position` of a container."""
    return -(container * SPAN + position + 1)


def unit_range(container: int) -> tuple[int, int]:
    """The lowest and highest key of a container's contained resources."""
    return -(container * SPAN + SPAN - 1), -(container * SPAN + 1)


def position_of(key: int) -> int:
    """The position in `contained` of the resource with this (negative) key."""
    return (-key) % SPAN - 1


def unit_of_order(order: int) -> tuple[bool, int]:
    """(contained, key) of a place in the order of units (a resource's is rid * SPAN, a
    contained resource's its key without the sign): the rid, or the negative key."""
    if order % SPAN == 0:
        return False, order // SPAN
    return True, -order


def insert_contained(
    conn: sqlite3.Connection, keys: SearchKeys, container: int, seq: int, entries: IndexEntries
) -> None:
    """The units of a container's current version `seq` and their index rows (the old ones
    must be gone: delete_contained)."""
    for unit in entries.contained:
        key = unit_key(container, unit.position)
        conn.execute(
            "INSERT INTO contained (rid, container, seq, type, id) VALUES (?, ?, ?, ?, ?)",
            (key, container, seq, unit.resource_type, unit.id),
        )
        insert_rows(conn, keys, key, unit.resource_type, unit.entries)


def delete_contained(conn: sqlite3.Connection, container: int) -> None:
    """Removes a container's units and their index rows. One probe of the contained table
    when it has none (the common case)."""
    low, high = unit_range(container)
    removed = conn.execute("DELETE FROM contained WHERE rid BETWEEN ? AND ?", (low, high))
    if removed.rowcount <= 0:
        return
    for table in INDEX_TABLES:
        conn.execute(f"DELETE FROM {table} WHERE rid BETWEEN ? AND ?", (low, high))
    conn.execute(f"DELETE FROM {FULL_TEXT_TABLE} WHERE rowid BETWEEN ? AND ?", (low, high))
