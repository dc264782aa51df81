"""Answering with a stored version: conditional reads, _summary and _elements."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from fhir_server import fhirjson
from fhir_server.rest.common import Call
from fhir_server.rest.responses import etag, json_response, raw_response, version_headers
from fhir_server.rest.shaping import select_elements, summarize
from fhir_server.storage.port import StoredVersion


def stored_response(request: Request, call: Call, version: StoredVersion) -> Response:
    headers = version_headers(version)
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None and if_none_match.strip() in (etag(version), "*"):
        return Response(status_code=304, headers=headers)
    assert version.data is not None
    if not request.scope["query_string"]:  # most reads: no query to parse
        return raw_response(version.data, call.negotiated, 200, headers)
    query = request.query_params
    summary = query.get("_summary")
    elements = query.get("_elements")
    if summary is None and elements is None:
        return raw_response(version.data, call.negotiated, 200, headers)
    resource = fhirjson.loads(version.data)
    definitions = call.runtime.definitions
    if summary is not None:
        resource = summarize(definitions, resource, summary)
    elif elements is not None:
        resource = select_elements(definitions, resource, elements)
    return json_response(resource, call.negotiated, 200, headers)
