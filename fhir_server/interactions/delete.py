"""delete (logical: the history keeps every version) and conditional delete."""

from __future__ import annotations

from fhir_server.interactions.incoming import criteria_issue
from fhir_server.interactions.result import WriteResult
from fhir_server.outcome import FhirError
from fhir_server.storage.port import Criteria, Transaction


async def delete_in(tx: Transaction, resource_type: str, rid: str) -> WriteResult:
    """Deleting a resource that is absent or already deleted succeeds and changes nothing."""
    current = await tx.read(resource_type, rid)
    if current is None or current.deleted:
        return WriteResult(204, None)
    version = await tx.write(resource_type, rid, None, "DELETE")
    return WriteResult(204, version)


async def conditional_delete_in(
    tx: Transaction, resource_type: str, criteria: Criteria
) -> WriteResult:
    """DELETE Type?criteria: deletes the one match; several matches are refused (412)."""
    matches = await tx.find(resource_type, criteria)
    if len(matches) > 1:
        raise FhirError(412, [criteria_issue(len(matches), "Conditional delete")])
    if not matches:
        return WriteResult(204, None)
    return await delete_in(tx, resource_type, matches[0].id)
