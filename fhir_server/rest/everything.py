"""Patient/$everything (patient-operation-everything.html): a patient's record as a searchset.

The patient, every resource in its compartment, and the resources those refer to (the
practitioners, organisations, medications, … that give them meaning). `_since` keeps what
changed since an instant, `_type` the listed types, `_count` pages the result; the pages
are offsets into a list computed per request, bounded by EVERYTHING_LIMIT.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from fhir_server.auth.access import may_search
from fhir_server.outcome import Issue, bad_request, not_found, operation_outcome
from fhir_server.rest.operations import INSTANCE, TYPE, Invocation, Operation
from fhir_server.rest.paging import link, page_size
from fhir_server.rest.responses import dumps, media_header
from fhir_server.search.compartments import member_types
from fhir_server.search.dates import date_range
from fhir_server.search.results import Include
from fhir_server.storage.port import StoredVersion

EVERYTHING_LIMIT = 10_000
_PATIENTS_LIMIT = 1_000


async def everything(invocation: Invocation) -> Response:
    call = invocation.call
    storage, definitions = call.runtime.storage, call.runtime.definitions
    for unsupported in ("start", "end"):
        if invocation.values(unsupported):
            raise bad_request(f"$everything: '{unsupported}' is not supported", unsupported)
    since = invocation.value("_since")
    wanted = _types(invocation, definitions.resource_types)
    offset = _offset(invocation.value("_cursor"))
    count = page_size(_text(invocation.value("_count")), call.runtime.settings)
    criteria = [("_lastUpdated", f"ge{since}")] if since else []
    since_floor = None
    if since:
        bounds = date_range(str(since))
        if bounds is None:
            raise bad_request(f"_since={since} is not an instant", "_since")
        since_floor = bounds[0]

    if invocation.rid is not None:
        patient = await storage.read(call.context, "Patient", invocation.rid)
        if patient is None or patient.deleted:
            raise not_found(f"Patient/{invocation.rid} is not known")
        patients = [patient]
    else:
        found = await storage.search(
            call.context, "Patient", [], count=_PATIENTS_LIMIT, total=False
        )
        patients = found.versions

    collected: list[StoredVersion] = []
    seen: set[tuple[str, str]] = set()
    truncated = False

    def add(versions: list[StoredVersion]) -> None:
        nonlocal truncated
        for version in versions:
            key = (version.resource_type, version.id)
            if key in seen or (wanted is not None and version.resource_type not in wanted):
                continue
            if len(collected) >= EVERYTHING_LIMIT:
                truncated = True
                return
            seen.add(key)
            collected.append(version)

    for patient in patients:
        if since:  # the patient itself only when it changed since, as the others
            changed = await storage.search(
                call.context, "Patient", [("_id", patient.id), *criteria], count=1, total=False
            )
            add(changed.versions)
        else:
            add([patient])
        members: list[StoredVersion] = []
        for rtype in member_types(definitions, "Patient"):
            if rtype == "Patient" or (wanted is not None and rtype not in wanted):
                continue
            if not may_search(call.context, rtype):
                continue  # the caller's scopes leave this type out of the record
            found = await storage.search(
                call.context,
                rtype,
                criteria,
                count=EVERYTHING_LIMIT,
                total=False,
                compartment=("Patient", patient.id),
            )
            members += found.versions
        add(members)
        sources = [patient, *members]
        includes = [Include(t, None) for t in sorted({v.resource_type for v in sources})]
        referred = await storage.include(call.context, sources, includes, [], EVERYTHING_LIMIT)
        add([v for v in referred if since_floor is None or v.last_updated >= since_floor])

    page = collected[offset : offset + count]
    base = f"{call.base}/Patient" + (f"/{invocation.rid}" if invocation.rid else "")
    path = f"{base}/$everything"
    kept = [(k, v) for k, v in call.request.query_params.multi_items() if k != "_cursor"]
    links = [{"relation": "self", "url": link(path, call.request.query_params.multi_items())}]
    if offset + count < len(collected):
        links.append(
            {"relation": "next", "url": link(path, [*kept, ("_cursor", str(offset + count))])}
        )
    if offset > 0:
        previous = max(0, offset - count)
        links.append(
            {"relation": "previous", "url": link(path, [*kept, ("_cursor", str(previous))])}
        )
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": f"{call.base}/{v.resource_type}/{v.id}",
            "resource": _fragment(v),
            "search": {"mode": "match"},
        }
        for v in page
    ]
    if truncated:
        entries.append(
            {
                "resource": operation_outcome(
                    [
                        Issue(
                            "warning",
                            "too-costly",
                            f"Only the first {EVERYTHING_LIMIT} resources are returned",
                        )
                    ]
                ),
                "search": {"mode": "outcome"},
            }
        )
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(collected),
        "link": links,
    }
    if entries:
        bundle["entry"] = entries
    negotiated = call.negotiated
    return Response(
        dumps(bundle, negotiated.pretty), media_type=media_header(negotiated.media_type)
    )


def _fragment(version: StoredVersion) -> Any:
    assert version.data is not None
    return orjson.Fragment(version.data)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _types(invocation: Invocation, known: frozenset[str] | set[str]) -> set[str] | None:
    values = invocation.values("_type")
    if not values:
        return None
    wanted = {t.strip() for value in values for t in str(value).split(",")}
    unknown = sorted(t for t in wanted if t not in known)
    if unknown:
        raise bad_request(f"$everything: unknown resource type {', '.join(unknown)}", "_type")
    return wanted


def _offset(value: Any) -> int:
    if value is None:
        return 0
    text = str(value)
    if not text.isdigit():
        raise bad_request(f"_cursor={text} is not a cursor this server gave out", "_cursor")
    return int(text)


OPERATIONS = [
    Operation(
        name="everything",
        handler=everything,
        levels=frozenset({TYPE, INSTANCE}),
        definition="http://hl7.org/fhir/OperationDefinition/Patient-everything",
        types=frozenset({"Patient"}),
        documentation="The patient's record: its compartment and what that refers to",
        query_types={"_count": "Integer"},
    )
]
