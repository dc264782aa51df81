"""Reference targets: a literal reference's resource type must be one of the element's
targetProfile types (checked when the type can be read from the reference itself)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fhir_server.fhirpath.references import referenced_type
from fhir_server.validation.profile.elements import TypeRef

if TYPE_CHECKING:
    from fhir_server.validation.profile.walker import Walk


def check_reference(walk: Walk, type_ref: TypeRef, value: dict[str, Any], expr: str) -> None:
    if not type_ref.target_profiles or not isinstance(value.get("reference"), str):
        return
    kind = None
    # "#id" names a resource contained in the innermost resource that holds one
    for holder in reversed(walk.resources):
        kind = referenced_type(value, holder)
        if kind is not None:
            break
    if kind is None:
        return
    allowed = {walk.validator.type_of_profile(p) for p in type_ref.target_profiles}
    if kind in allowed or "Resource" in allowed or None in allowed:
        return
    names = ", ".join(sorted(a for a in allowed if a))
    walk.issue(
        "error",
        "structure",
        "reference-target",
        f"the reference to a {kind} is not allowed here; it must be to: {names}",
        f"{expr}.reference",
    )
