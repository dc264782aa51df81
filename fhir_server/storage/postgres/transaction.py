"""A job's view of the store inside one PostgreSQL transaction (READ COMMITTED + the
advisory locks of locks.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import asyncpg

from fhir_server.definitions import Definitions
from fhir_server.ids import looks_drawn
from fhir_server.outcome import bad_request
from fhir_server.search.criteria import parse_criteria
from fhir_server.search.index import IndexEntries
from fhir_server.search.indexer import Indexer
from fhir_server.storage.clock import MonotonicClock
from fhir_server.storage.port import Criteria, RequestContext, StoredVersion
from fhir_server.storage.postgres.contained_rows import write_contained
from fhir_server.storage.postgres.dialect import numbered
from fhir_server.storage.postgres.index_rows import NONE_PRESENT, index_arrays
from fhir_server.storage.postgres.locks import criteria_key, resource_key
from fhir_server.storage.postgres.statements import (
    CURRENT_BY_RIDS,
    LOCK_CURRENT,
    write_statement,
)
from fhir_server.storage.recent import Written
from fhir_server.storage.sqlite.index_rows import SearchKeys
from fhir_server.storage.sqlite.queries import row_to_version
from fhir_server.storage.sqlite.search_sql import compile_plan
from fhir_server.storage.stamp import stamped

if TYPE_CHECKING:
    from fhir_server.terminology.service import Terminology


class PostgresTransaction:
    def __init__(
        self,
        conn: asyncpg.Connection,
        context: RequestContext,
        definitions: Definitions,
        indexer: Indexer,
        keys: SearchKeys,
        clock: MonotonicClock,
        base_url: str | None = None,
        terminology: Terminology | None = None,
    ) -> None:
        self._terminology = terminology
        self._conn = conn
        self._context = context
        self._definitions = definitions
        self._indexer = indexer
        self._keys = keys
        self._clock = clock
        self._base_url = base_url
        # resources whose identity lock this transaction holds: (rid or None, version,
        # whether the current version may have contained resources)
        self._held: dict[tuple[str, str], tuple[int | None, int, bool]] = {}
        # what this job wrote, published (storage/recent.py) once it commits
        self.written: list[Written] = []

    @property
    def connection(self) -> asyncpg.Connection:
        return self._conn

    async def read(self, resource_type: str, rid: str) -> StoredVersion | None:
        row = await self._conn.fetchrow(
            LOCK_CURRENT, resource_key(resource_type, rid), resource_type, rid
        )
        if row is None:
            self._held[(resource_type, rid)] = (None, 0, False)
            return None
        version = row_to_version(tuple(row)[1:])
        self._held[(resource_type, rid)] = (row[0], row[3], _may_contain(version.data))
        return version

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
        await self._conn.execute("SELECT pg_advisory_xact_lock($1)", criteria_key(plan))
        sql, args = compile_plan(plan, self._keys)
        rids = [r[0] for r in await self._conn.fetch(numbered(sql), *args)]
        return await current_versions(self._conn, rids)

    async def write(
        self,
        resource_type: str,
        rid: str,
        resource: dict[str, Any] | None,
        method: str,
        index: IndexEntries | None = None,
    ) -> StoredVersion:
        held = self._held.get((resource_type, rid))
        if held is None and method == "POST" and looks_drawn(rid):
            # a create under an id the server just drew: nothing to lock or read (a round
            # trip less per create); should it exist after all, the insert fails whole
            held = (None, 0, False)
        elif held is None:
            await self.read(resource_type, rid)
            held = self._held[(resource_type, rid)]
        key, current, had_contained = held
        version = current + 1
        now = self._clock.now()
        data: bytes | None = None
        index = None if resource is None else index
        if resource is not None:
            data = stamped(resource, version, now)
            if index is None:
                index = self._indexer.extract(resource)
            present, arrays = index_arrays(self._keys, resource_type, index)
        else:
            present, arrays = NONE_PRESENT, ()
        row = await self._conn.fetchrow(
            write_statement(key is None, present),
            key,
            resource_type,
            rid,
            version,
            now,
            method,
            1 if resource is None else 0,
            data,
            self._context.principal,
            self._context.organisation,
            *arrays,
        )
        assert row is not None
        has_contained = index is not None and bool(index.contained)
        self._held[(resource_type, rid)] = (row[0], version, has_contained)
        if had_contained or has_contained:
            await write_contained(self._conn, self._keys, row[0], row[1], index, had_contained)
        stored = StoredVersion(
            resource_type=resource_type,
            id=rid,
            version_id=version,
            last_updated=now,
            deleted=resource is None,
            method=method,
            data=data,
            seq=row[1],
        )
        self.written.append((stored, index))
        return stored


def _may_contain(data: bytes | None) -> bool:
    """Whether a stored version may have contained resources, whose rows a write must then
    remove (postgres/contained_rows.py). The stored JSON is this server's own (stamp.py:
    keys as written, never escaped), so a version without the key has none; the word
    elsewhere in it only costs a needless delete."""
    return data is not None and b'"contained"' in data


async def current_versions(conn: asyncpg.Connection, rids: Sequence[int]) -> list[StoredVersion]:
    """The current versions of resources by rid, in the order given."""
    if not rids:
        return []
    rows = await conn.fetch(CURRENT_BY_RIDS, list(rids))
    by_rid = {row[8]: row_to_version(tuple(row)[:8]) for row in rows}
    return [by_rid[rid] for rid in rids if rid in by_rid]
