"""Terminology operations over the local content (core R4 and ours): CodeSystem/$lookup,
ValueSet/$expand, ValueSet/$validate-code, CodeSystem/$validate-code, ConceptMap/$translate,
at type level (by url) and at instance level (on a stored resource, e.g.
`ValueSet/[id]/$expand`, which also works for resources a client stored).

A code system or value set unknown here is 404; one that cannot be enumerated here
(SNOMED CT, LOINC, ...) is 422 with the reason; a call without what it needs is 400.
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from typing import Any

import orjson
from starlette.responses import Response

from fhir_server.outcome import FhirError, bad_request, error, not_found
from fhir_server.rest.operations import INSTANCE, TYPE, Invocation, Operation
from fhir_server.rest.responses import json_response
from fhir_server.terminology.codesystems import CodeSystemIndex, index_code_system
from fhir_server.terminology.expansion import CannotExpand, Expansion, expand
from fhir_server.terminology.service import CodeCheck, Terminology
from fhir_server.terminology.translation import translate_code

_SPEC = "http://hl7.org/fhir/OperationDefinition/"


def _terminology(invocation: Invocation) -> Terminology:
    validator = invocation.call.runtime.profiles
    if validator is None:
        raise error(501, "not-supported", "This server runs without its terminology")
    return validator.terminology


async def _stored(invocation: Invocation) -> dict[str, Any] | None:
    """At instance level (`ValueSet/[id]/$expand`), the stored resource the call is on."""
    kind, rid = invocation.resource_type, invocation.rid
    if rid is None or kind is None:
        return None
    call = invocation.call
    version = await call.runtime.storage.read(call.context, kind, rid)
    if version is None or version.deleted or version.data is None:
        raise not_found(f"{kind}/{rid} is not known")
    resource: dict[str, Any] = orjson.loads(version.data)
    return resource


def _with_input(invocation: Invocation, name: str, resource: dict[str, Any]) -> Invocation:
    """The invocation with the stored resource as its input `name` (valueSet, conceptMap)."""
    parameters = dict(invocation.parameters)
    parameters["parameter"] = [
        *parameters.get("parameter", []),
        {"name": name, "resource": resource},
    ]
    return dataclasses.replace(invocation, parameters=parameters)


def _code_system(
    terminology: Terminology, canonical: str, stored: dict[str, Any] | None
) -> CodeSystemIndex | None:
    """The code system to answer from: the stored one the call is on, else a known one."""
    if stored is not None:
        known = terminology.code_system(str(stored.get("url", "")))
        return known if known is not None else index_code_system(stored)
    return terminology.code_system(canonical)


def _parameters(*parts: tuple[str, str, Any]) -> dict[str, Any]:
    out = [{"name": name, kind: value} for name, kind, value in parts if value is not None]
    return {"resourceType": "Parameters", "parameter": out}


def _answer(invocation: Invocation, body: dict[str, Any]) -> Response:
    return json_response(body, invocation.call.negotiated)


def _unexpandable(exc: CannotExpand) -> FhirError:
    return error(422, "not-supported", f"Cannot answer from the terminology here: {exc}")


def _coding_input(invocation: Invocation) -> tuple[str | None, str | None, str | None, str | None]:
    """(system, code, display, version) from `coding`, or `system`/`code`/`display`."""
    coding = invocation.value("coding")
    if isinstance(coding, dict):
        return coding.get("system"), coding.get("code"), coding.get("display"), None
    return (
        invocation.value("system"),
        invocation.value("code"),
        invocation.value("display"),
        invocation.value("version"),
    )


async def lookup(invocation: Invocation) -> Response:
    terminology = _terminology(invocation)
    stored = await _stored(invocation)
    system, code, _, version = _coding_input(invocation)
    if stored is not None:
        system = system or stored.get("url")
    if not system or not code:
        raise bad_request("$lookup needs a system and a code (or a coding)", "code")
    canonical = f"{system}|{version}" if version else system
    cs = _code_system(terminology, canonical, stored)
    if cs is None:
        raise not_found(f"The code system {canonical} is unknown to this server")
    concept = cs.find(code)
    if concept is None:
        raise error(404, "code-invalid", f"'{code}' is not a code of {system}")
    body = _parameters(
        ("name", "valueString", cs.name or system),
        ("version", "valueString", cs.version),
        ("display", "valueString", concept.display or code),
        ("definition", "valueString", concept.definition),
    )
    for designation in concept.designations:
        parts = [
            {"name": "language", "valueCode": designation.get("language")},
            {"name": "use", "valueCoding": designation.get("use")},
            {"name": "value", "valueString": designation.get("value")},
        ]
        body["parameter"].append(
            {"name": "designation", "part": [p for p in parts if any(v for v in p.values())]}
        )
    for prop in concept.properties:
        value = next(((k, v) for k, v in prop.items() if k.startswith("value")), None)
        part: list[dict[str, Any]] = [{"name": "code", "valueCode": prop.get("code")}]
        if value is not None:
            part.append({"name": "value", value[0]: value[1]})
        body["parameter"].append({"name": "property", "part": part})
    return _answer(invocation, body)


def _value_set_expansion(invocation: Invocation, terminology: Terminology) -> Expansion:
    url = invocation.value("url")
    inline = invocation.value("valueSet")
    try:
        if isinstance(inline, dict):
            return expand(inline, terminology.code_system, terminology.expansion)
        if not url:
            raise bad_request("Name the value set with `url` (or give it as `valueSet`)", "url")
        if terminology.registry.resolve(url, "ValueSet") is None:
            raise not_found(f"The value set {url} is unknown to this server")
        return terminology.expansion(url)
    except CannotExpand as exc:
        raise _unexpandable(exc) from exc


async def expand_value_set(invocation: Invocation) -> Response:
    terminology = _terminology(invocation)
    stored = await _stored(invocation)
    if stored is not None:
        invocation = _with_input(invocation, "valueSet", stored)
    expansion = _value_set_expansion(invocation, terminology)
    text = invocation.value("filter")
    offset = invocation.value("offset", 0)
    count = invocation.value("count")
    for name, number in (("offset", offset), ("count", count)):
        if number is not None and (not isinstance(number, int) or number < 0):
            raise bad_request(f"{name} must be a whole number of 0 or more", name)
    entries = expansion.entries
    if text:
        needle = str(text).lower()
        entries = [
            e for e in entries if needle in e.code.lower() or needle in (e.display or "").lower()
        ]
    page = entries[offset : None if count is None else offset + count]
    contains = []
    for entry in page:
        item = {"system": entry.system, "code": entry.code}
        if entry.version:
            item["version"] = entry.version
        if entry.display:
            item["display"] = entry.display
        contains.append(item)
    parameters = [{"name": "offset", "valueInteger": offset}]
    if count is not None:
        parameters.append({"name": "count", "valueInteger": count})
    if text:
        parameters.append({"name": "filter", "valueString": str(text)})
    body: dict[str, Any] = {
        "resourceType": "ValueSet",
        "url": expansion.url,
        "status": "active",
        "expansion": {
            "identifier": f"urn:uuid:{uuid.uuid4()}",
            "timestamp": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "total": len(entries),
            "offset": offset,
            "parameter": parameters,
        },
    }
    if expansion.version:
        body["version"] = expansion.version
    if contains:
        body["expansion"]["contains"] = contains
    return _answer(invocation, body)


def _check_answer(invocation: Invocation, check: CodeCheck) -> Response:
    return _answer(
        invocation,
        _parameters(
            ("result", "valueBoolean", check.result),
            ("message", "valueString", None if check.result else check.message),
            ("display", "valueString", check.display),
        ),
    )


async def validate_code_in_value_set(invocation: Invocation) -> Response:
    terminology = _terminology(invocation)
    stored = await _stored(invocation)
    if stored is not None:
        invocation = _with_input(invocation, "valueSet", stored)
    concept = invocation.value("codeableConcept")
    candidates: list[tuple[str | None, str | None, str | None]]
    if isinstance(concept, dict):
        candidates = [
            (c.get("system"), c.get("code"), c.get("display"))
            for c in concept.get("coding", [])
            if isinstance(c, dict)
        ]
    else:
        system, code, display, _ = _coding_input(invocation)
        candidates = [(system, code, display)]
    if not any(code for _, code, _ in candidates):
        raise bad_request("$validate-code needs a code, coding or codeableConcept", "code")
    expansion = _value_set_expansion(invocation, terminology)
    check = CodeCheck(False, "no code given")
    for system, code, display in candidates:
        if not code:
            continue
        if not expansion.contains(system, code):
            where = f"{system}#{code}" if system else f"'{code}'"
            check = CodeCheck(False, f"{where} is not in the value set {expansion.url}")
            continue
        entry = next((e for e in expansion.entries if e.code == code), None)
        known = entry.display if entry else None
        if display and known and display != known:
            check = CodeCheck(False, f"The display of {code} is '{known}', not '{display}'", known)
            continue
        check = CodeCheck(True, "valid", known)
        break
    return _check_answer(invocation, check)


async def validate_code_in_code_system(invocation: Invocation) -> Response:
    terminology = _terminology(invocation)
    stored = await _stored(invocation)
    system, code, display, version = _coding_input(invocation)
    system = invocation.value("url") or system or (stored or {}).get("url")
    if not system or not code:
        raise bad_request("$validate-code needs the code system (url) and a code", "code")
    canonical = f"{system}|{version}" if version else system
    cs = _code_system(terminology, canonical, stored)
    if cs is None:
        raise not_found(f"The code system {canonical} is unknown to this server")
    if stored is not None and terminology.code_system(system) is None:
        concept = cs.find(code)  # a stored code system the terminology has not loaded
        if concept is None:
            return _check_answer(invocation, CodeCheck(False, f"'{code}' is not in {system}"))
        known = concept.display
        if display and known and display != known:
            wrong = CodeCheck(False, f"The display of {code} is '{known}', not '{display}'", known)
            return _check_answer(invocation, wrong)
        return _check_answer(invocation, CodeCheck(True, "valid", known))
    try:
        check = terminology.check_in_code_system(system, code, display, version)
    except CannotExpand as exc:
        raise _unexpandable(exc) from exc
    return _check_answer(invocation, check)


async def translate(invocation: Invocation) -> Response:
    terminology = _terminology(invocation)
    system, code, _, _ = _coding_input(invocation)
    concept = invocation.value("codeableConcept")
    if isinstance(concept, dict) and concept.get("coding"):
        first = concept["coding"][0]
        system, code = first.get("system"), first.get("code")
    if not system or not code:
        raise bad_request("$translate needs a system and a code (or a coding)", "code")
    url = invocation.value("url")
    stored = await _stored(invocation)
    inline = stored if stored is not None else invocation.value("conceptMap")
    if isinstance(inline, dict):
        maps = [inline]
    elif url:
        found = terminology.registry.resolve(url, "ConceptMap")
        if found is None:
            raise not_found(f"The concept map {url} is unknown to this server")
        maps = [found]
    else:
        maps = terminology.concept_maps()
    matches = translate_code(
        maps,
        system,
        code,
        source=invocation.value("source"),
        target=invocation.value("target"),
        target_system=invocation.value("targetsystem"),
        reverse=bool(invocation.value("reverse", False)),
    )
    body = _parameters(
        ("result", "valueBoolean", any(m["equivalence"] not in _NEGATIVE for m in matches)),
        ("message", "valueString", None if matches else f"No mapping found for {system}#{code}"),
    )
    for match in matches:
        part = [
            {"name": "equivalence", "valueCode": match["equivalence"]},
            {"name": "source", "valueUri": match["source"]},
        ]
        if match.get("concept"):
            part.insert(1, {"name": "concept", "valueCoding": match["concept"]})
        body["parameter"].append({"name": "match", "part": part})
    return _answer(invocation, body)


_NEGATIVE = frozenset({"unmatched", "disjoint"})


async def validate_code(invocation: Invocation) -> Response:
    if invocation.resource_type == "CodeSystem":
        return await validate_code_in_code_system(invocation)
    return await validate_code_in_value_set(invocation)


OPERATIONS = [
    Operation(
        name="lookup",
        handler=lookup,
        levels=frozenset({TYPE, INSTANCE}),
        definition=_SPEC + "CodeSystem-lookup",
        types=frozenset({"CodeSystem"}),
    ),
    Operation(
        name="expand",
        handler=expand_value_set,
        levels=frozenset({TYPE, INSTANCE}),
        definition=_SPEC + "ValueSet-expand",
        types=frozenset({"ValueSet"}),
        query_types={"count": "Integer", "offset": "Integer"},
    ),
    Operation(
        name="validate-code",
        handler=validate_code,
        levels=frozenset({TYPE, INSTANCE}),
        definition=_SPEC + "ValueSet-validate-code",
        types=frozenset({"ValueSet", "CodeSystem"}),
    ),
    Operation(
        name="translate",
        handler=translate,
        levels=frozenset({TYPE, INSTANCE}),
        definition=_SPEC + "ConceptMap-translate",
        types=frozenset({"ConceptMap"}),
        query_types={"reverse": "Boolean"},
    ),
]
