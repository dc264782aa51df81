"""Keeping the search index rows in step with the search parameter definitions.

The rows are derived data: when the indexed parameters change (a new SearchParameter in
profiles/, a changed expression, a new layout), every current resource's rows are rebuilt
from its stored JSON before the store takes requests. The definitions' digest in
search_state says whether that is needed.
"""

from __future__ import annotations

import logging
import sqlite3
import time

from fhir_server import fhirjson
from fhir_server.definitions import Definitions
from fhir_server.search.indexer import INDEX_FORMAT, Indexer
from fhir_server.storage.sqlite.connection import SCHEMA_VERSION
from fhir_server.storage.sqlite.contained_rows import CONTAINED_TABLE, insert_contained
from fhir_server.storage.sqlite.index_rows import (
    FULL_TEXT_TABLE,
    INDEX_TABLES,
    SearchKeys,
    definitions_digest,
    insert_rows,
    missing_keys,
)

log = logging.getLogger(__name__)

_BATCH = 2000


def indexed_parameters(
    definitions: Definitions, indexer: Indexer
) -> list[tuple[str, str, str, str]]:
    """(type, code, kind, expression) of every parameter the indexer writes rows for."""
    return [
        (rtype, code, kind, expression)
        for rtype in sorted(definitions.resource_types)
        for code, kind, expression in indexer.indexed(rtype) + indexer.derived(rtype)
    ]


def prepare_index(
    conn: sqlite3.Connection, definitions: Definitions, indexer: Indexer
) -> SearchKeys:
    """The integer keys of every indexed parameter; rebuilds the rows if definitions changed."""
    params = indexed_parameters(definitions, indexer)
    keys = SearchKeys.ensure(conn, ((t, c, k) for t, c, k, _ in params))
    digest = definitions_digest([*params, ("", "", "index-format", str(INDEX_FORMAT))])
    row = conn.execute("SELECT digest FROM search_state WHERE id = 1").fetchone()
    if row is None or row[0] != digest:
        rebuild(conn, keys, indexer)
        conn.execute(
            "INSERT INTO search_state (id, digest) VALUES (1, ?)"
            " ON CONFLICT (id) DO UPDATE SET digest = excluded.digest",
            (digest,),
        )
    return keys


def existing_index(
    conn: sqlite3.Connection, definitions: Definitions, indexer: Indexer
) -> SearchKeys:
    """The keys of an index another process prepared (a second process on the store: it
    must neither change the schema nor race the owner's rebuild)."""
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version != SCHEMA_VERSION:
        raise RuntimeError(
            f"the store's schema version is {version}, this program's {SCHEMA_VERSION}:"
            " the server that owns the store must prepare it first"
        )
    params = indexed_parameters(definitions, indexer)
    wanted = sorted({(t, c, k) for t, c, k, _ in params})
    digest = definitions_digest([*params, ("", "", "index-format", str(INDEX_FORMAT))])
    row = conn.execute("SELECT digest FROM search_state WHERE id = 1").fetchone()
    rows = conn.execute("SELECT id, type, code, kind, bit FROM search_key").fetchall()
    known = {(t, c, k): (i, b) for i, t, c, k, b in rows}
    if row is None or row[0] != digest or missing_keys(known, wanted):
        raise RuntimeError(
            "the store's search index was prepared for other definitions: the server that"
            " owns the store must prepare it first"
        )
    return SearchKeys.of(known, wanted)


def rebuild(conn: sqlite3.Connection, keys: SearchKeys, indexer: Indexer) -> int:
    """Rebuilds every current resource's index rows, in batches of committed transactions."""
    started = time.monotonic()
    conn.execute("BEGIN IMMEDIATE")
    for table in (*INDEX_TABLES, FULL_TEXT_TABLE, CONTAINED_TABLE):
        conn.execute(f"DELETE FROM {table}")
    conn.execute("COMMIT")
    done = 0
    after = 0
    while True:
        rows = conn.execute(
            "SELECT r.rid, r.type, v.data, r.seq FROM resource r JOIN version v ON v.seq = r.seq"
            " WHERE r.rid > ? AND r.deleted = 0 ORDER BY r.rid LIMIT ?",
            (after, _BATCH),
        ).fetchall()
        if not rows:
            break
        conn.execute("BEGIN IMMEDIATE")
        for rid, rtype, data, seq in rows:
            entries = indexer.extract(fhirjson.loads(data))
            insert_rows(conn, keys, rid, rtype, entries)
            insert_contained(conn, keys, rid, seq, entries)
        conn.execute("COMMIT")
        done += len(rows)
        after = rows[-1][0]
        log.info("search index rebuilt for %d resources", done)
    if done:
        log.info("search index of %d resources rebuilt in %.1f s", done, time.monotonic() - started)
    return done
