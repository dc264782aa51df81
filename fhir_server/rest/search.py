"""search-type: GET /Type?criteria and POST /Type/_search (search.html).

Criteria are everything the search parameter registry knows; the result parameters served
are _count, _total, _summary, _elements, _sort, _include and _revinclude (with :iterate),
_contained and _containedType (search/contained.py; contained resources returned as
themselves are not followed by _include / _revinclude) and the paging cursor. Unknown or
unsupported parameters are a 400, or with `Prefer: handling=lenient` are left out, named in
an OperationOutcome entry, and absent from the `self` link.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response

from fhir_server import fhirjson
from fhir_server.ids import is_valid_id
from fhir_server.outcome import FhirError, Issue, bad_request, error, operation_outcome
from fhir_server.rest.common import Call, begin
from fhir_server.rest.negotiation import read_body
from fhir_server.rest.paging import link, page_size
from fhir_server.rest.prefer import preference
from fhir_server.rest.responses import dumps, media_header
from fhir_server.rest.shaping import select_elements, summarize
from fhir_server.search.contained import (
    CONTAINED,
    CONTAINED_TYPE,
    TOP_LEVEL,
    check_parameter,
    contained_scope,
)
from fhir_server.search.criteria import IGNORED_PARAMETERS, RESULT_PARAMETERS, parse_criteria
from fhir_server.search.results import Include, SortKey, parse_include, parse_sort
from fhir_server.storage.port import StoredVersion

SERVED_RESULT_PARAMETERS = frozenset(
    {"_count", "_total", "_summary", "_elements", "_sort", "_include", "_revinclude"}
)
# included resources per page at most; more are left out with a warning entry
INCLUDE_LIMIT = 1000
CURSOR = "_cursor"
_FORM = "application/x-www-form-urlencoded"


async def search_get(request: Request, resource_type: str) -> Response:
    return await _search(request, resource_type, request.query_params.multi_items())


async def search_post(request: Request, resource_type: str) -> Response:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != _FORM:
        raise error(415, "not-supported", f"POST {resource_type}/_search takes {_FORM}")
    raw = await read_body(request, request.app.state.runtime.settings.max_body_bytes)
    try:
        body = raw.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise bad_request(f"The form body is not valid UTF-8: {exc}") from None
    pairs = request.query_params.multi_items() + parse_qsl(body, keep_blank_values=True)
    return await _search(request, resource_type, pairs)


async def compartment_search(
    request: Request, compartment: str, focus_id: str, resource_type: str
) -> Response:
    """GET [base]/Patient/123/Observation?… (search.html#2.21.1.2)."""
    if compartment not in request.app.state.runtime.definitions.compartments:
        raise error(404, "not-found", f"There is no {compartment} compartment")
    if not is_valid_id(focus_id):
        raise bad_request(f"'{focus_id}' is not a resource id")
    pairs = request.query_params.multi_items()
    return await _search(request, resource_type, pairs, (compartment, focus_id))


async def _search(
    request: Request,
    resource_type: str,
    pairs: list[tuple[str, str]],
    compartment: tuple[str, str] | None = None,
) -> Response:
    call = begin(request, resource_type)
    lenient = preference(request, "handling") == "lenient"
    definitions = call.runtime.definitions
    criteria: list[tuple[str, str]] = []
    results: dict[str, str] = {}
    shaping: list[tuple[str, str]] = []  # _sort, _include, _revinclude as given
    skipped: list[Issue] = []
    sort: list[SortKey] = []
    includes: list[Include] = []
    revincludes: list[Include] = []
    cursor = None
    contained_pairs: list[tuple[str, str]] = []
    for name, value in pairs:
        code = name.split(":", 1)[0]
        if code == CURSOR:
            cursor = value
        elif code in IGNORED_PARAMETERS:
            continue
        elif code in ("_sort", "_include", "_revinclude"):
            try:
                if code == "_sort":
                    sort += parse_sort(definitions, resource_type, [value])
                else:
                    found_include = parse_include(definitions, resource_type, name, value)
                    (includes if code == "_include" else revincludes).append(found_include)
            except FhirError as wrong:
                if not lenient:
                    raise
                skipped.extend(wrong.issues)
                continue
            shaping.append((name, value))
        elif code in (CONTAINED, CONTAINED_TYPE):
            try:
                check_parameter(name, value)
            except FhirError as wrong:
                if not lenient:
                    raise
                skipped.extend(wrong.issues)
                continue
            contained_pairs.append((name, value))
        elif code in SERVED_RESULT_PARAMETERS:
            results[code] = value
        elif code in RESULT_PARAMETERS:
            problem = bad_request(f"'{name}' is not supported by this server yet", name)
            if not lenient:
                raise problem
            skipped.extend(problem.issues)
        elif lenient:
            try:
                profiles = call.runtime.profiles
                parse_criteria(
                    call.runtime.definitions,
                    resource_type,
                    [(name, value)],
                    terminology=None if profiles is None else profiles.terminology,
                )
            except FhirError as problem:
                skipped.extend(problem.issues)
                continue
            criteria.append((name, value))
        else:
            criteria.append((name, value))
    scope = TOP_LEVEL
    try:
        scope = contained_scope(contained_pairs)
        shaping += contained_pairs
    except FhirError as wrong:
        if not lenient:
            raise
        skipped.extend(wrong.issues)
    summary = results.get("_summary")
    total_mode = results.get("_total", "accurate")
    if total_mode not in ("none", "estimate", "accurate"):
        raise bad_request(f"_total={total_mode} is not none, estimate or accurate", "_total")
    count = 0 if summary == "count" else page_size(results.get("_count"), call.runtime.settings)
    found = await call.runtime.storage.search(
        call.context,
        resource_type,
        criteria,
        count=count,
        cursor=cursor,
        total=total_mode != "none" or summary == "count",
        sort=sort,
        compartment=compartment,
        contained=scope,
    )
    extra: list[StoredVersion] = []
    if includes or revincludes:
        # what contained resources refer to is not included (they have no identity to
        # _include from; their containers' references are the container's own)
        resources = [v for v in found.versions if v.container is None]
        extra = await call.runtime.storage.include(
            call.context, resources, includes, revincludes, INCLUDE_LIMIT + 1
        )
        if len(extra) > INCLUDE_LIMIT:
            extra = extra[:INCLUDE_LIMIT]
            skipped.append(
                Issue(
                    "warning", "too-costly", f"Only {INCLUDE_LIMIT} included resources are returned"
                )
            )
    applied = criteria + shaping + sorted(results.items())
    path = f"{call.base}/{resource_type}"
    if compartment is not None:
        path = f"{call.base}/{compartment[0]}/{compartment[1]}/{resource_type}"
    self_params = [*applied, (CURSOR, cursor)] if cursor is not None else applied
    links = [{"relation": "self", "url": link(path, self_params)}]
    if found.next_cursor is not None or found.previous_cursor is not None:
        links.append({"relation": "first", "url": link(path, applied)})
    for relation, target in (("previous", found.previous_cursor), ("next", found.next_cursor)):
        if target is not None:
            links.append({"relation": relation, "url": link(path, [*applied, (CURSOR, target)])})
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if found.total is not None:
        bundle["total"] = found.total
    bundle["link"] = links
    elements = results.get("_elements")
    entries = [_entry(call, v, summary, elements) for v in found.versions]
    entries += [_entry(call, v, summary, elements, "include") for v in extra]
    if skipped:
        entries.append(
            {
                "resource": operation_outcome(
                    [
                        Issue("warning", i.code, f"Ignored: {i.diagnostics}", i.expression)
                        for i in skipped
                    ]
                ),
                "search": {"mode": "outcome"},
            }
        )
    if entries:
        bundle["entry"] = entries
    return Response(
        dumps(bundle, call.negotiated.pretty), media_type=media_header(call.negotiated.media_type)
    )


def _entry(
    call: Call,
    version: StoredVersion,
    summary: str | None,
    elements: str | None,
    mode: str = "match",
) -> dict[str, Any]:
    assert version.data is not None
    resource: Any = orjson.Fragment(version.data)
    if summary not in (None, "false") or elements is not None:
        shaped = fhirjson.loads(version.data)
        definitions = call.runtime.definitions
        if summary not in (None, "false"):
            shaped = summarize(definitions, shaped, summary or "false")
        else:
            shaped = select_elements(definitions, shaped, elements or "")
        resource = shaped
    # a contained resource is its container's, by its local id (search.html#contained)
    if version.container is not None:
        full_url = f"{call.base}/{version.container}#{version.id}"
    else:
        full_url = f"{call.base}/{version.resource_type}/{version.id}"
    return {
        "fullUrl": full_url,
        "resource": resource,
        "search": {"mode": mode},
    }
