"""Code systems and value sets for the oracle's token :in, :not-in, :above and :below.

Read straight from the R4 core package and the project's terminology/ folder, without the
server's terminology code. Only what is obviously enumerable is modelled: a value set
whose includes list concepts or name a whole code system that is `complete` here, minus
listed excludes; anything else (filters, other value sets, external systems) is
OracleUnsupported. A concept's parents are the concept it is nested in and its `parent` /
`subsumedBy` properties.
"""

from __future__ import annotations

import json
import tarfile
from functools import cache
from pathlib import Path
from typing import Any


class CodeSystem:
    def __init__(self, resource: dict[str, Any]) -> None:
        self.url: str = resource["url"]
        self.complete = resource.get("content") == "complete"
        self.parents: dict[str, set[str]] = {}

        def walk(concepts: list[dict[str, Any]], parent: str | None) -> None:
            for concept in concepts:
                code = concept["code"]
                mine = self.parents.setdefault(code, set())
                if parent is not None:
                    mine.add(parent)
                for prop in concept.get("property") or []:
                    if prop.get("code") in ("parent", "subsumedBy"):
                        mine.add(prop.get("valueCode"))
                walk(concept.get("concept") or [], code)

        walk(resource.get("concept") or [], None)

    def codes(self) -> set[str]:
        return set(self.parents)

    def ancestors(self, code: str) -> set[str]:
        """The code's parents, their parents, ... (not the code itself)."""
        found: set[str] = set()
        todo = list(self.parents.get(code, ()))
        while todo:
            parent = todo.pop()
            if parent not in found:
                found.add(parent)
                todo.extend(self.parents.get(parent, ()))
        return found

    def subsumes(self, general: str, specific: str) -> bool:
        """`specific` is `general` or lies below it."""
        return general == specific or general in self.ancestors(specific)

    def hierarchical(self) -> bool:
        return any(self.parents.values())


class Terminology:
    def __init__(self, resources: list[dict[str, Any]]) -> None:
        self.code_systems: dict[str, CodeSystem] = {}
        self.value_sets: dict[str, dict[str, Any]] = {}
        for resource in resources:
            if resource.get("resourceType") == "CodeSystem" and "url" in resource:
                self.code_systems[resource["url"]] = CodeSystem(resource)
            elif resource.get("resourceType") == "ValueSet" and "url" in resource:
                self.value_sets[resource["url"]] = resource

    def members(self, url: str) -> set[tuple[str, str]] | None:
        """The (system, code) pairs of a value set, or None when not modelled here."""
        vs = self.value_sets.get(url)
        compose = vs.get("compose") if vs else None
        if not compose:
            return None
        found: set[tuple[str, str]] = set()
        for include in compose.get("include") or []:
            part = self._part(include)
            if part is None:
                return None
            found |= part
        for exclude in compose.get("exclude") or []:
            part = self._part(exclude)
            if part is None:
                return None
            found -= part
        return found

    def _part(self, include: dict[str, Any]) -> set[tuple[str, str]] | None:
        system = include.get("system")
        if not system or include.get("filter") or include.get("valueSet"):
            return None
        if include.get("concept"):
            return {(system, c["code"]) for c in include["concept"]}
        known = self.code_systems.get(system)
        if known is None or not known.complete:
            return None
        return {(system, code) for code in known.codes()}

    def value_sets_with(self, system: str) -> list[str]:
        """Value sets modelled here that hold codes of `system` (in URL order)."""
        return sorted(
            url
            for url in self.value_sets
            if (members := self._members_cached(url)) and any(s == system for s, _ in members)
        )

    def _members_cached(self, url: str) -> frozenset[tuple[str, str]] | None:
        if url not in _MEMBERS:
            found = self.members(url)
            _MEMBERS[url] = None if found is None else frozenset(found)
        return _MEMBERS[url]


_MEMBERS: dict[str, frozenset[tuple[str, str]] | None] = {}


@cache
def load_terminology(archive: Path, folder: Path) -> Terminology:
    resources: list[dict[str, Any]] = []
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            name = member.name
            if name.startswith(("package/CodeSystem-", "package/ValueSet-")) and name.endswith(
                ".json"
            ):
                handle = tar.extractfile(member)
                assert handle is not None
                resources.append(json.load(handle))
    for path in sorted(folder.glob("*.json")):
        resources.append(json.loads(path.read_text()))  # ours win over the core's
    return Terminology(resources)
