"""patch (PATCH Type/id): JSON Patch and FHIRPath Patch, then validate and store."""

from __future__ import annotations

from typing import Any

from fhir_server import fhirjson
from fhir_server.interactions.incoming import check_resource
from fhir_server.interactions.result import WriteResult
from fhir_server.interactions.update import update_in
from fhir_server.outcome import FhirError, bad_request, error, gone, not_found
from fhir_server.patch import (
    MalformedPatchError,
    PatchError,
    apply_fhirpath_patch,
    apply_json_patch,
)
from fhir_server.runtime import Runtime
from fhir_server.storage.port import Transaction

JSON_PATCH = "json-patch"
FHIRPATH_PATCH = "fhirpath-patch"


async def patch_in(
    tx: Transaction,
    runtime: Runtime,
    resource_type: str,
    rid: str,
    kind: str,
    body: Any,
    if_match: int | None = None,
) -> WriteResult:
    current = await tx.read(resource_type, rid)
    if current is None:
        raise not_found(f"{resource_type}/{rid} is not known")
    if current.deleted or current.data is None:
        raise gone(f"{resource_type}/{rid} was deleted")
    resource = fhirjson.loads(current.data)
    try:
        if kind == JSON_PATCH:
            patched = apply_json_patch(resource, body)
        else:
            if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
                raise bad_request("A FHIRPath Patch body must be a Parameters resource")
            patched = apply_fhirpath_patch(resource, body, runtime.definitions)
    except MalformedPatchError as exc:
        raise bad_request(f"The patch document is malformed: {exc}") from exc
    except PatchError as exc:
        raise error(422, "processing", f"The patch could not be applied: {exc}") from exc
    if patched.get("id") != rid or patched.get("resourceType") != resource_type:
        raise error(422, "processing", "A patch must not change the resource's type or id")
    try:
        checked = check_resource(runtime, patched, resource_type)
    except FhirError as invalid:
        # the request was well-formed; what it would produce is not a valid resource
        raise FhirError(422, invalid.issues) from invalid
    return await update_in(tx, resource_type, rid, checked, if_match, method="PATCH")
