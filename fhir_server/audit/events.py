"""Building AuditEvent resources (R4 AuditEvent, the FHIR RESTful profile of it: `type`
rest, `subtype` the interaction) for one access by one caller."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fhir_server.storage.clock import format_instant
from fhir_server.storage.port import RequestContext

REST = {
    "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
    "code": "rest",
    "display": "RESTful Operation",
}
INTERACTION_SYSTEM = "http://hl7.org/fhir/restful-interaction"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
HSA_SYSTEM = "urn:oid:1.2.752.29.4.19"
KOMMUNKOD_SYSTEM = "urn:oid:1.2.752.129.2.2.1.17"
CLIENT_SYSTEM = "urn:ietf:params:oauth:client-id"

SUCCESS, MINOR_FAILURE, SERIOUS_FAILURE = "0", "4", "8"
# interaction → AuditEvent.action (C create, R read/view, U update, D delete, E execute)
ACTIONS = {
    "create": "C",
    "conditional-create": "C",
    "read": "R",
    "vread": "R",
    "history-instance": "R",
    "history-type": "R",
    "history-system": "R",
    "search-type": "E",
    "search-system": "E",
    "update": "U",
    "conditional-update": "U",
    "patch": "U",
    "delete": "D",
    "conditional-delete": "D",
}
METHOD_ACTIONS = {"POST": "C", "PUT": "U", "PATCH": "U", "DELETE": "D"}
# interactions of the restful-interaction code system (others are sent as "operation")
_CODES = {
    "read", "vread", "update", "patch", "delete", "history", "history-instance",
    "history-type", "history-system", "create", "search", "search-type", "search-system",
    "capabilities", "transaction", "batch", "operation",
}  # fmt: skip


@dataclass
class Access:
    """What one access touched: resources (Type/id/_history/v) and the patients (ids)."""

    resources: list[str] = field(default_factory=list)
    patients: set[str] = field(default_factory=set)


def organisation_identifier(organisation: str) -> dict[str, str]:
    system = KOMMUNKOD_SYSTEM if organisation.isdigit() else HSA_SYSTEM
    return {"system": system, "value": organisation}


def audit_event(
    ctx: RequestContext,
    access: Access,
    *,
    action: str | None = None,
    outcome: str = SUCCESS,
    description: str = "",
    interaction: str | None = None,
) -> dict[str, Any]:
    interaction = interaction or ctx.interaction or "operation"
    code = interaction if interaction in _CODES else "operation"
    requestor: dict[str, Any] = {
        "type": {"text": "client"},
        "who": (
            {"reference": ctx.fhir_user}
            if ctx.fhir_user
            else {"identifier": {"system": CLIENT_SYSTEM, "value": ctx.principal or "anonymous"}}
        ),
        "altId": ctx.principal or "anonymous",
        "name": ctx.principal or "anonymous",
        "requestor": True,
    }
    if ctx.client_ip:
        requestor["network"] = {"address": ctx.client_ip, "type": "2"}
    agents = [requestor]
    if ctx.organisation:
        agents.append(
            {
                "type": {"text": "organisation"},
                "who": {"identifier": organisation_identifier(ctx.organisation)},
                "altId": ctx.organisation,
                "requestor": False,
            }
        )
    entities: list[dict[str, Any]] = [
        {
            "what": {"reference": f"Patient/{patient}"},
            "type": {"system": ENTITY_TYPE, "code": "1", "display": "Person"},
            "role": {"system": OBJECT_ROLE, "code": "1", "display": "Patient"},
        }
        for patient in sorted(access.patients)
    ]
    entities.extend(
        {
            "what": {"reference": reference},
            "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
        }
        for reference in _unique(access.resources)
    )
    if ctx.target:
        entities.append(
            {
                "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
                "role": {"system": OBJECT_ROLE, "code": "24", "display": "Query"},
                "description": ctx.target[:1000],
                "query": base64.b64encode(ctx.target.encode()).decode(),
            }
        )
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "type": REST,
        "subtype": [{"system": INTERACTION_SYSTEM, "code": code, "display": interaction}],
        "action": action or ACTIONS.get(interaction, "E"),
        "recorded": format_instant(datetime.now(UTC)),
        "outcome": outcome,
        "agent": agents,
        "source": {
            "observer": {"display": "fhir-server"},
            "type": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/security-source-type",
                    "code": "4",
                    "display": "Application Server",
                }
            ],
        },
    }
    if description:
        event["outcomeDesc"] = description[:1000]
    if entities:
        event["entity"] = entities
    return event


def outcome_of(status: int) -> str:
    return SERIOUS_FAILURE if status >= 500 else MINOR_FAILURE


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
