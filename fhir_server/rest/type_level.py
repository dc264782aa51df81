"""Type level: create, conditional create / update / delete (http.html)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from fhir_server.interactions.create import create_in
from fhir_server.interactions.delete import conditional_delete_in
from fhir_server.interactions.incoming import check_resource, parse_criteria_text, parse_etag
from fhir_server.interactions.update import conditional_update_in
from fhir_server.outcome import bad_request
from fhir_server.rest.common import begin
from fhir_server.rest.negotiation import read_json_body
from fhir_server.rest.prefer import write_response
from fhir_server.storage.port import Criteria


def _url_criteria(request: Request, what: str) -> Criteria:
    query = request.url.query
    if not query:
        raise bad_request(f"{what} needs search criteria in the URL (Type?criteria)")
    return parse_criteria_text(query)


async def create(request: Request, resource_type: str) -> Response:
    call = begin(request, resource_type)
    _, body = await read_json_body(request, call.runtime.settings.max_body_bytes)
    resource = check_resource(call.runtime, body, resource_type)
    header = request.headers.get("if-none-exist")
    criteria = parse_criteria_text(header) if header else None
    storage = call.runtime.storage
    index = storage.index(resource)
    result = await storage.run(
        call.context, lambda tx: create_in(tx, resource_type, resource, criteria, index=index)
    )
    action = "Created" if result.created else "A matching resource exists; nothing was created"
    return write_response(request, result, call.negotiated, call.base, action)


async def conditional_update(request: Request, resource_type: str) -> Response:
    call = begin(request, resource_type)
    criteria = _url_criteria(request, "A conditional update")
    _, body = await read_json_body(request, call.runtime.settings.max_body_bytes)
    resource = check_resource(call.runtime, body, resource_type)
    if_match = parse_etag(request.headers.get("if-match"))
    result = await call.runtime.storage.run(
        call.context,
        lambda tx: conditional_update_in(tx, resource_type, criteria, resource, if_match),
    )
    action = "Created" if result.created else "Updated"
    return write_response(request, result, call.negotiated, call.base, action)


async def conditional_delete(request: Request, resource_type: str) -> Response:
    call = begin(request, resource_type)
    criteria = _url_criteria(request, "A conditional delete")
    result = await call.runtime.storage.run(
        call.context, lambda tx: conditional_delete_in(tx, resource_type, criteria)
    )
    return write_response(request, result, call.negotiated, call.base, "Deleted")
