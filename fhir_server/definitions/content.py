"""Our own data folders: the conformance content in profiles/ and terminology/ (JSON, one
resource a file) and the declarative conversions in mappings/.

The folders are data at the repository root (DESIGN.md). In a checkout or an editable
install they are read there; a built wheel carries them as `fhir_server/content/` (setup.py
copies them), which is looked at first. `fsh/` (the FSH source) and `tools/` (generators)
hold no content.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import orjson

# The canonical base of every profile, extension, code system, value set, search parameter
# and subscription topic of ours; profiles/fsh/sushi-config.yaml declares the same.
CANONICAL_BASE = "https://lus.example.se/fhir"

PACKAGE_CONTENT = Path(__file__).resolve().parents[1] / "content"
CHECKOUT_ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("profiles", "terminology")  # conformance resources
DATA_FOLDERS = (*FOLDERS, "mappings")  # everything setup.py ships
_NOT_CONTENT = frozenset({"fsh", "tools"})
EXAMPLES = "examples"

# what is a definition (loaded by canonical URL) rather than an instance
CONFORMANCE_TYPES = frozenset(
    {
        "StructureDefinition",
        "SearchParameter",
        "CodeSystem",
        "ValueSet",
        "ConceptMap",
        "Measure",
        "OperationDefinition",
    }
)
TOPIC_CODE_SYSTEM = "http://hl7.org/fhir/fhir-types"
TOPIC_URL_EXTENSION = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.url"


def content_root() -> Path:
    """The folder holding profiles/, terminology/ and mappings/."""
    for root in (PACKAGE_CONTENT, CHECKOUT_ROOT):
        if all((root / folder).is_dir() for folder in DATA_FOLDERS):
            return root
    names = ", ".join(f"{folder}/" for folder in DATA_FOLDERS)
    raise FileNotFoundError(f"{names} are neither in {PACKAGE_CONTENT} nor in {CHECKOUT_ROOT}")


def mapping_file(name: str) -> Path:
    """A declarative mapping of mappings/ (e.g. "hl7v2-adt.toml")."""
    return content_root() / "mappings" / name


def content_files(root: Path | None = None) -> Iterator[Path]:
    """Every JSON file of content, examples included, in a stable order."""
    base = root or content_root()
    for folder in FOLDERS:
        for path in sorted((base / folder).rglob("*.json")):
            if not _NOT_CONTENT.intersection(path.relative_to(base).parts):
                yield path


def is_example(path: Path, root: Path | None = None) -> bool:
    return EXAMPLES in path.relative_to(root or content_root()).parts


def is_subscription_topic(resource: dict[str, Any]) -> bool:
    """A SubscriptionTopic in the Backport IG's R4 form: a Basic coded SubscriptionTopic."""
    if resource.get("resourceType") != "Basic":
        return False
    codings = resource.get("code", {}).get("coding", [])
    return any(
        c.get("system") == TOPIC_CODE_SYSTEM and c.get("code") == "SubscriptionTopic"
        for c in codings
    )


def canonical_url(resource: dict[str, Any]) -> str | None:
    """`url`, or for a SubscriptionTopic as Basic the url extension."""
    if is_subscription_topic(resource):
        for extension in resource.get("extension", []):
            if extension.get("url") == TOPIC_URL_EXTENSION:
                value = extension.get("valueUri")
                return value if isinstance(value, str) else None
        return None
    url = resource.get("url")
    return url if isinstance(url, str) else None


@cache
def conformance_raw() -> tuple[tuple[str, bytes], ...]:
    """(resourceType, JSON) of every definition of ours: not the examples. Read once."""
    root = content_root()
    found: list[tuple[str, bytes]] = []
    for path in content_files(root):
        if is_example(path, root):
            continue
        raw = path.read_bytes()
        resource = orjson.loads(raw)
        kind = resource.get("resourceType")
        if kind in CONFORMANCE_TYPES or is_subscription_topic(resource):
            found.append((kind, raw))
    return tuple(found)


def search_parameters() -> list[dict[str, Any]]:
    """Our SearchParameters, indexed and searched like the core's."""
    return [orjson.loads(raw) for kind, raw in conformance_raw() if kind == "SearchParameter"]
