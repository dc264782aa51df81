"""The profile validator: an instance against a StructureDefinition from the registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fhir_server.conformance import ConformanceRegistry, load_registry
from fhir_server.conformance.snapshot import CORE_PREFIX
from fhir_server.definitions import Definitions
from fhir_server.terminology import Terminology
from fhir_server.validation.profile.elements import ElementTree, build_tree
from fhir_server.validation.profile.invariants import Invariants
from fhir_server.validation.profile.walker import Report, Walk


class ProfileValidator:
    """Element trees are built on first use per StructureDefinition and kept; compiled
    invariants and the terminology's expansions likewise."""

    def __init__(
        self, registry: ConformanceRegistry, terminology: Terminology | None = None
    ) -> None:
        self.registry = registry
        self.terminology = terminology or Terminology(registry)
        self.invariants = Invariants()
        self._trees: dict[str, ElementTree | None] = {}
        self._resource_types = registry.definitions.resource_types

    def is_resource_type(self, code: str) -> bool:
        return code in self._resource_types

    def tree(self, canonical: str) -> ElementTree | None:
        """The element tree of a StructureDefinition: a URL, or a core type's name."""
        if canonical in self._trees:
            return self._trees[canonical]
        url = canonical if ("/" in canonical or ":" in canonical) else CORE_PREFIX + canonical
        sd = self.registry.structure(url)
        tree = build_tree(sd) if sd is not None else None
        self._trees[canonical] = tree
        return tree

    def tree_by_url(self, url: str) -> ElementTree | None:
        """The tree of a definition named by an absolute URL only (extension URLs)."""
        if "/" not in url and ":" not in url:
            return None
        return self.tree(url)

    def type_of_profile(self, canonical: str) -> str | None:
        if canonical.startswith(CORE_PREFIX) and "/" not in canonical[len(CORE_PREFIX) :]:
            name = canonical[len(CORE_PREFIX) :]
            if name in self._resource_types or name == "Resource":
                return name
        sd = self.registry.resolve(canonical, "StructureDefinition")
        return None if sd is None else sd.get("type")

    def validate(self, resource: dict[str, Any], profile: str | None = None) -> Report:
        """Issues of a resource against a profile (default: its resource type's core
        definition). An unknown profile is one error issue."""
        report = Report()
        walk = Walk(self, report)
        rtype = str(resource.get("resourceType"))
        tree = self.tree(profile or rtype)
        if tree is None:
            why = self.registry.problems.get(profile or "", "it is unknown to this server")
            walk.issue(
                "error",
                "not-supported",
                "profile-unknown",
                f"cannot validate against {profile or rtype}: {why}",
                rtype,
            )
            return report
        walk.resource(resource, tree, rtype)
        return report

    def conforms(self, value: Any, profile: str) -> bool:
        """Whether a value (resource or element) conforms to a profile, quietly (slicing
        by profile)."""
        tree = self.tree(profile)
        if tree is None or not isinstance(value, dict):
            return False
        report = Report()
        walk = Walk(self, report)
        if "resourceType" in value:
            walk.resource(value, tree, str(value["resourceType"]))
        else:
            walk.constraints(tree.root.constraints, value, tree.type, tree.type)
            walk.object(tree.root, value, tree.type, tree.type, (tree.type, tree.type))
        return not report.errors


_LOADED: dict[tuple[int, tuple[Path, ...]], ProfileValidator] = {}


def load_profile_validator(
    definitions: Definitions, extra_folders: tuple[Path, ...] = ()
) -> ProfileValidator:
    """One validator per set of folders and process: its registry, trees, expansions and
    compiled invariants are shared by every app (tests start many)."""
    key = (id(definitions), extra_folders)
    if key not in _LOADED:
        _LOADED[key] = ProfileValidator(load_registry(definitions, extra_folders))
    return _LOADED[key]
