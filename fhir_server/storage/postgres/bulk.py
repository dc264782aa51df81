"""Bulk load into PostgreSQL: many resources in one transaction by binary COPY.

What `write` does per resource in one statement is done here per table for the whole
batch: the identities are locked (in a fixed order, so two loads cannot deadlock), their
current versions read in one query, rids and seqs taken in one round trip, then one COPY
per table. The outbox and NOTIFY work as for single writes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import asyncpg

from fhir_server.storage.clock import MonotonicClock
from fhir_server.storage.port import NewVersion, RequestContext, StoredVersion
from fhir_server.storage.postgres.contained_rows import contained_records, delete_contained_of
from fhir_server.storage.postgres.index_rows import (
    FULL_TEXT_TABLE,
    INDEX_TABLES,
    copy_index_records,
    index_records,
)
from fhir_server.storage.postgres.locks import TAKE_SEQ_HOLDERS, resource_key
from fhir_server.storage.postgres.statements import NOTIFY_CHANNEL
from fhir_server.storage.sqlite.index_rows import SearchKeys
from fhir_server.storage.stamp import stamped

_VERSION_COLUMNS = (
    "seq", "rid", "type", "id", "version", "last_updated", "method", "deleted", "data",
)  # fmt: skip


async def load(
    conn: asyncpg.Connection,
    keys: SearchKeys,
    clock: MonotonicClock,
    ctx: RequestContext,
    items: Sequence[NewVersion],
    locked: Callable[[], None] | None = None,
) -> list[StoredVersion]:
    """Inside the caller's transaction; `locked` is called once the identities are locked
    (Storage.load)."""
    if not items:
        return []
    identities = sorted({(i.resource_type, i.id) for i in items})
    # the seq holders' lock before any seq (see outbox.py), then the locks in key order
    await conn.execute(f"SELECT {TAKE_SEQ_HOLDERS}")
    await conn.execute(
        "SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) k",
        sorted({resource_key(t, i) for t, i in identities}),
    )
    if locked is not None:
        locked()
    existing = await conn.fetch(
        "SELECT r.type, r.id, r.rid, r.version FROM resource r"
        " JOIN unnest($1::text[], $2::text[]) u(t, i) ON r.type = u.t AND r.id = u.i",
        [t for t, _ in identities],
        [i for _, i in identities],
    )
    state: dict[tuple[str, str], list[int]] = {
        (row[0], row[1]): [row[2], row[3]] for row in existing
    }
    old_rids = [rid for rid, _ in state.values()]
    fresh = [identity for identity in identities if identity not in state]
    rids, seqs = await conn.fetchrow(
        "SELECT array(SELECT nextval('resource_rid') FROM generate_series(1, $1)),"
        " array(SELECT nextval('version_seq') FROM generate_series(1, $2))",
        len(fresh),
        len(items),
    )
    for identity, rid in zip(fresh, rids, strict=True):
        state[identity] = [rid, 0]

    versions: list[tuple[Any, ...]] = []
    outbox: list[tuple[Any, ...]] = []
    stored: list[StoredVersion] = []
    last: dict[tuple[str, str], tuple[NewVersion, int, int]] = {}
    for item, seq in zip(items, seqs, strict=True):
        identity = (item.resource_type, item.id)
        current = state[identity]
        current[1] += 1
        version = current[1]
        now = clock.now()
        data = stamped(item.resource, version, now)
        versions.append(
            (seq, current[0], item.resource_type, item.id, version, now, item.method, 0, data)
        )
        outbox.append(
            (
                seq,
                item.resource_type,
                item.id,
                version,
                item.method,
                now,
                ctx.principal,
                ctx.organisation,
            )
        )
        last[identity] = (item, seq, version)
        stored.append(
            StoredVersion(item.resource_type, item.id, version, now, False, item.method, data, seq)
        )

    records: dict[str, list[Any]] = {}
    new_resources = []
    updates: list[tuple[int, int, int]] = []
    fresh_ids = set(fresh)
    for identity, (item, seq, version) in last.items():
        rid = state[identity][0]
        index_records(keys, rid, item.resource_type, item.index, records)
        contained_records(keys, rid, seq, item.index, records)
        if identity in fresh_ids:
            new_resources.append((rid, identity[0], identity[1], version, seq, 0))
        else:
            updates.append((rid, version, seq))

    if old_rids:
        for table in (*INDEX_TABLES, FULL_TEXT_TABLE):
            await conn.execute(f"DELETE FROM {table} WHERE rid = ANY($1::bigint[])", old_rids)
        await delete_contained_of(conn, old_rids)
    if updates:
        await conn.execute(
            "UPDATE resource r SET version = u.v, seq = u.s, deleted = 0"
            " FROM unnest($1::bigint[], $2::int[], $3::bigint[]) u(rid, v, s) WHERE r.rid = u.rid",
            [u[0] for u in updates],
            [u[1] for u in updates],
            [u[2] for u in updates],
        )
    if new_resources:
        await conn.copy_records_to_table(
            "resource",
            records=new_resources,
            columns=["rid", "type", "id", "version", "seq", "deleted"],
        )
    await conn.copy_records_to_table(
        "version",
        records=versions,
        columns=[
            "seq",
            "rid",
            "type",
            "id",
            "version",
            "last_updated",
            "method",
            "deleted",
            "data",
        ],
    )
    await conn.copy_records_to_table(
        "outbox",
        records=outbox,
        columns=["seq", "type", "id", "version", "method", "at", "principal", "organisation"],
    )
    await copy_index_records(conn, records)
    await conn.execute(f"SELECT pg_notify('{NOTIFY_CHANNEL}', '')")
    return stored
