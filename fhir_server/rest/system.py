"""System level: POST / with a batch or transaction Bundle."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from fhir_server.ids import version_etag
from fhir_server.interactions.bundle import (
    EntryOutcome,
    check_bundle,
    run_batch,
    run_transaction,
    status_text,
)
from fhir_server.outcome import FhirError, information, operation_outcome
from fhir_server.rest.common import begin
from fhir_server.rest.negotiation import read_json_body
from fhir_server.rest.prefer import MINIMAL, OPERATION_OUTCOME, preference
from fhir_server.rest.responses import json_response


async def batch_or_transaction(request: Request) -> Response:
    call = begin(request)
    _, body = await read_json_body(request, call.runtime.settings.max_body_bytes)
    kind = check_bundle(body, call.runtime.settings.max_bundle_entries)
    wanted = preference(request, "return")
    entries: list[dict[str, Any]]
    if kind == "transaction":
        outcomes = await run_transaction(call.runtime, call.context, body, call.base)
        entries = [_entry(o, call.base, wanted) for o in outcomes]
    else:
        results = await run_batch(call.runtime, call.context, body, call.base)
        entries = [
            _failed(r) if isinstance(r, FhirError) else _entry(r, call.base, wanted)
            for r in results
        ]
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": f"{kind}-response",
        "link": [{"relation": "self", "url": call.base}],
        "entry": entries,
    }
    if not entries:
        del bundle["entry"]
    return json_response(bundle, call.negotiated)


def _entry(outcome: EntryOutcome, base: str, wanted: str | None) -> dict[str, Any]:
    response: dict[str, Any] = {"status": status_text(outcome.status)}
    entry: dict[str, Any] = {}
    version = outcome.version
    if version is not None:
        url = f"{version.resource_type}/{version.id}"
        entry["fullUrl"] = f"{base}/{url}"
        if outcome.location:
            response["location"] = f"{url}/_history/{version.version_id}"
        response["etag"] = version_etag(version.version_id)
        response["lastModified"] = version.last_updated
        if version.data is not None and not version.deleted and wanted != MINIMAL:
            entry["resource"] = orjson.Fragment(version.data)
    if outcome.resource is not None:
        entry["resource"] = outcome.resource
    if outcome.issues:
        response["outcome"] = operation_outcome(list(outcome.issues))
    elif wanted == OPERATION_OUTCOME:
        response["outcome"] = information(status_text(outcome.status))
    entry["response"] = response
    return entry


def _failed(exc: FhirError) -> dict[str, Any]:
    return {"response": {"status": status_text(exc.status), "outcome": exc.outcome()}}
