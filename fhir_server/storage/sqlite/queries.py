"""SQL shared by the reader and the writer side."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from fhir_server.storage.port import StoredVersion
from fhir_server.storage.version_rows import VERSION_COLUMNS, row_to_version

__all__ = ["VERSION_COLUMNS", "row_to_version"]

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


def current_versions(conn: sqlite3.Connection, rids: Iterable[int]) -> list[StoredVersion]:
    """The current versions of resources by rid, in the order given."""
    out = []
    for rid in rids:
        row = conn.execute(CURRENT_BY_RID, (rid,)).fetchone()
        if row is not None:
            out.append(row_to_version(row))
    return out
