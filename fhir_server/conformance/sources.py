"""Where the project's own conformance resources are: `profiles/` and `terminology/`.

From a checkout they sit beside the `fhir_server` package; an installed wheel carries them
under `<prefix>/share/fhir-server/` (pyproject's data-files). Settings may name more folders.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger(__name__)

FOLDERS = ("profiles", "terminology")
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
    """The `profiles/` and `terminology/` folders of this installation (those that exist)."""
    checkout = Path(__file__).resolve().parents[2]
    installed = Path(sys.prefix) / "share" / "fhir-server"
    for root in (checkout, installed):
        found = [root / name for name in FOLDERS if (root / name).is_dir()]
        if found:
            return found
    return []


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
