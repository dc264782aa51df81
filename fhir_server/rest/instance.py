"""Instance level: read, vread, update, patch, delete (http.html)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from fhir_server.interactions.delete import delete_in
from fhir_server.interactions.incoming import check_id, check_resource, parse_etag
from fhir_server.interactions.patch import FHIRPATH_PATCH, JSON_PATCH, patch_in
from fhir_server.interactions.update import update_in
from fhir_server.outcome import bad_request, gone, not_found
from fhir_server.rest.common import begin
from fhir_server.rest.negotiation import JSON_PATCH as JSON_PATCH_MEDIA
from fhir_server.rest.negotiation import read_json_body
from fhir_server.rest.prefer import write_response
from fhir_server.rest.reading import stored_response


async def read(request: Request, resource_type: str, rid: str) -> Response:
    call = begin(request, resource_type)
    version = await call.runtime.storage.read(call.context, resource_type, rid)
    if version is None:
        raise not_found(f"{resource_type}/{rid} is not known")
    if version.deleted:
        raise gone(f"{resource_type}/{rid} was deleted").with_etag(version.version_id)
    return stored_response(request, call, version)


async def vread(request: Request, resource_type: str, rid: str, vid: str) -> Response:
    call = begin(request, resource_type)
    if not vid.isdigit():
        raise not_found(f"{resource_type}/{rid} has no version '{vid}'")
    version = await call.runtime.storage.vread(call.context, resource_type, rid, int(vid))
    if version is None:
        raise not_found(f"{resource_type}/{rid} has no version {vid}")
    if version.deleted:
        raise gone(f"{resource_type}/{rid} version {vid} is a deletion").with_etag(
            version.version_id
        )
    return stored_response(request, call, version)


async def update(request: Request, resource_type: str, rid: str) -> Response:
    call = begin(request, resource_type)
    check_id(rid)
    _, body = await read_json_body(request, call.runtime.settings.max_body_bytes)
    resource = check_resource(call.runtime, body, resource_type)
    body_id = resource.get("id")
    if body_id is None:
        raise bad_request("The resource must carry the id of the URL in an update", "id")
    if body_id != rid:
        raise bad_request(f"The resource id '{body_id}' differs from the URL id '{rid}'", "id")
    if_match = parse_etag(request.headers.get("if-match"))
    storage = call.runtime.storage
    index = storage.index(resource)
    result = await storage.run(
        call.context, lambda tx: update_in(tx, resource_type, rid, resource, if_match, index=index)
    )
    action = "Created" if result.created else "Updated"
    return write_response(request, result, call.negotiated, call.base, action)


async def patch(request: Request, resource_type: str, rid: str) -> Response:
    call = begin(request, resource_type)
    kind, body = await read_json_body(request, call.runtime.settings.max_body_bytes, patch=True)
    patch_kind = JSON_PATCH if kind == JSON_PATCH_MEDIA else FHIRPATH_PATCH
    if_match = parse_etag(request.headers.get("if-match"))
    runtime = call.runtime
    result = await runtime.storage.run(
        call.context,
        lambda tx: patch_in(tx, runtime, resource_type, rid, patch_kind, body, if_match),
    )
    return write_response(request, result, call.negotiated, call.base, "Patched")


async def delete(request: Request, resource_type: str, rid: str) -> Response:
    call = begin(request, resource_type)
    result = await call.runtime.storage.run(
        call.context, lambda tx: delete_in(tx, resource_type, rid)
    )
    return write_response(request, result, call.negotiated, call.base, "Deleted")
