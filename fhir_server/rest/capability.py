"""GET /metadata: the CapabilityStatement, generated from what is implemented."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from fhir_server import FHIR_VERSION, __version__
from fhir_server.auth.endpoints import capability_security
from fhir_server.definitions import Definitions
from fhir_server.rest import operations
from fhir_server.rest.common import begin
from fhir_server.rest.responses import json_response
from fhir_server.runtime import Runtime
from fhir_server.search.composite import composite_param
from fhir_server.subscriptions.service import running as subscriptions_running

# The interactions the routers of this package serve, for every resource type.
TYPE_INTERACTIONS = (
    "read",
    "vread",
    "update",
    "patch",
    "delete",
    "history-instance",
    "history-type",
    "create",
    "search-type",
)
# search parameter types the criteria parser does not take (Location near)
_UNSERVED_PARAM_TYPES = {"special"}
_UNSERVED_PARAMS = {"_query", "_filter"}
# what each type of parameter takes besides plain values (search.html#modifiers), said once
# in rest.documentation (per parameter it would make the statement larger than 1 MB)
_MODIFIERS = {
    "string": "Modifiers: :missing, :exact, :contains.",
    "token": "Modifiers: :missing, :not, :text, :of-type (identifiers), :in and :not-in"
    " (ValueSets this server can expand), :above and :below (system|code in a CodeSystem"
    " this server knows, by its hierarchy).",
    "reference": "Modifiers: :missing, :[type], :identifier; chaining and _has.",
    "date": "Modifier :missing; prefixes eq ne gt lt ge le sa eb ap.",
    "number": "Modifier :missing; prefixes eq ne gt lt ge le sa eb ap.",
    "quantity": "Modifier :missing; prefixes eq ne gt lt ge le sa eb ap;"
    " number|system|code and number||code-or-unit.",
    "uri": "Modifiers: :missing, :above, :below.",
    "composite": "Values a$b (one value per component, in order), matched within one"
    " repetition of the element; modifier :missing.",
}
_SEARCH_DOCUMENTATION = (
    "Search parameters by type. "
    + " ".join(f"{kind}: {text}" for kind, text in _MODIFIERS.items())
    + (
        " Also _text and _content (simple full text); _contained=false (the default),"
        " true or both: contained resources are searched as resources of their own type"
        " with all its parameters, and _containedType=container (the default: their"
        " containers, each once) or contained (the contained resources, fullUrl the"
        " container's URL#local id); a page of containers sorts by _id and _lastUpdated"
        " only, _has does not apply to contained resources, and _include/_revinclude are"
        " not followed from contained resources returned as themselves. _sort, _include,"
        " _revinclude (:iterate), _count, _total, _summary, _elements."
    )
)
_FULL_TEXT = (
    "Simple full text: every word of the value begins a word of the {}, case and accents"
    " ignored; comma-separated single words are alternatives."
)


def _search_params(definitions: Definitions, rtype: str) -> list[dict[str, Any]]:
    out = []
    for code, sp in sorted(definitions.search_params_for(rtype).items()):
        kind = sp["type"]
        if kind in _UNSERVED_PARAM_TYPES or code in _UNSERVED_PARAMS:
            continue
        if kind == "composite" and composite_param(definitions, rtype, sp) is None:
            continue
        entry = {"name": code, "definition": sp["url"], "type": kind}
        if code == "_text":
            entry["documentation"] = _FULL_TEXT.format("narrative")
        elif code == "_content":
            entry["documentation"] = _FULL_TEXT.format("resource's text")
        elif kind == "composite":
            entry["documentation"] = _MODIFIERS[kind]
        out.append(entry)
    return out


SYSTEM_INTERACTIONS = ("transaction", "batch", "history-system")


def _operation_entry(operation: operations.Operation) -> dict[str, Any]:
    entry = {"name": operation.name, "definition": operation.definition}
    if operation.documentation:
        entry["documentation"] = operation.documentation
    return entry


def _operations(rtype: str) -> list[dict[str, Any]]:
    return [
        _operation_entry(op)
        for op in operations.registered()
        if (operations.TYPE in op.levels or operations.INSTANCE in op.levels)
        and (op.types is None or rtype in op.types)
    ]


_INCLUDES: dict[int, tuple[dict[str, list[str]], dict[str, list[str]]]] = {}


def _include_lists(
    definitions: Definitions,
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Per type, the _include values it takes and the _revinclude values that reach it."""
    cached = _INCLUDES.get(id(definitions))
    if cached is not None:
        return cached
    includes: dict[str, list[str]] = {}
    revincludes: dict[str, list[str]] = {}
    types = definitions.resource_types
    for source in sorted(types):
        for code, sp in sorted(definitions.search_params_for(source).items()):
            if sp.get("type") != "reference" or not sp.get("expression"):
                continue
            includes.setdefault(source, []).append(f"{source}:{code}")
            targets = [t for t in sp.get("target", []) if t in types] or sorted(types)
            for target in targets:
                revincludes.setdefault(target, []).append(f"{source}:{code}")
    for values in includes.values():
        values.append("*")
    _INCLUDES[id(definitions)] = (includes, revincludes)
    return includes, revincludes


