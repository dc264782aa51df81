"""Values of FHIRPath Patch operations: a `value[x]`, a `resource`, or nested parts."""

from __future__ import annotations

import copy
from typing import Any

from fhir_server.patch.errors import PatchError
from fhir_server.patch.model import (
    QUANTITY_TYPES,
    Context,
    ElementDef,
    FhirModel,
    is_primitive,
    json_kind,
    type_from_suffix,
    type_suffix,
)
from fhir_server.patch.tree import PatchValue, append_item, set_single


def value_keys(part: dict[str, Any]) -> list[str]:
    """The value[x] properties of a part, e.g. ['valueCoding'] (sidecars give their name)."""
    found: list[str] = []
    for key in part:
        plain = key[1:] if key.startswith("_") else key
        if plain.startswith("value") and plain[5:6].isupper() and plain not in found:
            found.append(plain)
    return found


def has_value(part: dict[str, Any]) -> bool:
    return bool(value_keys(part)) or "resource" in part or "part" in part


def build_value(part: dict[str, Any], model: FhirModel, context: Context | None) -> PatchValue:
    """The value a part carries; nested parts build an object of the element at `context`."""
    keys = value_keys(part)
    if len(keys) > 1:
        raise PatchError(f"the part '{part.get('name')}' has more than one value[x]")
    if keys:
        key = keys[0]
        sidecar = part.get("_" + key)
        if sidecar is not None and not isinstance(sidecar, dict):
            raise PatchError(f"'_{key}' must be an object")
        type_code = type_from_suffix(key[5:])
        value = part.get(key)
        if is_primitive(type_code) == isinstance(value, dict) or isinstance(value, list):
            raise PatchError(f"the value of '{key}' does not have the JSON form of a {type_code}")
        return PatchValue(copy.deepcopy(value), copy.deepcopy(sidecar), type_code)
    if "resource" in part:
        resource = part["resource"]
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise PatchError("a 'resource' value must be a resource with a resourceType")
        return PatchValue(copy.deepcopy(resource), None, "Resource")
    parts = part.get("part")
    if isinstance(parts, list) and parts:
        return PatchValue(object_from_parts(parts, model, context), None, None)
    raise PatchError("the operation has no value (value[x], resource or parts)")


def object_from_parts(
    parts: list[Any], model: FhirModel, context: Context | None
) -> dict[str, Any]:
    """Build a complex value (e.g. an anonymous BackboneElement) from name/value parts."""
    built: dict[str, Any] = {}
    for sub in parts:
        if not isinstance(sub, dict) or not isinstance(sub.get("name"), str):
            raise PatchError("every nested part needs a name")
        name: str = sub["name"]
        element, named_type = element_named(model, context, name)
        child_context = (
            model.child_context(element, named_type)
            if element is not None and "part" in sub and not value_keys(sub)
            else None
        )
        item = build_value(sub, model, child_context)
        if element is None:
            key = name
            repeating = key in built
        else:
            check_fits(element, item, named_type)
            key = property_name(element, name, named_type, item)
            repeating = element.repeating
        if repeating:
            append_item(built, key, item)
        elif key in built or "_" + key in built:
            raise PatchError(f"the element '{name}' does not repeat but is given more than once")
        else:
            set_single(built, key, item)
    return built


def element_named(
    model: FhirModel, context: Context | None, name: str
) -> tuple[ElementDef | None, str | None]:
    """The element `name` refers to in `context` (also a typed choice name, 'valueString')."""
    if context is None or not model.knows_type(context[0]):
        return None, None
    element = model.element(context, name)
    if element is not None:
        return element, None
    resolved = model.resolve_key(context, name)
    if resolved is None:
        raise PatchError(f"'{name}' is not an element of {context[1]}")
    return resolved


def property_name(element: ElementDef, name: str, named_type: str | None, item: PatchValue) -> str:
    """The JSON property for a value of `element`: a choice takes the value's type suffix."""
    if not element.choice:
        return name
    if named_type is not None:
        return name
    if item.type_code is None:
        raise PatchError(f"'{element.path}' is a choice element and needs a typed value[x]")
    return element.name + type_suffix(item.type_code)


def check_fits(element: ElementDef, item: PatchValue, named_type: str | None = None) -> None:
    """Error if the value cannot be a value of `element` (JSON kind and type)."""
    types = (named_type,) if named_type is not None else element.types
    code = item.type_code
    if not types:  # content references: a backbone element
        if code is not None and is_primitive(code):
            raise PatchError(f"'{element.path}' needs a complex value, not a {code}")
        return
    if code is None:
        if element.primitive:
            raise PatchError(f"'{element.path}' is a primitive; a value[x] is needed, not parts")
        return
    if code == "Resource":
        if not any(t in ("Resource", "DomainResource") for t in types):
            raise PatchError(f"'{element.path}' cannot hold a resource")
        return
    if element.choice and named_type is None:
        if code not in types:
            raise PatchError(f"'{element.path}' cannot be of type {code}")
        return
    if is_primitive(code):
        kinds = {json_kind(t) for t in types if is_primitive(t)}
        if json_kind(code) not in kinds:
            raise PatchError(f"a {code} value does not fit '{element.path}' ({'|'.join(types)})")
        return
    if code in types or (code in QUANTITY_TYPES and any(t in QUANTITY_TYPES for t in types)):
        return
    raise PatchError(f"a {code} value does not fit '{element.path}' ({'|'.join(types)})")
