"""The type a reference points to, read from its text, for `resolve() is X`.

Search expressions use `resolve()` only to ask what kind of resource a reference targets
(`Observation.subject.where(resolve() is Patient)`). That is known from the reference text
("Patient/1", "http://x/fhir/Patient/1/_history/2"), from a contained resource ("#p1"), or
from `Reference.type`; nothing has to be read from the store.
"""

from __future__ import annotations

from typing import Any

from fhir_server.fhirpath.model import resource_types


def type_in_reference_text(reference: str) -> str | None:
    """The resource type named by a literal reference, or None when it names none."""
    parts = reference.split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    if len(parts) < 2 or not parts[-1]:
        return None
    candidate = parts[-2]
    return candidate if candidate in resource_types() else None


def referenced_type(node: Any, root: dict[str, Any] | None) -> str | None:
    """The type of resource a Reference (or a canonical/uri string) points to."""
    if isinstance(node, str):
        return type_in_reference_text(node)
    if not isinstance(node, dict):
        return None
    reference = node.get("reference")
    if isinstance(reference, str):
        if reference.startswith("#"):
            return _contained_type(root, reference[1:])
        found = type_in_reference_text(reference)
        if found is not None:
            return found
    declared = node.get("type")
    if isinstance(declared, str) and declared:
        # Reference.type is a uri: a bare type name or a StructureDefinition url
        name = declared.rsplit("/", 1)[-1]
        return name if name in resource_types() else None
    return None


def _contained_type(root: dict[str, Any] | None, local_id: str) -> str | None:
    if root is None:
        return None
    if not local_id:  # "#" refers to the containing resource itself
        kind = root.get("resourceType")
        return kind if isinstance(kind, str) else None
    contained = root.get("contained")
    if not isinstance(contained, list):
        return None
    for resource in contained:
        if isinstance(resource, dict) and resource.get("id") == local_id:
            kind = resource.get("resourceType")
            return kind if isinstance(kind, str) else None
    return None
