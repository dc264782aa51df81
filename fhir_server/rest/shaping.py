"""_summary and _elements: return a subset of a resource (search.html#summary)."""

from __future__ import annotations

from typing import Any

from fhir_server.definitions import Definitions
from fhir_server.outcome import bad_request

SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
    "display": "Resource encoded in summary mode",
}
_ALWAYS = ("resourceType", "id", "meta")
SUMMARY_VALUES = ("true", "text", "data", "count", "false")


def _mark_subsetted(resource: dict[str, Any]) -> dict[str, Any]:
    meta = dict(resource.get("meta") or {})
    tags = [t for t in meta.get("tag", []) if t.get("code") != "SUBSETTED"]
    tags.append(SUBSETTED)
    meta["tag"] = tags
    resource["meta"] = meta
    return resource


def _top_info(definitions: Definitions, resource_type: str, key: str) -> Any:
    name = key[1:] if key.startswith("_") else key
    return definitions.top_element(resource_type, name)


def summarize(definitions: Definitions, resource: dict[str, Any], summary: str) -> dict[str, Any]:
    if summary == "false":
        return resource
    if summary not in SUMMARY_VALUES or summary == "count":
        raise bad_request(f"_summary={summary} is not valid here", "_summary")
    rtype = resource["resourceType"]
    out: dict[str, Any] = {}
    for key, value in resource.items():
        if key in _ALWAYS:
            out[key] = value
            continue
        info = _top_info(definitions, rtype, key)
        if summary == "true":
            keep = info is not None and (info.is_summary or info.min > 0)
        elif summary == "text":
            keep = key == "text" or (info is not None and info.min > 0)
        else:  # data
            keep = key != "text"
        if keep:
            out[key] = value
    return _mark_subsetted(out)


def select_elements(
    definitions: Definitions, resource: dict[str, Any], elements: str
) -> dict[str, Any]:
    rtype = resource["resourceType"]
    wanted = set()
    for element in (e.strip() for e in elements.split(",")):
        # a requested name may carry the type prefix (Patient.name); only the top level
        # selects here
        if element.startswith(rtype + "."):
            element = element[len(rtype) + 1 :]
        if element:
            wanted.add(element.split(".", 1)[0])
    out: dict[str, Any] = {}
    for key, value in resource.items():
        bare = key[1:] if key.startswith("_") else key
        info = _top_info(definitions, rtype, key)
        choice_name = info.name[:-3] if info is not None and info.name.endswith("[x]") else None
        if (
            key in _ALWAYS
            or bare in wanted
            or (choice_name is not None and choice_name in wanted)
            or (info is not None and info.min > 0)
        ):
            out[key] = value
    return _mark_subsetted(out)
