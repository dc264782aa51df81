"""Load the core package (a FHIR NPM package .tgz) and our own SearchParameters (profiles/)
into lookup tables."""

from __future__ import annotations

import tarfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from fhir_server.definitions import content

CORE_PACKAGE = Path(__file__).with_name("hl7.fhir.r4.core-4.0.1.tgz")

# Conformance resource types whose JSON is kept (parsed on first use).
_KEPT = {
    "StructureDefinition",
    "SearchParameter",
    "CompartmentDefinition",
    "ValueSet",
    "CodeSystem",
    "OperationDefinition",
    "ConceptMap",
}


@dataclass(frozen=True, slots=True)
class ElementInfo:
    """What the server needs to know of one element of a resource type."""

    path: str  # e.g. "Patient.name"
    name: str  # JSON property name; "value[x]" stays with its [x]
    min: int
    max: str
    is_summary: bool
    is_modifier: bool
    types: tuple[str, ...]


@dataclass
class Definitions:
    """Lookup tables built from the core package."""

    resource_types: frozenset[str]
    # top-level elements per resource type, by JSON name (choice names keep "[x]")
    elements: dict[str, dict[str, ElementInfo]]
    # search parameters per base resource type (incl. "Resource" and "DomainResource")
    search_params: dict[str, dict[str, dict[str, Any]]]
    compartments: dict[str, dict[str, Any]]
    _raw_by_url: dict[str, bytes] = field(repr=False)
    _raw_by_key: dict[tuple[str, str], bytes] = field(repr=False)

    def resource_by_url(self, url: str) -> dict[str, Any] | None:
        raw = self._raw_by_url.get(url.split("|", 1)[0])
        return None if raw is None else _parse(raw)

    def resource(self, resource_type: str, rid: str) -> dict[str, Any] | None:
        raw = self._raw_by_key.get((resource_type, rid))
        return None if raw is None else _parse(raw)

    def conformance_keys(self) -> list[tuple[str, str]]:
        """(resourceType, id) of every conformance resource kept from the package."""
        return list(self._raw_by_key)

    def search_params_for(self, resource_type: str) -> dict[str, dict[str, Any]]:
        """Every search parameter that applies to a type, including inherited ones."""
        merged: dict[str, dict[str, Any]] = {}
        for base in ("Resource", "DomainResource", resource_type):
            merged.update(self.search_params.get(base, {}))
        return merged

    def top_element(self, resource_type: str, json_name: str) -> ElementInfo | None:
        """The top-level element a JSON property belongs to (choice types resolved)."""
        elements = self.elements.get(resource_type, {})
        info = elements.get(json_name)
        if info is not None:
            return info
        for name, candidate in elements.items():
            if name.endswith("[x]") and json_name.startswith(name[:-3]):
                return candidate
        return None


def _parse(raw: bytes) -> dict[str, Any]:
    return _parse_cached(raw)


@cache
def _parse_cached(raw: bytes) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(raw)
    return value


def _top_elements(sd: dict[str, Any]) -> dict[str, ElementInfo]:
    rtype = sd["type"]
    out: dict[str, ElementInfo] = {}
    for el in sd.get("snapshot", {}).get("element", []):
        path: str = el["path"]
        parts = path.split(".")
        if len(parts) != 2 or parts[0] != rtype:
            continue
        name = parts[1]
        out[name] = ElementInfo(
            path=path,
            name=name,
            min=int(el.get("min", 0)),
            max=str(el.get("max", "*")),
            is_summary=bool(el.get("isSummary", False)),
            is_modifier=bool(el.get("isModifier", False)),
            types=tuple(t["code"] for t in el.get("type", [])),
        )
    return out


def _add_own_search_parameter(
    sp: dict[str, Any], search_params: dict[str, dict[str, dict[str, Any]]]
) -> None:
    """One of ours (profiles/), beside the core's; it may not shadow a core parameter."""
    for base in sp.get("base", []):
        inherited = ("Resource", "DomainResource", base)
        if any(sp["code"] in search_params.get(kind, {}) for kind in inherited):
            raise ValueError(f"SearchParameter {sp['url']}: {base} already has '{sp['code']}'")
        search_params.setdefault(base, {})[sp["code"]] = sp


@cache
def load_definitions(package: Path = CORE_PACKAGE) -> Definitions:
    """The definitions of a package; read once per process (they never change)."""
    raw_by_url: dict[str, bytes] = {}
    raw_by_key: dict[tuple[str, str], bytes] = {}
    index: list[dict[str, Any]] = []
    with tarfile.open(package, "r:gz") as tar:
        members = {m.name: m for m in tar.getmembers() if m.isfile()}
        index_member = tar.extractfile(members["package/.index.json"])
        assert index_member is not None
        index = orjson.loads(index_member.read())["files"]
        wanted = {"package/" + f["filename"]: f for f in index if f["resourceType"] in _KEPT}
        for name, member in members.items():
            entry = wanted.get(name)
            if entry is None:
                continue
            handle = tar.extractfile(member)
            assert handle is not None
            raw = handle.read()
            raw_by_key[(entry["resourceType"], entry["id"])] = raw
            if entry.get("url"):
                raw_by_url[entry["url"]] = raw

    resource_types: set[str] = set()
    elements: dict[str, dict[str, ElementInfo]] = {}
    search_params: dict[str, dict[str, dict[str, Any]]] = {}
    compartments: dict[str, dict[str, Any]] = {}
    for entry in index:
        kind = entry["resourceType"]
        if kind == "StructureDefinition" and entry.get("kind") == "resource":
            sd = _parse(raw_by_key[(kind, entry["id"])])
            if sd.get("derivation") != "specialization":
                continue
            elements[sd["type"]] = _top_elements(sd)
            if not sd.get("abstract", False):
                resource_types.add(sd["type"])
        elif kind == "SearchParameter":
            if entry["id"].startswith("example"):
                # examples of how to write a SearchParameter, not parameters of R4: one of
                # them would replace Condition's `subject` (targets Organization only)
                continue
            sp = _parse(raw_by_key[(kind, entry["id"])])
            for base in sp.get("base", []):
                search_params.setdefault(base, {})[sp["code"]] = sp
        elif kind == "CompartmentDefinition":
            cd = _parse(raw_by_key[(kind, entry["id"])])
            compartments[cd["code"]] = cd
    for sp in content.search_parameters():
        _add_own_search_parameter(sp, search_params)
        raw = orjson.dumps(sp)
        raw_by_key[("SearchParameter", sp["id"])] = raw
        raw_by_url[sp["url"]] = raw
    return Definitions(
        resource_types=frozenset(resource_types),
        elements=elements,
        search_params=search_params,
        compartments=compartments,
        _raw_by_url=raw_by_url,
        _raw_by_key=raw_by_key,
    )
