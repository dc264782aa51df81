"""Snapshot generation: a profile's differential merged onto its base's snapshot.

The base snapshot comes first (recursively generated when the base is itself a
differential-only profile: ours → SEBasePatient → Patient). Each differential element is
found by its id in the growing snapshot; when it is not there yet:
- its parent is expanded: the children of a data type (from the type profile when the
  element names one, else the core type) or of a `contentReference`, with their ids and
  paths moved under the parent;
- a new slice (`Patient.identifier:personnummer`) is a copy of the sliced element and its
  children, placed after the last slice of the group.
The differential's properties then replace the base's, except constraints, which add up.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

CORE_PREFIX = "http://hl7.org/fhir/StructureDefinition/"

Structure = Callable[[str], dict[str, Any] | None]


class SnapshotError(Exception):
    """A differential that cannot be merged onto its base."""


def split_id(element_id: str) -> tuple[str, str, str | None]:
    """(parent id, element name, slice name): `A.b:s.c` → (`A.b:s`, `c`, None)."""
    parent, _, last = element_id.rpartition(".")
    name, _, slice_name = last.partition(":")
    return parent, name, slice_name or None


def element_id(element: dict[str, Any]) -> str:
    return str(element.get("id") or element["path"])


def generate_snapshot(sd: dict[str, Any], structure: Structure) -> list[dict[str, Any]]:
    """The snapshot elements of `sd`; `structure(url)` gives a definition with a snapshot."""
    base_url = sd.get("baseDefinition")
    if not base_url:
        raise SnapshotError(f"{sd.get('url')} has neither a snapshot nor a baseDefinition")
    base = structure(base_url)
    if base is None:
        raise SnapshotError(f"{sd.get('url')}: base {base_url} is unknown")
    builder = _Builder(copy.deepcopy(base["snapshot"]["element"]), structure)
    for diff in sd.get("differential", {}).get("element", []):
        builder.apply(diff)
    return builder.elements


class _Builder:
    def __init__(self, elements: list[dict[str, Any]], structure: Structure) -> None:
        self.elements = elements
        self.structure = structure
        self._index: dict[str, int] | None = None

    def find(self, wanted: str) -> int | None:
        if self._index is None:
            self._index = {element_id(e): i for i, e in enumerate(self.elements)}
        return self._index.get(wanted)

    def _insert(self, at: int, new: list[dict[str, Any]]) -> None:
        self.elements[at:at] = new
        self._index = None

    def apply(self, diff: dict[str, Any]) -> None:
        wanted = element_id(diff)
        at = self.locate(wanted)
        _merge(self.elements[at], diff)

    def locate(self, wanted: str) -> int:
        """The index of an element, creating it (expansion, slice) when the base implies it."""
        at = self.find(wanted)
        if at is not None:
            return at
        parent, name, slice_name = split_id(wanted)
        if not parent:
            raise SnapshotError(f"element {wanted} is not in the base")
        self.ensure_children(parent)
        parent = element_id(self.elements[self.locate(parent)])
        wanted = f"{parent}.{name}" + (f":{slice_name}" if slice_name else "")
        at = self.find(wanted)
        if at is None and slice_name is None:
            choice = self._choice_of(parent, name)
            if choice is not None:  # `valueQuantity`: the type slice `value[x]:valueQuantity`
                return self.locate(f"{parent}.{choice}:{name}")
        if at is None and slice_name is not None:
            at = self._add_slice(parent, name, slice_name)
            if name.endswith("[x]"):
                _restrict_type(self.elements[at], slice_name[len(name) - 3 :])
        if at is None:
            raise SnapshotError(f"element {wanted} matches nothing in the base")
        return at

    def _choice_of(self, parent: str, name: str) -> str | None:
        """The choice element `x[x]` a type-specific name `xType` stands for."""
        for cut in range(len(name) - 1, 0, -1):
            if name[cut].isupper() and self.find(f"{parent}.{name[:cut]}[x]") is not None:
                choice = f"{name[:cut]}[x]"
                _restrict_type(self.elements[self.find(f"{parent}.{choice}") or 0], name[cut:])
                return choice
        return None

    def ensure_children(self, parent: str) -> None:
        at = self.locate(parent)
        parent = element_id(self.elements[at])
        following = self.elements[at + 1] if at + 1 < len(self.elements) else None
        if following is not None and element_id(following).startswith(parent + "."):
            return
        self._insert(at + 1, self._children_of(self.elements[at], parent))

    def _children_of(self, element: dict[str, Any], new_id: str) -> list[dict[str, Any]]:
        reference = element.get("contentReference")
        if reference:
            source_id = reference.rpartition("#")[2]
            start = self.find(source_id)
            if start is None:
                raise SnapshotError(f"contentReference {reference} names no element")
            source = [
                e for e in self.elements[start + 1 :] if element_id(e).startswith(source_id + ".")
            ]
            old_path = self.elements[start]["path"]
            return _moved(source, source_id, new_id, old_path, element["path"])
        types = element.get("type", [])
        profiles = [p for t in types for p in t.get("profile", [])]
        if len(profiles) == 1:
            url = profiles[0]
        elif len({t["code"] for t in types}) == 1:
            url = CORE_PREFIX + types[0]["code"]
        else:
            raise SnapshotError(f"cannot expand {new_id}: it has {len(types)} types")
        definition = self.structure(url)
        if definition is None:
            raise SnapshotError(f"cannot expand {new_id}: {url} is unknown")
        children = definition["snapshot"]["element"]
        root = children[0]
        return _moved(children[1:], element_id(root), new_id, root["path"], element["path"])

    def _add_slice(self, parent: str, name: str, slice_name: str) -> int:
        sliced = f"{parent}.{name}"
        base_name, _, _ = slice_name.rpartition("/")  # reslice: a/b slices a
        if base_name:
            sliced = f"{sliced}:{base_name}"
        at = self.find(sliced)
        if at is None:
            raise SnapshotError(f"slice {slice_name}: {sliced} is not in the base")
        end = at + 1
        while end < len(self.elements):
            other = element_id(self.elements[end])
            if not (other.startswith(sliced + ".") or other.startswith(sliced + ":")):
                break
            end += 1
        group = [
            e
            for e in self.elements[at:end]
            if element_id(e) == sliced or element_id(e).startswith(sliced + ".")
        ]
        new_id = f"{parent}.{name}:{slice_name}"
        path = self.elements[at]["path"]
        copies = _moved(group, sliced, new_id, path, path)
        copies[0].pop("slicing", None)
        copies[0]["sliceName"] = slice_name
        self._insert(end, copies)
        return end


def _restrict_type(element: dict[str, Any], suffix: str) -> None:
    """Keep only the type whose choice suffix is `suffix` (Quantity, DateTime, ...)."""
    kept = [t for t in element.get("type", []) if t["code"][:1].upper() + t["code"][1:] == suffix]
    if kept:
        element["type"] = kept


def _moved(
    elements: list[dict[str, Any]], old_id: str, new_id: str, old_path: str, new_path: str
) -> list[dict[str, Any]]:
    """Copies of elements with the id prefix `old_id` → `new_id`, `old_path` → `new_path`."""
    out = []
    for element in elements:
        moved = copy.deepcopy(element)
        moved["id"] = new_id + element_id(element)[len(old_id) :]
        moved["path"] = new_path + element["path"][len(old_path) :]
        out.append(moved)
    return out


def _merge(target: dict[str, Any], diff: dict[str, Any]) -> None:
    for key, value in diff.items():
        if key in ("id", "path"):
            continue
        if key == "constraint":
            have = {c.get("key") for c in target.get("constraint", [])}
            added = [c for c in value if c.get("key") not in have]
            target["constraint"] = [*target.get("constraint", []), *copy.deepcopy(added)]
        elif key == "mapping":
            target["mapping"] = [*target.get("mapping", []), *copy.deepcopy(value)]
        else:
            if key.startswith(("fixed", "pattern")):
                for old in [k for k in target if k.startswith(("fixed", "pattern"))]:
                    del target[old]
            target[key] = copy.deepcopy(value)
