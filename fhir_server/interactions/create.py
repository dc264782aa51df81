"""create (POST Type) and conditional create (If-None-Exist)."""

from __future__ import annotations

from typing import Any

from fhir_server.ids import new_id
from fhir_server.interactions.incoming import criteria_issue
from fhir_server.interactions.result import WriteResult
from fhir_server.outcome import FhirError
from fhir_server.search.index import IndexEntries
from fhir_server.storage.port import Criteria, Transaction


async def create_in(
    tx: Transaction,
    resource_type: str,
    resource: dict[str, Any],
    if_none_exist: Criteria | None = None,
    rid: str | None = None,
    index: IndexEntries | None = None,
) -> WriteResult:
    """Store a checked resource under a new id. An id in the body is ignored (http.html#create)."""
    if if_none_exist is not None:
        matches = await tx.find(resource_type, if_none_exist)
        if len(matches) == 1:
            return WriteResult(200, matches[0], created=False)
        if len(matches) > 1:
            raise FhirError(412, [criteria_issue(len(matches), "Conditional create")])
    resource["id"] = rid or new_id()
    version = await tx.write(resource_type, resource["id"], resource, "POST", index)
    return WriteResult(201, version, created=True)
