"""Reading conformance resources from folders: the project's own `profiles/` and
`terminology/` (found by fhir_server/definitions/content.py, in a checkout or a wheel) and
the folders Settings name.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from fhir_server.definitions.content import FOLDERS, content_root

log = logging.getLogger(__name__)

# what the registry keeps; examples and other instances in the same folders are not definitions
CONFORMANCE_TYPES = frozenset(
    {
        "StructureDefinition",
        "ValueSet",
        "CodeSystem",
        "ConceptMap",
        "SearchParameter",
        "OperationDefinition",
        "SubscriptionTopic",
        "CompartmentDefinition",
        "NamingSystem",
    }
)


def project_folders() -> list[Path]:
    """The `profiles/` and `terminology/` folders of this installation ([] without them)."""
    try:
        root = content_root()
    except FileNotFoundError:
        return []
    return [root / name for name in FOLDERS]


def read_folders(folders: Iterable[Path]) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every conformance resource in the JSON files under the folders (recursively).

    A file that does not parse is logged and skipped: one broken file must not stop the
    server from starting with the rest."""
    for folder in folders:
        for path in sorted(folder.rglob("*.json")):
            try:
                resource = orjson.loads(path.read_bytes())
            except (OSError, orjson.JSONDecodeError) as exc:
                log.warning("skipping %s: %s", path, exc)
                continue
            if isinstance(resource, dict) and resource.get("resourceType") in CONFORMANCE_TYPES:
                yield path, resource
