"""update (PUT Type/id, also create-on-update), If-Match, conditional update."""

from __future__ import annotations

from typing import Any

from fhir_server import fhirjson
from fhir_server.ids import new_id
from fhir_server.interactions.incoming import criteria_issue
from fhir_server.interactions.result import WriteResult
from fhir_server.outcome import FhirError, bad_request, error, precondition_failed
from fhir_server.search.index import IndexEntries
from fhir_server.storage.port import Criteria, StoredVersion, Transaction


def _same_content(current: StoredVersion, resource: dict[str, Any]) -> bool:
    """True when the new resource equals the current version apart from its version meta."""
    if current.deleted or current.data is None:
        return False
    old = fhirjson.loads(current.data)
    return _without_version_meta(old) == _without_version_meta(resource)


def _without_version_meta(resource: dict[str, Any]) -> dict[str, Any]:
    copy = dict(resource)
    meta = copy.get("meta")
    if isinstance(meta, dict):
        rest = {k: v for k, v in meta.items() if k not in ("versionId", "lastUpdated")}
        if rest:
            copy["meta"] = rest
        else:
            copy.pop("meta")
    return copy


async def update_in(
    tx: Transaction,
    resource_type: str,
    rid: str,
    resource: dict[str, Any],
    if_match: int | None = None,
    method: str = "PUT",
    index: IndexEntries | None = None,
) -> WriteResult:
    """Store a checked resource as the next version of Type/rid, creating it if absent."""
    current = await tx.read(resource_type, rid)
    if if_match is not None:
        if current is None or current.deleted:
            raise precondition_failed(
                f"If-Match: {resource_type}/{rid} has no current version (expected {if_match})"
            )
        if current.version_id != if_match:
            raise precondition_failed(
                f"If-Match: {resource_type}/{rid} is at version {current.version_id},"
                f" not {if_match}"
            )
    resource["id"] = rid
    if current is not None and _same_content(current, resource):
        return WriteResult(200, current, created=False)
    version = await tx.write(resource_type, rid, resource, method, index)
    created = current is None or current.deleted
    return WriteResult(201 if created else 200, version, created=created)


async def conditional_target(
    tx: Transaction, resource_type: str, criteria: Criteria, body_id: str | None
) -> str | None:
    """The id a conditional update writes to: the one match (which the body's id, if any,
    must name), else the body's id when no other resource has it; None for a new id.
    412 when several match, 409 when the body's id belongs to a non-matching resource."""
    matches = await tx.find(resource_type, criteria)
    if len(matches) > 1:
        raise FhirError(412, [criteria_issue(len(matches), "Conditional update")])
    if len(matches) == 1:
        target = matches[0].id
        if body_id is not None and body_id != target:
            raise bad_request(
                f"The resource id '{body_id}' differs from the id '{target}' the criteria matched",
                "id",
            )
        return target
    if body_id is not None:
        existing = await tx.read(resource_type, body_id)
        if existing is not None and not existing.deleted:
            raise error(
                409,
                "conflict",
                f"{resource_type}/{body_id} exists but does not match the criteria",
            )
    return body_id


async def conditional_update_in(
    tx: Transaction,
    resource_type: str,
    criteria: Criteria,
    resource: dict[str, Any],
    if_match: int | None = None,
) -> WriteResult:
    """PUT Type?criteria: update the one match, create when none, 412 when several."""
    target = await conditional_target(tx, resource_type, criteria, resource.get("id"))
    if target is not None:
        return await update_in(tx, resource_type, target, resource, if_match)
    resource["id"] = new_id()
    version = await tx.write(resource_type, resource["id"], resource, "POST")
    return WriteResult(201, version, created=True)