def capability_statement(definitions: Definitions, base: str) -> dict[str, Any]:
    includes, revincludes = _include_lists(definitions)
    resources = [
        {
            "type": rtype,
            "profile": f"http://hl7.org/fhir/StructureDefinition/{rtype}",
            "interaction": [{"code": code} for code in TYPE_INTERACTIONS],
            "versioning": "versioned-update",
            "readHistory": True,
            "updateCreate": True,
            "conditionalCreate": True,
            "conditionalRead": "not-match",
            "conditionalUpdate": True,
            "conditionalDelete": "single",
            "searchParam": _search_params(definitions, rtype),
        }
        for rtype in sorted(definitions.resource_types)
    ]
    for entry in resources:
        rtype = str(entry["type"])
        for field, values in (("searchInclude", includes), ("searchRevInclude", revincludes)):
            if values.get(rtype):
                entry[field] = values[rtype]
        declared = _operations(rtype)
        if declared:
            entry["operation"] = declared
    system_operations = [
        _operation_entry(op) for op in operations.registered() if operations.SYSTEM in op.levels
    ]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "publisher": "fhir-server",
        "kind": "instance",
        "software": {"name": "fhir-server", "version": __version__},
        "implementation": {
            "description": "FHIR R4 server for coordinated discharge from hospital care (LUS)",
            "url": base,
        },
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "application/json"],
        "patchFormat": ["application/json-patch+json", "application/fhir+json"],
        "rest": [
            {
                "mode": "server",
                "documentation": _SEARCH_DOCUMENTATION,
                "resource": resources,
                "interaction": [{"code": code} for code in SYSTEM_INTERACTIONS],
                **({"operation": system_operations} if system_operations else {}),
            }
        ],
    }


TOPIC_CANONICAL = (
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
    "capabilitystatement-subscriptiontopic-canonical"
)
BACKPORT_SUBSCRIPTION = (
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription"
)


def _declare_topics(statement: dict[str, Any], runtime: Runtime) -> None:
    """The topics subscribers may use, on the Subscription entry (Backport IG, R4)."""
    service = subscriptions_running(runtime)
    if service is None:
        return
    for entry in statement["rest"][0]["resource"]:
        if entry["type"] == "Subscription":
            entry["supportedProfile"] = [BACKPORT_SUBSCRIPTION]
            topics = [
                {"url": TOPIC_CANONICAL, "valueCanonical": t.url} for t in service.topics.all()
            ]
            if topics:
                entry["extension"] = topics


async def metadata(request: Request) -> Response:
    call = begin(request)
    statement = capability_statement(call.runtime.definitions, call.base)
    _declare_topics(statement, call.runtime)
    if request.app.state.security is not None:
        statement["rest"][0]["security"] = capability_security(call.base)
    return json_response(statement, call.negotiated)
