"""Encounter/[id]/$hemgangsklar (POST: items of the checklist done) and
Encounter/[id]/$hemgangsklar-status (GET: the checklist of the stay's region, what is done).

When every item of the region's checklist is done after the running utskrivningsklar
notice, the stay's state becomes hemgangsklar (the state follows from the Encounter write
the operation makes; reactions.py)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from fhir_server.definitions.content import CANONICAL_BASE
from fhir_server.outcome import bad_request, not_found
from fhir_server.rest.operations import INSTANCE, Invocation, Operation
from fhir_server.rest.responses import json_response
from fhir_server.storage.port import Transaction
from fhir_server.transitions import codes as c
from fhir_server.transitions.checklist import add_check
from fhir_server.transitions.clock import fhir_instant, instant, now
from fhir_server.transitions.reactions import Workflow, unprocessable
from fhir_server.transitions.resources import (
    Resource,
    data_of,
    reference,
    set_extension,
    stay_state_code,
)

DEFINITIONS = f"{CANONICAL_BASE}/OperationDefinition/lus-"
OPEN_STATES = frozenset({c.STATE_UTSKRIVNINGSKLAR, c.HEMGANGSKLAR})


def _workflow(invocation: Invocation) -> Workflow:
    workflow = invocation.call.runtime.workflow
    assert workflow is not None, "the app always runs the workflow"
    return workflow


async def _status(invocation: Invocation, tx: Transaction, rid: str) -> dict[str, Any]:
    encounter = data_of(await tx.read("Encounter", rid))
    if encounter is None:
        raise not_found(f"Encounter/{rid} is not known")
    region, done = await _workflow(invocation).checklist(tx, encounter)
    items = _workflow(invocation).rules.checklist_of(region)
    parts = []
    for item in items:
        check = done.get(item.code)
        part: list[dict[str, Any]] = [
            {"name": "code", "valueCode": item.code},
            {"name": "display", "valueString": item.display},
        ]
        if check is not None:
            part.append({"name": "done", "valueDateTime": fhir_instant(instant(check.time))})
            if check.by is not None:
                part.append({"name": "by", "valueReference": {"reference": check.by}})
        parts.append({"name": "item", "part": part})
    state = stay_state_code(encounter)
    out: list[dict[str, Any]] = [
        {"name": "region", "valueString": region.name if region else "standard"},
        {"name": "complete", "valueBoolean": bool(done) and all(done.values())},
    ]
    if state is not None:
        out.append({"name": "state", "valueCode": state})
    return {"resourceType": "Parameters", "parameter": out + parts}


async def status(invocation: Invocation) -> Response:
    assert invocation.rid is not None
    rid = invocation.rid

    async def job(tx: Transaction) -> dict[str, Any]:
        return await _status(invocation, tx, rid)

    found = await invocation.call.runtime.storage.run(invocation.call.context, job)
    return json_response(found, invocation.call.negotiated)


async def confirm(invocation: Invocation) -> Response:
    assert invocation.rid is not None
    rid = invocation.rid
    items = [str(v) for v in invocation.values("item")]
    if not items:
        raise bad_request("$hemgangsklar needs at least one 'item' (a checklist code)", "item")
    by_value = invocation.value("by")
    by = reference(by_value) if by_value is not None else None
    if by_value is not None and by is None:
        raise bad_request("'by' must be a literal reference such as Organization/x", "by")
    at = invocation.value("time")
    time = str(at) if at is not None else fhir_instant(now())
    try:
        instant(time)
    except ValueError:
        raise bad_request(f"'time' must be a dateTime, not '{time}'", "time") from None
    workflow = _workflow(invocation)

    async def job(tx: Transaction) -> dict[str, Any]:
        encounter: Resource | None = data_of(await tx.read("Encounter", rid))
        if encounter is None:
            raise not_found(f"Encounter/{rid} is not known")
        if stay_state_code(encounter) not in OPEN_STATES:
            raise unprocessable(
                f"Encounter/{rid} is '{stay_state_code(encounter)}': the hemgångsklar"
                " checklist starts with the utskrivningsklar notice",
                "Encounter.extension",
            )
        region, _ = await workflow.checklist(tx, encounter)
        known = [i.code for i in workflow.rules.checklist_of(region)]
        for item in items:
            if item not in known:
                raise bad_request(
                    f"'{item}' is not an item of the hemgångsklar checklist of"
                    f" {region.name if region else 'the standard routine'}: {', '.join(known)}",
                    "item",
                )
        for item in items:
            add_check(encounter, item, time, by)
        set_extension(encounter, c.STATE_EXTENSION, None, None)  # the server sets it
        await tx.write("Encounter", rid, encounter, "PUT")
        return {}

    storage = invocation.call.runtime.storage
    await storage.run(invocation.call.context, job)

    async def read_back(tx: Transaction) -> dict[str, Any]:
        return await _status(invocation, tx, rid)

    found = await storage.run(invocation.call.context, read_back)
    return json_response(found, invocation.call.negotiated)


OPERATIONS = [
    Operation(
        name="hemgangsklar",
        handler=confirm,
        levels=frozenset({INSTANCE}),
        definition=DEFINITIONS + "hemgangsklar",
        types=frozenset({"Encounter"}),
        affects_state=True,
        documentation="Items of the region's hemgångsklar checklist done for the stay",
    ),
    Operation(
        name="hemgangsklar-status",
        handler=status,
        levels=frozenset({INSTANCE}),
        definition=DEFINITIONS + "hemgangsklar-status",
        types=frozenset({"Encounter"}),
        documentation="The stay's hemgångsklar checklist and what of it is done",
    ),
]
