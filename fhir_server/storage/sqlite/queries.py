"""SQL shared by the reader and the writer side."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from fhir_server.storage.port import StoredVersion

VERSION_COLUMNS = "v.type, v.id, v.version, v.last_updated, v.deleted, v.method, v.data, v.seq"

CURRENT_BY_KEY = (
    f"SELECT {VERSION_COLUMNS} FROM resource r JOIN version v ON v.seq = r.seq"
    " WHERE r.type = ? AND r.id = ?"
)
CURRENT_BY_RID = (
    f"SELECT {VERSION_COLUMNS} FROM resource r JOIN version v ON v.seq = r.seq WHERE r.rid = ?"
)
VERSION_BY_KEY = (
    f"SELECT {VERSION_COLUMNS} FROM resource r JOIN version v ON v.rid = r.rid"
    " WHERE r.type = ? AND r.id = ? AND v.version = ?"
)


def row_to_version(row: tuple[Any, ...]) -> StoredVersion:
    return StoredVersion(
        resource_type=row[0],
        id=row[1],
        version_id=row[2],
        last_updated=row[3],
        deleted=bool(row[4]),
        method=row[5],
        data=row[6],
        seq=row[7],
    )


def current_versions(conn: sqlite3.Connection, rids: Iterable[int]) -> list[StoredVersion]:
    """The current versions of resources by rid, in the order given."""
    out = []
    for rid in rids:
        row = conn.execute(CURRENT_BY_RID, (rid,)).fetchone()
        if row is not None:
            out.append(row_to_version(row))
    return out
