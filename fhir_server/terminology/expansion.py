"""ValueSet expansion from `compose` over local CodeSystems.

An expansion is possible when every include can be enumerated here: listed concepts, a
whole local CodeSystem whose content is complete, the filters below on one, or other
ValueSets that expand. Otherwise (SNOMED CT, LOINC, UCUM, BCP-47, unknown systems) the
answer is "cannot expand" with the reason, and a binding to it is not checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fhir_server.terminology.codesystems import CodeSystemIndex


@dataclass(frozen=True, slots=True)
class Entry:
    system: str
    version: str | None
    code: str
    display: str | None


@dataclass(slots=True)
class Expansion:
    url: str
    version: str | None
    entries: list[Entry]
    members: frozenset[tuple[str, str]]
    codes: frozenset[str]

    def contains(self, system: str | None, code: str) -> bool:
        if system is None:
            return code in self.codes
        return (system, code) in self.members


class CannotExpand(Exception):
    """The ValueSet cannot be enumerated from local content; the message says why."""


CodeSystems = Callable[[str], CodeSystemIndex | None]
ValueSets = Callable[[str], Expansion]


def expand(vs: dict[str, Any], code_systems: CodeSystems, value_sets: ValueSets) -> Expansion:
    compose = vs.get("compose")
    if not compose:
        contains = vs.get("expansion", {}).get("contains")
        if contains:
            return _build(vs, list(_from_contains(contains)))
        raise CannotExpand(f"ValueSet {vs.get('url')} has neither compose nor expansion")
    included: dict[tuple[str, str], Entry] = {}
    for include in compose.get("include", []):
        for entry in _part(include, code_systems, value_sets):
            included.setdefault((entry.system, entry.code), entry)
    for exclude in compose.get("exclude", []):
        for entry in _part(exclude, code_systems, value_sets):
            included.pop((entry.system, entry.code), None)
    return _build(vs, list(included.values()))


def _build(vs: dict[str, Any], entries: list[Entry]) -> Expansion:
    return Expansion(
        vs.get("url", ""),
        vs.get("version"),
        entries,
        frozenset((e.system, e.code) for e in entries),
        frozenset(e.code for e in entries),
    )


def _from_contains(contains: list[dict[str, Any]]) -> list[Entry]:
    out = []
    for item in contains:
        if "code" in item and "system" in item:
            out.append(
                Entry(item["system"], item.get("version"), item["code"], item.get("display"))
            )
        out.extend(_from_contains(item.get("contains", [])))
    return out


def _part(include: dict[str, Any], code_systems: CodeSystems, value_sets: ValueSets) -> list[Entry]:
    system = include.get("system")
    imported = [value_sets(url) for url in include.get("valueSet", [])]
    entries: list[Entry] | None = None
    if system:
        version = include.get("version")
        listed = include.get("concept")
        cs = code_systems(system)
        if listed:
            entries = []
            for concept in listed:
                found = cs.find(concept["code"]) if cs else None
                display = concept.get("display") or (found.display if found else None)
                entries.append(Entry(system, version, concept["code"], display))
        else:
            if cs is None:
                raise CannotExpand(f"code system {system} is not available here")
            if not cs.complete:
                raise CannotExpand(f"code system {system} is not complete here")
            codes = set(cs.concepts)
            for rule in include.get("filter", []):
                codes &= _filter(cs, rule)
            entries = [
                Entry(system, version or cs.version, c, cs.concepts[c].display) for c in codes
            ]
            entries.sort(key=lambda e: e.code)
    for expansion in imported:
        if entries is None:
            entries = list(expansion.entries)
        else:
            entries = [e for e in entries if (e.system, e.code) in expansion.members]
    return entries or []


def _filter(cs: CodeSystemIndex, rule: dict[str, Any]) -> set[str]:
    prop, op, value = rule.get("property"), rule.get("op"), str(rule.get("value", ""))
    if op == "is-a" and prop == "concept":
        return {value} | cs.descendants(value) if value in cs.concepts else set()
    if op == "descendent-of" and prop == "concept":
        return cs.descendants(value)
    if op == "is-not-a" and prop == "concept":
        return set(cs.concepts) - ({value} | cs.descendants(value))
    if op == "in" and prop == "concept":
        return {c for c in value.split(",") if c in cs.concepts}
    if op == "regex" and prop in ("concept", "code"):
        pattern = re.compile(value)
        return {c for c in cs.concepts if pattern.fullmatch(c)}
    if op == "=":
        return {
            code
            for code, concept in cs.concepts.items()
            if any(str(v) == value for v in concept.property_values(str(prop)))
        }
    if op == "exists":
        wanted = value == "true"
        return {
            code
            for code, concept in cs.concepts.items()
            if bool(concept.property_values(str(prop))) == wanted
        }
    raise CannotExpand(f"filter {prop} {op} {value} is not supported")
