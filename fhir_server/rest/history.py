"""history at instance, type and system level (http.html#history)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from fhir_server.ids import version_etag
from fhir_server.rest.common import Call, begin
from fhir_server.rest.paging import instant_param, kept_params, link, page_size
from fhir_server.rest.responses import dumps, media_header
from fhir_server.storage.port import StoredVersion


async def system_history(request: Request) -> Response:
    return await _history(request, begin(request), None, None, "/_history")


async def type_history(request: Request, resource_type: str) -> Response:
    return await _history(
        request, begin(request, resource_type), resource_type, None, f"/{resource_type}/_history"
    )


async def instance_history(request: Request, resource_type: str, rid: str) -> Response:
    call = begin(request, resource_type)
    path = f"/{resource_type}/{rid}/_history"
    return await _history(request, call, resource_type, rid, path)


def history_entry(version: StoredVersion, base: str) -> dict[str, Any]:
    url = f"{version.resource_type}/{version.id}"
    entry: dict[str, Any] = {"fullUrl": f"{base}/{url}"}
    if version.data is not None and not version.deleted:
        entry["resource"] = orjson.Fragment(version.data)
    method = "DELETE" if version.deleted else version.method
    status = "201 Created" if version.method == "POST" or version.version_id == 1 else "200 OK"
    if version.deleted:
        status = "204 No Content"
    entry["request"] = {"method": method, "url": version.resource_type if method == "POST" else url}
    entry["response"] = {
        "status": status,
        "etag": version_etag(version.version_id),
        "lastModified": version.last_updated,
    }
    return entry


async def _history(
    request: Request, call: Call, resource_type: str | None, rid: str | None, path: str
) -> Response:
    count = page_size(request.query_params.get("_count"), call.runtime.settings)
    page = await call.runtime.storage.history(
        call.context,
        resource_type,
        rid,
        since=instant_param(request, "_since"),
        at=instant_param(request, "_at"),
        count=count,
        cursor=request.query_params.get("_cursor"),
    )
    params = kept_params(request)
    links = [{"relation": "self", "url": link(call.base + path, kept_params(request, ()))}]
    if request.query_params.get("_cursor") is not None:
        links.append({"relation": "first", "url": link(call.base + path, params)})
    if page.next_cursor is not None:
        next_params = [*params, ("_cursor", page.next_cursor)]
        links.append({"relation": "next", "url": link(call.base + path, next_params)})
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "history"}
    if page.total is not None:
        bundle["total"] = page.total
    bundle["link"] = links
    bundle["entry"] = [history_entry(v, call.base) for v in page.versions]
    if not bundle["entry"]:
        del bundle["entry"]
    return Response(
        dumps(bundle, call.negotiated.pretty),
        media_type=media_header(call.negotiated.media_type),
    )
