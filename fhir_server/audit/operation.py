"""`GET [base]/AuditEvent/$audit-export`: the audit trail as NDJSON (application/fhir+ndjson),
oldest first, streamed, for a PDL follow-up (logguppföljning).

Parameters (all optional): `since`, `until` (recorded in [since, until), FHIR dates or
instants), `patient` (id or Patient/id), `user` (the requesting agent: client id, or a
fhirUser reference such as Practitioner/123). The caller needs read and search on
AuditEvent (e.g. `system/AuditEvent.rs`); it reads through the caller's secured storage, so
an organisation-scoped caller gets only the events its organisation is an agent of, and the
export is audited like any search. It changes nothing: GET only (POST with a Parameters body
is the same read), and no AuditEvent can be changed through the API at all.

Named `$audit-export`, not `$export`: the Bulk Data `$export` is an asynchronous kick-off
with a different contract, and clients of it must not mistake this for it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.responses import Response, StreamingResponse

from fhir_server.audit.export import NDJSON, Selection, lines, pages
from fhir_server.definitions.content import CANONICAL_BASE
from fhir_server.outcome import bad_request
from fhir_server.rest.operations import TYPE, Invocation, Operation
from fhir_server.storage.port import SearchResult

PARAMETERS = ("since", "until", "patient", "user")


async def audit_export(invocation: Invocation) -> Response:
    for name in invocation.parameters.get("parameter", []) or []:
        if isinstance(name, dict) and name.get("name") not in PARAMETERS:
            unknown = name.get("name")
            raise bad_request(f"$audit-export has no parameter '{unknown}'", str(unknown))
    selection = Selection(*(_text(invocation.value(name)) for name in PARAMETERS))
    call = invocation.call
    found = pages(call.runtime.storage, call.context, selection)
    first = await anext(found)  # a malformed selection answers 400 before the stream starts
    return StreamingResponse(_stream(first, found), media_type=NDJSON)


async def _stream(first: SearchResult, rest: AsyncIterator[SearchResult]) -> AsyncIterator[bytes]:
    yield lines(first)
    async for found in rest:
        yield lines(found)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


OPERATIONS = [
    Operation(
        name="audit-export",
        handler=audit_export,
        levels=frozenset({TYPE}),
        definition=f"{CANONICAL_BASE}/OperationDefinition/AuditEvent-audit-export",
        types=frozenset({"AuditEvent"}),
        documentation="The audit trail as NDJSON, oldest first, by period, patient and user"
        " (PDL follow-up)",
        permissions="rs",
        media_types=frozenset({NDJSON}),
    )
]
