"""Required and extensible bindings, against ValueSets expanded from local CodeSystems.

A required binding not met is an error; an extensible one a warning (R4: another code may
be used when none of the set fits). A ValueSet that cannot be expanded here (SNOMED CT,
LOINC, BCP-47, ...) leaves the binding unchecked, counted in the report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fhir_server.terminology.expansion import CannotExpand
from fhir_server.validation.profile.elements import ElementDef

if TYPE_CHECKING:
    from fhir_server.validation.profile.walker import Walk

_CODE_TYPES = frozenset({"code", "string", "uri", "canonical"})


def codes_of(code_type: str, value: Any) -> list[tuple[str | None, str]]:
    """(system, code) pairs a value carries; a bare code has no system."""
    if code_type in _CODE_TYPES:
        return [(None, value)] if isinstance(value, str) else []
    if not isinstance(value, dict):
        return []
    if code_type in ("Coding", "Quantity"):
        code = value.get("code")
        return [(value.get("system"), code)] if isinstance(code, str) else []
    if code_type == "CodeableConcept":
        return [
            (coding.get("system"), coding["code"])
            for coding in value.get("coding", [])
            if isinstance(coding, dict) and isinstance(coding.get("code"), str)
        ]
    return []


def check_binding(walk: Walk, el: ElementDef, code_type: str, value: Any, expr: str) -> None:
    assert el.binding is not None
    strength, canonical = el.binding
    if strength not in ("required", "extensible"):
        return
    codes = codes_of(code_type, value)
    if not codes:
        return
    try:
        expansion = walk.validator.terminology.expansion(canonical)
    except CannotExpand:
        walk.report.bindings_unchecked += 1
        return
    if any(expansion.contains(system, code) for system, code in codes):
        return
    shown = ", ".join(f"{s}#{c}" if s else f"'{c}'" for s, c in codes)
    if strength == "required":
        walk.issue(
            "error",
            "code-invalid",
            "binding-required",
            f"{shown} is not in the value set {canonical} required for {el.path}",
            expr,
        )
    else:
        walk.issue(
            "warning",
            "code-invalid",
            "binding-extensible",
            f"{shown} is not in the value set {canonical} (extensible) of {el.path}",
            expr,
        )
