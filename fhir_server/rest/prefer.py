"""The Prefer header (return=, handling=) and the response to a write it shapes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from fhir_server.ids import version_etag
from fhir_server.interactions.result import WriteResult
from fhir_server.outcome import information
from fhir_server.rest.negotiation import Negotiated
from fhir_server.rest.responses import json_response, media_header, raw_response, version_headers

MINIMAL = "minimal"
REPRESENTATION = "representation"
OPERATION_OUTCOME = "OperationOutcome"


def preference(request: Request, name: str) -> str | None:
    header = request.headers.get("prefer")
    if not header:
        return None
    for part in header.split(","):
        for item in part.split(";"):
            key, _, value = item.strip().partition("=")
            if key.strip().lower() == name:
                return value.strip().strip('"')
    return None


def write_response(
    request: Request, result: WriteResult, negotiated: Negotiated, base: str, action: str
) -> Response:
    wanted = preference(request, "return") or REPRESENTATION
    version = result.version
    headers: dict[str, str] = {}
    if version is not None and not version.deleted:
        created = result.created or result.status == 201
        headers = version_headers(version, base if created else None)
    elif version is not None:
        headers = {"ETag": version_etag(version.version_id)}
    if wanted == OPERATION_OUTCOME:
        return json_response(information(action), negotiated, _ok(result.status), headers)
    if wanted == MINIMAL or version is None or version.data is None:
        headers["Content-Type"] = media_header(negotiated.media_type)
        if result.status == 204:
            headers.pop("Content-Type")
        return Response(b"", status_code=result.status, headers=headers)
    return raw_response(version.data, negotiated, result.status, headers)


def _ok(status: int) -> int:
    # a body goes with the outcome, so 204 No Content becomes 200
    return 200 if status == 204 else status
