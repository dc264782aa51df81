"""Changes to one JSON property that keep a primitive's "_name" sidecar consistent.

In FHIR JSON a primitive's id and extensions live in a sibling property "_name"; for a
repeating primitive "_name" is an array aligned with "name" (null where nothing is there).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class PatchValue:
    """A value to put into the resource."""

    value: Any  # JSON value; None for a primitive that only has extensions
    extension: dict[str, Any] | None  # the "_name" sidecar of a primitive, if any
    type_code: str | None  # FHIR type named by value[x]; "Resource"; None if built from parts


def set_single(container: dict[str, Any], key: str, item: PatchValue) -> None:
    """Set a non-repeating property (and its sidecar) to `item`."""
    if item.value is None:
        container.pop(key, None)
    else:
        container[key] = item.value
    if item.extension is None:
        container.pop("_" + key, None)
    else:
        container["_" + key] = item.extension


def _aligned(
    container: dict[str, Any], key: str, need_sidecar: bool
) -> tuple[list[Any], list[Any] | None]:
    """The value array and (if it exists or is needed) the sidecar array, equal in length."""
    values = container.get(key)
    if not isinstance(values, list):
        values = [] if values is None else [values]
        container[key] = values
    sidecar = container.get("_" + key)
    if not isinstance(sidecar, list):
        sidecar = None if sidecar is None else [sidecar]
    if sidecar is None and need_sidecar:
        sidecar = []
    if sidecar is not None:
        size = max(len(values), len(sidecar))
        values.extend([None] * (size - len(values)))
        sidecar.extend([None] * (size - len(sidecar)))
        container["_" + key] = sidecar
    return values, sidecar


def insert_item(container: dict[str, Any], key: str, index: int, item: PatchValue) -> None:
    values, sidecar = _aligned(container, key, item.extension is not None)
    values.insert(index, item.value)
    if sidecar is not None:
        sidecar.insert(index, item.extension)
    tidy(container, key)


def append_item(container: dict[str, Any], key: str, item: PatchValue) -> None:
    values, _ = _aligned(container, key, item.extension is not None)
    insert_item(container, key, len(values), item)


def set_item(container: dict[str, Any], key: str, index: int, item: PatchValue) -> None:
    values, sidecar = _aligned(container, key, item.extension is not None)
    values[index] = item.value
    if sidecar is not None:
        sidecar[index] = item.extension
    tidy(container, key)


def remove_item(container: dict[str, Any], key: str, index: int | None) -> None:
    """Remove a property, or one entry of a repeating property, with its sidecar."""
    if index is None:
        container.pop(key, None)
        container.pop("_" + key, None)
        return
    values, sidecar = _aligned(container, key, False)
    if index < len(values):
        values.pop(index)
    if sidecar is not None and index < len(sidecar):
        sidecar.pop(index)
    tidy(container, key)


def remove_sidecar(container: dict[str, Any], key: str, index: int | None) -> None:
    """Drop a primitive's id/extensions; drop the primitive too if it has no value."""
    if index is None:
        container.pop("_" + key, None)
        if container.get(key) is None:
            container.pop(key, None)
        return
    values, sidecar = _aligned(container, key, False)
    if sidecar is not None and index < len(sidecar):
        sidecar[index] = None
    if index < len(values) and values[index] is None:
        remove_item(container, key, index)
    else:
        tidy(container, key)


def move_item(container: dict[str, Any], key: str, source: int, destination: int) -> None:
    values, sidecar = _aligned(container, key, False)
    values.insert(destination, values.pop(source))
    if sidecar is not None:
        sidecar.insert(destination, sidecar.pop(source))
    tidy(container, key)


def tidy(container: dict[str, Any], key: str) -> None:
    """No empty arrays, no all-null sidecar, no all-null values without a sidecar."""
    sidecar = container.get("_" + key)
    if isinstance(sidecar, list) and all(entry is None for entry in sidecar):
        container.pop("_" + key)
        sidecar = None
    values = container.get(key)
    if isinstance(values, list) and (
        not values or (sidecar is None and all(entry is None for entry in values))
    ):
        container.pop(key)
