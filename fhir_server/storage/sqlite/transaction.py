"""A job's view of the store inside the writer's open transaction."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from fhir_server.definitions import Definitions
from fhir_server.outcome import bad_request
from fhir_server.search.criteria import parse_criteria
from fhir_server.search.index import IndexEntries
from fhir_server.search.indexer import Indexer
from fhir_server.storage.clock import MonotonicClock
from fhir_server.storage.port import Criteria, RequestContext, StoredVersion
from fhir_server.storage.recent import Written
from fhir_server.storage.sqlite.connection import search_limits
from fhir_server.storage.sqlite.contained_rows import delete_contained, insert_contained
from fhir_server.storage.sqlite.index_rows import SearchKeys, delete_rows, insert_rows
from fhir_server.storage.sqlite.queries import CURRENT_BY_KEY, current_versions, row_to_version
from fhir_server.storage.sqlite.search_sql import compile_plan
from fhir_server.storage.stamp import stamped

if TYPE_CHECKING:
    from fhir_server.terminology.service import Terminology


class SqliteTransaction:
    def __init__(
        self,
        conn: sqlite3.Connection,
        context: RequestContext,
        definitions: Definitions,
        indexer: Indexer,
        keys: SearchKeys,
        clock: MonotonicClock,
        base_url: str | None = None,
        terminology: Terminology | None = None,
    ) -> None:
        self._terminology = terminology
        self._base_url = base_url
        self._conn = conn
        self._context = context
        self._definitions = definitions
        self._indexer = indexer
        self._keys = keys
        self._clock = clock
        # what this job wrote, published (storage/recent.py) once the group commits
        self.written: list[Written] = []

    @property
    def connection(self) -> sqlite3.Connection:
        """The writer's connection, for the adapter's own jobs (not part of the port)."""
        return self._conn

    async def read(self, resource_type: str, rid: str) -> StoredVersion | None:
        row = self._conn.execute(CURRENT_BY_KEY, (resource_type, rid)).fetchone()
        return None if row is None else row_to_version(row)

    async def find(self, resource_type: str, criteria: Criteria) -> list[StoredVersion]:
        plan = parse_criteria(
            self._definitions,
            resource_type,
            criteria,
            base_url=self._base_url,
            terminology=self._terminology,
        )
        if not plan.clauses:
            raise bad_request("Conditional criteria must name at least one search parameter")
        sql, args = compile_plan(plan, self._keys)
        with search_limits():
            rids = [r[0] for r in self._conn.execute(sql, args).fetchall()]
        return current_versions(self._conn, rids)

    async def write(
        self,
        resource_type: str,
        rid: str,
        resource: dict[str, Any] | None,
        method: str,
        index: IndexEntries | None = None,
    ) -> StoredVersion:
        conn = self._conn
        current = conn.execute(
            "SELECT rid, version FROM resource WHERE type = ? AND id = ?", (resource_type, rid)
        ).fetchone()
        version = 1 if current is None else current[1] + 1
        now = self._clock.now()
        data: bytes | None = None
        if resource is not None:
            data = stamped(resource, version, now)
        deleted = 1 if resource is None else 0
        if current is None:
            key = conn.execute(
                "INSERT INTO resource (type, id, version, seq, deleted) VALUES (?, ?, ?, 0, ?)",
                (resource_type, rid, version, deleted),
            ).lastrowid
            assert key is not None
        else:
            key = current[0]
            delete_rows(conn, key)
            delete_contained(conn, key)
        seq = conn.execute(
            "INSERT INTO version (rid, type, id, version, last_updated, method, deleted, data)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (key, resource_type, rid, version, now, method, deleted, data),
        ).lastrowid
        conn.execute(
            "UPDATE resource SET version = ?, seq = ?, deleted = ? WHERE rid = ?",
            (version, seq, deleted, key),
        )
        if resource is not None:
            if index is None:
                index = self._indexer.extract(resource)
            insert_rows(conn, self._keys, key, resource_type, index)
            if index.contained:
                insert_contained(conn, self._keys, key, seq or 0, index)
        conn.execute(
            "INSERT INTO outbox (seq, type, id, version, method, at, principal, organisation)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                seq,
                resource_type,
                rid,
                version,
                method,
                now,
                self._context.principal,
                self._context.organisation,
            ),
        )
        stored = StoredVersion(
            resource_type=resource_type,
            id=rid,
            version_id=version,
            last_updated=now,
            deleted=bool(deleted),
            method=method,
            data=data,
            seq=seq or 0,
        )
        self.written.append((stored, index))
        return stored
