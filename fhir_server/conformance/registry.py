"""Resolve canonical URLs (`url` or `url|version`) to conformance resources.

Local resources (HL7 Sweden's and ours) are parsed once at start and kept; the core
package's stay as bytes in fhir_server.definitions and are parsed on first use. A local
resource with the same URL as a core one wins. Generated snapshots are kept per URL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from fhir_server.conformance.snapshot import SnapshotError, generate_snapshot
from fhir_server.conformance.sources import project_folders, read_folders
from fhir_server.definitions import Definitions

log = logging.getLogger(__name__)


class ConformanceRegistry:
    def __init__(self, definitions: Definitions, local: Iterable[dict[str, Any]] = ()) -> None:
        self.definitions = definitions
        # url → version ("" when none) → resource; the last added version is the default
        self._local: dict[str, dict[str, dict[str, Any]]] = {}
        self._structures: dict[str, dict[str, Any] | None] = {}
        self._generating: set[str] = set()
        # problems met while generating snapshots, by profile URL
        self.problems: dict[str, str] = {}
        for resource in local:
            self.add(resource)

    def add(self, resource: dict[str, Any]) -> None:
        url = resource.get("url")
        if not isinstance(url, str):
            return
        versions = self._local.setdefault(url, {})
        version = str(resource.get("version", ""))
        versions.pop(version, None)  # re-adding moves it last: it becomes the default
        versions[version] = resource
        self._structures.pop(url, None)

    def resolve(self, canonical: str, resource_type: str | None = None) -> dict[str, Any] | None:
        """The resource a canonical names (the newest one added when no version is given)."""
        url, _, version = canonical.partition("|")
        found: dict[str, Any] | None = None
        local = self._local.get(url)
        if local:
            found = local.get(version) if version else next(reversed(local.values()))
        if found is None:
            core = self.definitions.resource_by_url(url)
            if core is not None and (not version or core.get("version") == version):
                found = core
        if found is not None and resource_type and found.get("resourceType") != resource_type:
            return None
        return found

    def local_resources(self, resource_type: str | None = None) -> Iterator[dict[str, Any]]:
        for versions in self._local.values():
            for resource in versions.values():
                if resource_type is None or resource.get("resourceType") == resource_type:
                    yield resource

    def core_resources(self, resource_type: str) -> Iterator[dict[str, Any]]:
        for kind, rid in self.definitions.conformance_keys():
            if kind == resource_type:
                resource = self.definitions.resource(kind, rid)
                if resource is not None:
                    yield resource

    def structure(self, canonical: str) -> dict[str, Any] | None:
        """A StructureDefinition with its snapshot (generated when it has none), or None
        when the URL is unknown or its snapshot cannot be generated (see `problems`)."""
        if canonical in self._structures:
            return self._structures[canonical]
        sd = self.resolve(canonical, "StructureDefinition")
        if sd is not None and not sd.get("snapshot", {}).get("element"):
            sd = self._with_snapshot(canonical, sd)
        self._structures[canonical] = sd
        return sd

    def _with_snapshot(self, canonical: str, sd: dict[str, Any]) -> dict[str, Any] | None:
        if canonical in self._generating:
            self.problems[canonical] = "its base definitions form a cycle"
            return None
        self._generating.add(canonical)
        try:
            elements = generate_snapshot(sd, self.structure)
        except SnapshotError as exc:
            log.warning("no snapshot for %s: %s", canonical, exc)
            self.problems[canonical] = str(exc)
            return None
        finally:
            self._generating.discard(canonical)
        return {**sd, "snapshot": {"element": elements}}


def load_registry(
    definitions: Definitions, extra_folders: Iterable[Path] = ()
) -> ConformanceRegistry:
    """The registry of this installation: core, then `profiles/` and `terminology/`
    (HL7 Sweden's under profiles/hl7se first, so that ours come after), then extra folders."""
    folders = [*project_folders(), *extra_folders]
    return ConformanceRegistry(definitions, (resource for _, resource in read_folders(folders)))
