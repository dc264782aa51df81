"""Where the project's own conformance resources are: `profiles/` and `terminology/`.

From a checkout (or an editable install) they sit beside the `fhir_server` package; a built
wheel carries them as `fhir_server/content/`, looked at first (the profiles work ships them
so, see fhir_server/definitions/content.py when merged). Settings may name more folders.
"""

from __future__ import annotations

import logging
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
    package = Path(__file__).resolve().parents[1] / "content"
    checkout = Path(__file__).resolve().parents[2]
    for root in (package, checkout):
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
