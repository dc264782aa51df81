"""Bringing a PostgreSQL database to this server's schema, safely from several processes.

Every process runs this at start. A session advisory lock makes them take turns: the
first applies what is missing (each numbered migration in its own transaction, recorded
in schema_migration), assigns the search keys and rebuilds the index rows if the search
parameter definitions changed; the others then find nothing to do. A process that dies
half-way releases the lock with its connection, and its open transaction rolls back.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import asyncpg

from fhir_server import fhirjson
from fhir_server.definitions import Definitions
from fhir_server.search.indexer import INDEX_FORMAT, Indexer
from fhir_server.storage.postgres.contained_rows import contained_records
from fhir_server.storage.postgres.index_rows import (
    FULL_TEXT_TABLE,
    INDEX_TABLES,
    copy_index_records,
    index_records,
)
from fhir_server.storage.sqlite.contained_rows import CONTAINED_TABLE
from fhir_server.storage.sqlite.index_rows import SearchKeys, definitions_digest, missing_keys
from fhir_server.storage.sqlite.reindex import indexed_parameters

log = logging.getLogger(__name__)

_MIGRATIONS = Path(__file__).with_name("migrations")
# an advisory lock key of this server's schema work (any constant both sides agree on)
SCHEMA_LOCK = 0x46484952_0001  # "FHIR", 1
_REBUILD_BATCH = 2000


def migrations() -> list[tuple[int, Path]]:
    """`NNNN_name.sql` brings the schema to version NNNN; numbered 1..n without gaps."""
    found = sorted((int(path.name[:4]), path) for path in _MIGRATIONS.glob("[0-9]*.sql"))
    numbers = [number for number, _ in found]
    if numbers != list(range(1, len(found) + 1)):
        raise RuntimeError(f"schema migrations are not numbered 1..n: {numbers}")
    return found


SCHEMA_VERSION = len(migrations())


async def prepare(
    conn: asyncpg.Connection, definitions: Definitions, indexer: Indexer
) -> SearchKeys:
    """Migrations, search keys and index rows, under the schema lock."""
    await conn.execute("SELECT pg_advisory_lock($1)", SCHEMA_LOCK)
    try:
        await apply_migrations(conn)
        return await prepare_index(conn, definitions, indexer)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", SCHEMA_LOCK)


async def apply_migrations(conn: asyncpg.Connection) -> None:
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migration ("
        " version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    current = await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migration")
    if current > SCHEMA_VERSION:
        raise RuntimeError(
            f"database schema version {current} is newer than this server ({SCHEMA_VERSION})"
        )
    for number, path in migrations():
        if number <= current:
            continue
        async with conn.transaction():
            await conn.execute(path.read_text())
            await conn.execute("INSERT INTO schema_migration (version) VALUES ($1)", number)
        log.info("database schema migrated to version %d", number)


async def prepare_index(
    conn: asyncpg.Connection, definitions: Definitions, indexer: Indexer
) -> SearchKeys:
    params = indexed_parameters(definitions, indexer)
    wanted = sorted({(t, c, k) for t, c, k, _ in params})
    async with conn.transaction():
        rows = await conn.fetch("SELECT id, type, code, kind, bit FROM search_key")
        known = {(r["type"], r["code"], r["kind"]): (r["id"], r["bit"]) for r in rows}
        missing = missing_keys(known, wanted)
        if missing:
            first = await conn.fetchval("SELECT coalesce(max(id), 0) + 1 FROM search_key")
            numbered = [(first + n, *row) for n, row in enumerate(missing)]
            await conn.copy_records_to_table(
                "search_key", records=numbered, columns=["id", "type", "code", "kind", "bit"]
            )
            for key_id, rtype, code, kind, bit in numbered:
                known[(rtype, code, kind)] = (key_id, bit)
    keys = SearchKeys.of(known, wanted)
    # the rows' format counts as the SQLite store's does (sqlite/reindex.py)
    digest = definitions_digest([*params, ("", "", "index-format", str(INDEX_FORMAT))])
    stored = await conn.fetchval("SELECT digest FROM search_state WHERE id = 1")
    if stored != digest:
        await rebuild(conn, keys, indexer)
        await conn.execute(
            "INSERT INTO search_state (id, digest) VALUES (1, $1)"
            " ON CONFLICT (id) DO UPDATE SET digest = excluded.digest",
            digest,
        )
    return keys


async def rebuild(conn: asyncpg.Connection, keys: SearchKeys, indexer: Indexer) -> int:
    """Every current resource's index rows again, in batches of committed transactions."""
    started = time.monotonic()
    await conn.execute("TRUNCATE " + ", ".join((*INDEX_TABLES, FULL_TEXT_TABLE, CONTAINED_TABLE)))
    done = 0
    after = 0
    while True:
        rows = await conn.fetch(
            "SELECT r.rid, r.type, v.data, r.seq FROM resource r JOIN version v ON v.seq = r.seq"
            " WHERE r.rid > $1 AND r.deleted = 0 ORDER BY r.rid LIMIT $2",
            after,
            _REBUILD_BATCH,
        )
        if not rows:
            break
        records: dict[str, list[Any]] = {}
        for rid, rtype, data, seq in rows:
            entries = indexer.extract(fhirjson.loads(data))
            index_records(keys, rid, rtype, entries, records)
            contained_records(keys, rid, seq, entries, records)
        async with conn.transaction():
            await copy_index_records(conn, records)
        done += len(rows)
        after = rows[-1]["rid"]
        log.info("search index rebuilt for %d resources", done)
    if done:
        log.info("search index of %d resources rebuilt in %.1f s", done, time.monotonic() - started)
    return done
