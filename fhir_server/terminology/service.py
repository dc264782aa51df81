"""The terminology service: CodeSystem indexes and ValueSet expansions, built on first use
from the conformance registry and kept (they never change while the server runs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fhir_server.conformance import ConformanceRegistry
from fhir_server.terminology.codesystems import CodeSystemIndex, Concept, index_code_system
from fhir_server.terminology.expansion import CannotExpand, Expansion, expand


@dataclass(frozen=True, slots=True)
class CodeCheck:
    """The answer of $validate-code: whether the code is valid, and why not."""

    result: bool
    message: str
    display: str | None = None


class Terminology:
    def __init__(self, registry: ConformanceRegistry) -> None:
        self.registry = registry
        self._systems: dict[str, CodeSystemIndex | None] = {}
        self._expansions: dict[str, Expansion | CannotExpand] = {}

    def code_system(self, canonical: str) -> CodeSystemIndex | None:
        if canonical not in self._systems:
            resource = self.registry.resolve(canonical, "CodeSystem")
            self._systems[canonical] = None if resource is None else index_code_system(resource)
        return self._systems[canonical]

    def expansion(self, canonical: str) -> Expansion:
        """The ValueSet's expansion; raises CannotExpand (unknown, external, a cycle)."""
        known = self._expansions.get(canonical)
        if known is None:
            self._expansions[canonical] = CannotExpand(f"ValueSet {canonical} includes itself")
            vs = self.registry.resolve(canonical, "ValueSet")
            try:
                if vs is None:
                    raise CannotExpand(f"ValueSet {canonical} is unknown")
                known = expand(vs, self.code_system, self.expansion)
            except CannotExpand as exc:
                known = exc
            self._expansions[canonical] = known
        if isinstance(known, CannotExpand):
            raise known
        return known

    def lookup(self, system: str, code: str, version: str | None = None) -> Concept | None:
        canonical = f"{system}|{version}" if version else system
        cs = self.code_system(canonical)
        return None if cs is None else cs.find(code)

    def check_in_value_set(
        self, canonical: str, system: str | None, code: str, display: str | None = None
    ) -> CodeCheck:
        """Raises CannotExpand when membership cannot be decided here."""
        expansion = self.expansion(canonical)
        if not expansion.contains(system, code):
            where = f"{system}#{code}" if system else f"'{code}'"
            return CodeCheck(False, f"{where} is not in the value set {canonical}")
        return self._display_check(system, code, display, expansion)

    def check_in_code_system(
        self, system: str, code: str, display: str | None = None, version: str | None = None
    ) -> CodeCheck:
        canonical = f"{system}|{version}" if version else system
        cs = self.code_system(canonical)
        if cs is None:
            return CodeCheck(False, f"The code system {canonical} is unknown to this server")
        concept = cs.find(code)
        if concept is None:
            if not cs.complete:
                raise CannotExpand(f"code system {system} is not complete here")
            return CodeCheck(False, f"'{code}' is not a code of {system}")
        return self._display_check(system, code, display, None, concept)

    def _display_check(
        self,
        system: str | None,
        code: str,
        display: str | None,
        expansion: Expansion | None,
        concept: Concept | None = None,
    ) -> CodeCheck:
        if concept is None and system is not None:
            concept = self.lookup(system, code)
        known = concept.display if concept else None
        if known is None and expansion is not None:
            known = next((e.display for e in expansion.entries if e.code == code), None)
        if display and known and display != known and not _designated(concept, display):
            return CodeCheck(False, f"The display of {code} is '{known}', not '{display}'", known)
        return CodeCheck(True, "valid", known)

    def concept_maps(self) -> list[dict[str, Any]]:
        return [
            *self.registry.local_resources("ConceptMap"),
            *self.registry.core_resources("ConceptMap"),
        ]


def _designated(concept: Concept | None, display: str) -> bool:
    return concept is not None and any(d.get("value") == display for d in concept.designations)
