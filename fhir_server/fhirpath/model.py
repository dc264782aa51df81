"""The FHIR R4 type model the compiled paths need: element types and choice elements.

It is the model fhirpathpy ships for R4 (generated from the R4 StructureDefinitions), so the
compiled paths and the fhirpathpy fallback agree on which elements are choices (`value[x]`,
stored in JSON as `valueQuantity`, `valueString`, ...) and on the type of every element.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fhirpathpy.models import models

R4: dict[str, Any] = models["r4"]

_PATH_TO_TYPE: dict[str, str] = R4["path2Type"]
_CHOICE_TYPES: dict[str, list[str]] = R4["choiceTypePaths"]
_DEFINED_ELSEWHERE: dict[str, str] = R4["pathsDefinedElsewhere"]
_PARENT: dict[str, str] = R4["type2Parent"]

# Types a resource can be tested against without being the resource's own type.
ABSTRACT_RESOURCE_TYPES = frozenset({"Resource", "DomainResource"})
# Resources that are not DomainResources (no text, contained, extension).
_PLAIN_RESOURCES = frozenset({"Bundle", "Binary", "Parameters"})


def is_subtype(type_name: str, super_type: str) -> bool:
    """Whether a FHIR type is `super_type` or derives from it (Age is a Quantity, canonical
    is a uri). Choice suffixes are accepted for primitives: `Canonical` is `canonical`."""
    wanted = {super_type, super_type[:1].lower() + super_type[1:]}
    for start in (type_name, type_name[:1].lower() + type_name[1:]):
        current: str | None = start
        for _ in range(32):
            if current is None:
                break
            if current in wanted:
                return True
            current = _PARENT.get(current)
    return False


@cache
def resource_types() -> frozenset[str]:
    """Every concrete R4 resource type of the model."""
    return frozenset(
        name
        for name in _PARENT
        if name not in ABSTRACT_RESOURCE_TYPES and is_subtype(name, "Resource")
    )


def resource_is(resource_type: str, type_name: str) -> bool:
    """Whether a resource of `resource_type` is a `type_name` (Resource, DomainResource)."""
    if resource_type == type_name or type_name == "Resource":
        return True
    if type_name == "DomainResource":
        return resource_type not in _PLAIN_RESOURCES
    return False


def child(parent: str | None, name: str) -> tuple[str | None, tuple[str, ...] | None]:
    """The type (or backbone path) of element `name` under `parent`, and its choice types.

    For a choice element the second item lists the types its JSON name may end with
    (`("Quantity", "CodeableConcept", ...)` for `Observation.value`); otherwise it is None.
    An unknown parent gives an unknown child (None, None).
    """
    if parent is None:
        return None, None
    path = f"{parent}.{name}"
    path = _DEFINED_ELSEWHERE.get(path, path)
    choices = _CHOICE_TYPES.get(path)
    if choices is not None:
        return path, tuple(choices)
    known = _PATH_TO_TYPE.get(path)
    if known is not None:
        return known, None
    # backbone elements have no entry of their own: their children are listed under the path
    return path, None


def choice_suffix(type_name: str) -> str:
    """The JSON suffix of a type in a choice element name: dateTime → DateTime."""
    return type_name[:1].upper() + type_name[1:]


def plain_type_name(type_spec: str) -> str:
    """A type specifier without its namespace: FHIR.Quantity → Quantity."""
    return type_spec[5:] if type_spec.startswith("FHIR.") else type_spec
