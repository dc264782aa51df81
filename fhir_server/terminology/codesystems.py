"""A CodeSystem as an index: code → concept, with its place in the hierarchy."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

# properties that name a concept's parent (codesystem.html#defined-props, v3 and v2 habits)
_PARENT_PROPERTIES = frozenset({"parent", "subsumedBy"})
_CHILD_PROPERTIES = frozenset({"child"})


@dataclass(slots=True)
class Concept:
    code: str
    display: str | None
    definition: str | None
    properties: list[dict[str, Any]]
    designations: list[dict[str, Any]]
    parents: set[str] = field(default_factory=set)
    children: set[str] = field(default_factory=set)

    def property_values(self, name: str) -> list[Any]:
        out: list[Any] = []
        for prop in self.properties:
            if prop.get("code") == name:
                out.extend(v for k, v in prop.items() if k.startswith("value"))
        return out


@dataclass(slots=True)
class CodeSystemIndex:
    url: str
    version: str | None
    name: str | None
    # every concept is known: "complete" (a fragment or example can only confirm codes)
    complete: bool
    case_sensitive: bool
    concepts: dict[str, Concept]

    def find(self, code: str) -> Concept | None:
        found = self.concepts.get(code)
        if found is None and not self.case_sensitive:
            lowered = code.lower()
            found = next((c for k, c in self.concepts.items() if k.lower() == lowered), None)
        return found

    def descendants(self, code: str) -> set[str]:
        out: set[str] = set()
        stack = [code]
        while stack:
            concept = self.concepts.get(stack.pop())
            if concept is None:
                continue
            for child in concept.children:
                if child not in out:
                    out.add(child)
                    stack.append(child)
        return out

    def ancestors(self, code: str) -> set[str]:
        """The codes that subsume `code` (its parents, theirs, ...)."""
        out: set[str] = set()
        stack = [code]
        while stack:
            concept = self.concepts.get(stack.pop())
            if concept is None:
                continue
            for parent in concept.parents:
                if parent not in out:
                    out.add(parent)
                    stack.append(parent)
        return out


def index_code_system(resource: dict[str, Any]) -> CodeSystemIndex:
    concepts: dict[str, Concept] = {}
    for concept, parent in _walk(resource.get("concept", []), None):
        code = concept.get("code")
        if not isinstance(code, str):
            continue
        entry = Concept(
            code,
            concept.get("display"),
            concept.get("definition"),
            concept.get("property", []),
            concept.get("designation", []),
        )
        if parent is not None:
            entry.parents.add(parent)
        concepts[code] = entry
    for entry in concepts.values():
        for name in _PARENT_PROPERTIES:
            entry.parents.update(v for v in entry.property_values(name) if isinstance(v, str))
        for name in _CHILD_PROPERTIES:
            entry.children.update(v for v in entry.property_values(name) if isinstance(v, str))
    for entry in concepts.values():
        for parent_code in entry.parents:
            parent_entry = concepts.get(parent_code)
            if parent_entry is not None:
                parent_entry.children.add(entry.code)
    return CodeSystemIndex(
        url=resource.get("url", ""),
        version=resource.get("version"),
        name=resource.get("name"),
        complete=resource.get("content") == "complete",
        case_sensitive=bool(resource.get("caseSensitive", True)),
        concepts=concepts,
    )


def _walk(
    concepts: list[dict[str, Any]], parent: str | None
) -> Iterator[tuple[dict[str, Any], str | None]]:
    for concept in concepts:
        yield concept, parent
        yield from _walk(concept.get("concept", []), concept.get("code"))
