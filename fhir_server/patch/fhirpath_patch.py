"""FHIRPath Patch (FHIR R4, https://hl7.org/fhir/R4/fhirpatch.html).

A `Parameters` resource whose `operation` parameters are applied in order to a deep copy
of the resource; the first failing operation raises `PatchError` and nothing is applied.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fhir_server.definitions import Definitions
from fhir_server.patch.errors import MalformedPatchError, PatchError
from fhir_server.patch.locate import (
    Location,
    holder,
    locate,
    read_slot,
    split_last_member,
)
from fhir_server.patch.model import Context, ElementDef, FhirModel, model_for
from fhir_server.patch.tree import (
    PatchValue,
    append_item,
    insert_item,
    move_item,
    remove_item,
    remove_sidecar,
    set_item,
    set_single,
)
from fhir_server.patch.values import (
    build_value,
    check_fits,
    element_named,
    has_value,
    property_name,
)

_PARTS: dict[str, tuple[str, ...]] = {
    "add": ("path", "name", "value"),
    "insert": ("path", "value", "index"),
    "delete": ("path",),
    "replace": ("path", "value"),
    "move": ("path", "source", "destination"),
}
_KNOWN_PARTS = frozenset({"type", "path", "name", "value", "index", "source", "destination"})


@dataclass(frozen=True, slots=True)
class Operation:
    number: int
    type: str
    path: str
    name: str | None
    value: dict[str, Any] | None  # the whole "value" part
    index: int | None
    source: int | None
    destination: int | None


def apply_fhirpath_patch(
    resource: dict[str, Any],
    parameters: dict[str, Any],
    definitions: Definitions | None = None,
) -> dict[str, Any]:
    """Apply a FHIRPath Patch `Parameters` resource to a copy of `resource`.

    `definitions` (the server's loaded core definitions) decide cardinality and choice
    types; without them the core package is loaded once, lazily.
    """
    operations = parse_operations(parameters)
    model = model_for(definitions)
    result = copy.deepcopy(resource)
    for op in operations:
        try:
            _APPLY[op.type](result, op, model)
        except PatchError as exc:
            raise PatchError(f"operation {op.number} ({op.type} at '{op.path}'): {exc}") from exc
    return result


# ---- parsing the Parameters resource ---------------------------------------------------


def parse_operations(parameters: Any) -> list[Operation]:
    if not isinstance(parameters, dict) or parameters.get("resourceType") != "Parameters":
        raise MalformedPatchError("a FHIRPath Patch must be a Parameters resource")
    entries = parameters.get("parameter", [])
    if not isinstance(entries, list):
        raise MalformedPatchError("Parameters.parameter must be an array")
    return [_parse_operation(number, entry) for number, entry in enumerate(entries, 1)]


def _parse_operation(number: int, entry: Any) -> Operation:
    where = f"operation {number}"
    if not isinstance(entry, dict) or entry.get("name") != "operation":
        raise MalformedPatchError(f"{where}: every parameter must be named 'operation'")
    parts: dict[str, dict[str, Any]] = {}
    for part in entry.get("part", []) if isinstance(entry.get("part"), list) else []:
        name = part.get("name") if isinstance(part, dict) else None
        if name not in _KNOWN_PARTS:
            raise MalformedPatchError(f"{where}: unknown part '{name}'")
        if name in parts:
            raise MalformedPatchError(f"{where}: the part '{name}' is given more than once")
        parts[name] = part
    kind = _scalar(parts.get("type"), str)
    if kind not in _PARTS:
        raise MalformedPatchError(
            f"{where}: 'type' must be one of add | insert | delete | replace | move"
        )
    for needed in _PARTS[kind]:
        if needed not in parts or (needed == "value" and not has_value(parts[needed])):
            raise MalformedPatchError(f"{where} ({kind}): the part '{needed}' is missing")
    path = _scalar(parts.get("path"), str)
    name = _scalar(parts.get("name"), str)
    if not isinstance(path, str) or not path.strip():
        raise MalformedPatchError(f"{where} ({kind}): 'path' must be a string")
    if "name" in _PARTS[kind] and not name:
        raise MalformedPatchError(f"{where} ({kind}): 'name' must be a string")
    numbers: dict[str, int | None] = {}
    for key in ("index", "source", "destination"):
        value = _scalar(parts.get(key), int)
        if key in _PARTS[kind] and (value is None or value < 0):
            raise MalformedPatchError(f"{where} ({kind}): '{key}' must be a non-negative integer")
        numbers[key] = value
    return Operation(
        number=number,
        type=kind,
        path=path,
        name=name,
        value=parts.get("value"),
        index=numbers["index"],
        source=numbers["source"],
        destination=numbers["destination"],
    )


def _scalar(part: dict[str, Any] | None, kind: type) -> Any:
    """The primitive value[x] of a part if it is of the given Python type."""
    if part is None:
        return None
    for key, value in part.items():
        if key.startswith("value") and key[5:6].isupper():
            if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
                return value
            return None
    return None


# ---- operations ---------------------------------------------------------------------------


def _one(root: dict[str, Any], path: str) -> Location:
    found = locate(root, path)
    if len(found) != 1:
        what = "no element" if not found else f"{len(found)} elements"
        raise PatchError(f"the path selects {what}; it must select exactly one")
    return found[0]


def _context(root: dict[str, Any], location: Location, model: FhirModel) -> Context | None:
    """Where the children of the element at `location` are defined (None if unknown)."""
    context = model.resource_context(root)
    current: Any = root
    for key, index in location:
        if context is None:
            return None
        resolved = model.resolve_key(context, key)
        if resolved is None:
            return None
        element, type_code = resolved
        value = current.get(key) if isinstance(current, dict) else None
        if index is not None:
            value = value[index] if isinstance(value, list) and index < len(value) else None
        context = model.child_context(element, type_code, value)
        current = value
    return context


def _value(
    op: Operation, model: FhirModel, element: ElementDef | None, named: str | None
) -> PatchValue:
    assert op.value is not None
    child = model.child_context(element, named) if element is not None else None
    item = build_value(op.value, model, child)
    if element is not None:
        check_fits(element, item, named)
    return item


def _op_add(root: dict[str, Any], op: Operation, model: FhirModel) -> None:
    assert op.name is not None
    target = _one(root, op.path)
    container = holder(root, target, create=True)
    if container is None:
        raise PatchError("the selected element cannot have children")
    element, named = element_named(model, _context(root, target, model), op.name)
    item = _value(op, model, element, named)
    if element is None:
        key = op.name
        repeating = isinstance(container.get(key), list)
    else:
        key = property_name(element, op.name, named, item)
        repeating = element.repeating
    if repeating:
        append_item(container, key, item)
        return
    present = _present_keys(container, element, key)
    if present:
        raise PatchError(f"'{present[0]}' already has a value and does not repeat")
    set_single(container, key, item)


def _present_keys(container: dict[str, Any], element: ElementDef | None, key: str) -> list[str]:
    if element is not None and element.choice:
        candidates = [element.name + t[:1].upper() + t[1:] for t in element.types]
    else:
        candidates = [key]
    return [c for c in candidates if c in container or "_" + c in container]


def _op_insert(root: dict[str, Any], op: Operation, model: FhirModel) -> None:
    container, key, element = _collection(root, op, model, create=True)
    item = _value(op, model, element, None)
    values = container.get(key)
    size = len(values) if isinstance(values, list) else 0
    assert op.index is not None
    if op.index > size:
        raise PatchError(f"index {op.index} is beyond the end of the list (length {size})")
    insert_item(container, key, op.index, item)


def _op_move(root: dict[str, Any], op: Operation, model: FhirModel) -> None:
    container, key, _ = _collection(root, op, model, create=False)
    values = container.get(key)
    size = len(values) if isinstance(values, list) else 0
    assert op.source is not None and op.destination is not None
    for label, index in (("source", op.source), ("destination", op.destination)):
        if index >= size:
            raise PatchError(f"{label} {index} is outside the list (length {size})")
    move_item(container, key, op.source, op.destination)


def _collection(
    root: dict[str, Any], op: Operation, model: FhirModel, create: bool
) -> tuple[dict[str, Any], str, ElementDef | None]:
    """The object and property holding the list that `op.path` names."""
    split = split_last_member(op.path)
    if split is not None:
        parent = _one(root, split[0])
        container = holder(root, parent, create=create)
        context = _context(root, parent, model)
        element, _named = element_named(model, context, split[1])
        key = split[1]
    else:
        found = locate(root, op.path)
        if not found or any(loc[:-1] != found[0][:-1] for loc in found):
            raise PatchError("the path must select the elements of one list")
        if any(loc[-1][0] != found[0][-1][0] or loc[-1][1] is None for loc in found):
            raise PatchError("the path must select the elements of one list")
        parent = found[0][:-1]
        key = found[0][-1][0]
        container = holder(root, parent)
        element, _named = element_named(model, _context(root, parent, model), key)
    if container is None:
        raise PatchError("the list does not exist")
    if element is not None and not element.repeating:
        raise PatchError(f"'{element.path}' is not a list (max {element.max})")
    if container.get(key) is not None and not isinstance(container.get(key), list):
        raise PatchError(f"'{key}' is not a list")
    return container, key, element


def _op_replace(root: dict[str, Any], op: Operation, model: FhirModel) -> None:
    target = _one(root, op.path)
    if not target:
        raise PatchError("the whole resource cannot be replaced")
    parent = holder(root, target[:-1])
    assert parent is not None
    key, index = target[-1]
    element, named = element_named(model, _context(root, target[:-1], model), key)
    if element is not None and element.choice:
        named = None  # the new value may be of another of the choice's types
    item = _value(op, model, element, named)
    if element is not None and element.choice:
        new_key = property_name(element, element.name, None, item)
        if new_key != key:
            remove_item(parent, key, None)
            key = new_key
    if index is None:
        set_single(parent, key, item)
    else:
        set_item(parent, key, index, item)


def _op_delete(root: dict[str, Any], op: Operation, model: FhirModel) -> None:
    found = locate(root, op.path)
    if not found:
        return
    if len(found) > 1:
        raise PatchError(f"the path selects {len(found)} elements; only one can be deleted")
    target = found[0]
    if not target:
        raise PatchError("the whole resource cannot be deleted")
    parent = holder(root, target[:-1])
    assert parent is not None
    remove_item(parent, *target[-1])
    _prune(root, target[:-1])


def _prune(root: dict[str, Any], location: Location) -> None:
    """Remove objects left empty by a delete, from `location` up to the resource."""
    while location:
        emptied = holder(root, location)
        if emptied is None or emptied:
            return
        parent = holder(root, location[:-1])
        assert parent is not None
        key, index = location[-1]
        value, _extension = read_slot(root, location)
        if value is emptied:
            remove_item(parent, key, index)
        else:
            remove_sidecar(parent, key, index)
        location = location[:-1]


_APPLY: dict[str, Callable[[dict[str, Any], Operation, FhirModel], None]] = {
    "add": _op_add,
    "insert": _op_insert,
    "delete": _op_delete,
    "replace": _op_replace,
    "move": _op_move,
}
