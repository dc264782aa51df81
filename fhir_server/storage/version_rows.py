"""The columns of a stored version as both SQL stores select them, and their rows as
StoredVersion."""

from __future__ import annotations

from typing import Any

from fhir_server.storage.port import StoredVersion

VERSION_COLUMNS = "v.type, v.id, v.version, v.last_updated, v.deleted, v.method, v.data, v.seq"


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
