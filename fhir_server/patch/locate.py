"""Find where in the JSON tree the nodes a FHIRPath expression selects live.

A *location* is the chain of JSON steps from the resource root to an element, each step a
property name as written in JSON (choice suffix included, without the "_" of primitive
extensions) and, for arrays, the index. The root resource is the empty chain.

fhirpathpy (with `returnRawData`) returns its internal nodes: complex nodes carry the very
dict objects of the tree, so they are found by identity; primitive nodes carry a concrete
path (`propName`, e.g. "Patient.name[0].given[1]") that is walked and then checked against
the node's value.
"""

from __future__ import annotations

import re
from typing import Any

from fhirpathpy import evaluate
from fhirpathpy.models import models

from fhir_server.patch.errors import PatchError

Step = tuple[str, int | None]
Location = tuple[Step, ...]

_R4 = models["r4"]
_OPERATOR_WORDS = frozenset({"and", "div", "implies", "mod", "or", "xor"})
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PROP_SEGMENT = re.compile(r"([A-Za-z0-9]+)(?:\[(\d+)\])?")


def quote_operator_names(path: str) -> str:
    """Backtick element names that FHIRPath reserves as operators, e.g. `text.div`.

    After a '.', such a word can only be a member name; fhirpathpy would otherwise parse
    'Patient.text.div' as the 'div' operator.
    """
    out: list[str] = []
    i, n = 0, len(path)
    while i < n:
        ch = path[i]
        if ch in "'`":
            end = _literal_end(path, i)
            out.append(path[i:end])
            i = end
            continue
        if ch == ".":
            match = _IDENT.match(path, i + 1)
            if match and match.group() in _OPERATOR_WORDS:
                rest = path[match.end() :].lstrip()
                if not rest.startswith("("):
                    out.append(f".`{match.group()}`")
                    i = match.end()
                    continue
        out.append(ch)
        i += 1
    return "".join(out)


def _literal_end(path: str, start: int) -> int:
    """Index just past the string literal or delimited identifier starting at `start`."""
    quote = path[start]
    i = start + 1
    while i < len(path):
        if path[i] == "\\":
            i += 2
            continue
        if path[i] == quote:
            return i + 1
        i += 1
    return len(path)


def split_last_member(path: str) -> tuple[str, str] | None:
    """'Patient.name[0].given' -> ('Patient.name[0]', 'given'); None if the path does not
    end in a plain member name."""
    depth, last_dot, i = 0, -1, 0
    while i < len(path):
        ch = path[i]
        if ch in "'`":
            i = _literal_end(path, i)
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "." and depth == 0:
            last_dot = i
        i += 1
    if last_dot <= 0:
        return None
    tail = path[last_dot + 1 :].strip()
    if tail.startswith("`") and tail.endswith("`") and len(tail) > 2:
        tail = tail[1:-1]
    if not _IDENT.fullmatch(tail):
        return None
    return path[:last_dot].strip(), tail


def evaluate_path(root: dict[str, Any], path: str) -> list[Any]:
    """The raw fhirpathpy nodes `path` selects in `root`."""
    variables = {"resource": root, "rootResource": root}
    try:
        result = evaluate(root, quote_operator_names(path), variables, _R4, {"returnRawData": True})
    except Exception as exc:  # fhirpathpy raises plain exceptions for bad expressions
        raise PatchError(f"the FHIRPath expression '{path}' cannot be evaluated: {exc}") from exc
    return list(result) if isinstance(result, list) else [result]


def locate(root: dict[str, Any], path: str) -> list[Location]:
    """The distinct locations of the elements `path` selects, in selection order."""
    nodes = evaluate_path(root, path)
    if not nodes:
        return []
    by_identity = index_tree(root)
    found: list[Location] = []
    for node in nodes:
        location = _node_location(root, node, by_identity)
        if location is None:
            raise PatchError(
                f"the FHIRPath expression '{path}' selects something that is not an element "
                "of the resource"
            )
        if location not in found:
            found.append(location)
    return found


def _node_location(
    root: dict[str, Any], node: Any, by_identity: dict[int, Location]
) -> Location | None:
    data = getattr(node, "data", node)
    if isinstance(data, dict):
        location = by_identity.get(id(data))
        if location is not None:
            return location
    prop_name = getattr(node, "propName", None)
    if not hasattr(node, "data") or not isinstance(prop_name, str):
        return None
    location = _prop_name_location(root, prop_name)
    if location is None:
        return None
    value, extension = read_slot(root, location)
    if data is None or data is value or data is extension or (data == value and value is not None):
        return location
    return None


def index_tree(root: dict[str, Any]) -> dict[int, Location]:
    """id() of every JSON object in the tree -> its location."""
    table: dict[int, Location] = {id(root): ()}

    def walk(obj: dict[str, Any], here: Location) -> None:
        for key, value in obj.items():
            name = key[1:] if key.startswith("_") else key
            if isinstance(value, dict):
                table[id(value)] = (*here, (name, None))
                walk(value, table[id(value)])
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, dict):
                        table[id(item)] = (*here, (name, i))
                        walk(item, table[id(item)])

    walk(root, ())
    return table


def _prop_name_location(root: dict[str, Any], prop_name: str) -> Location | None:
    segments = prop_name.split(".")
    if not segments or segments[0] != root.get("resourceType"):
        return None
    location: list[Step] = []
    current: dict[str, Any] | None = root
    for segment in segments[1:]:
        match = _PROP_SEGMENT.fullmatch(segment)
        if match is None or current is None:
            return None
        key = _json_key(current, match.group(1))
        if key is None:
            return None
        index = int(match.group(2)) if match.group(2) is not None else None
        location.append((key, index))
        current = holder(root, tuple(location))
    return tuple(location)


def _json_key(obj: dict[str, Any], name: str) -> str | None:
    """The JSON property of `obj` for element `name` (a choice name finds its typed key)."""
    if name in obj or "_" + name in obj:
        return name
    for key in obj:
        plain = key[1:] if key.startswith("_") else key
        if plain.startswith(name) and plain[len(name) : len(name) + 1].isupper():
            return plain
    return None


def read_slot(root: dict[str, Any], location: Location) -> tuple[Any, Any]:
    """(value, primitive extension object) at a location; None for what is absent."""
    if not location:
        return root, None
    parent = holder(root, location[:-1])
    if parent is None:
        return None, None
    key, index = location[-1]
    return _pick(parent.get(key), index), _pick(parent.get("_" + key), index)


def _pick(value: Any, index: int | None) -> Any:
    if index is None:
        return None if isinstance(value, list) else value
    if isinstance(value, list) and 0 <= index < len(value):
        return value[index]
    return None


def holder(root: dict[str, Any], location: Location, create: bool = False) -> dict[str, Any] | None:
    """The JSON object that holds the children of the element at `location`.

    For a complex element that is the element itself; for a primitive it is the "_name"
    object with its id and extensions (made when `create` is true).
    """
    current = root
    for key, index in location:
        value = _pick(current.get(key), index)
        if isinstance(value, dict):
            current = value
            continue
        extension = _pick(current.get("_" + key), index)
        if isinstance(extension, dict):
            current = extension
            continue
        if not create or (value is None and extension is None and key not in current):
            return None
        made: dict[str, Any] = {}
        if index is None:
            current["_" + key] = made
        else:
            size = len(current[key]) if isinstance(current.get(key), list) else index + 1
            sidecar = current.get("_" + key)
            if not isinstance(sidecar, list):
                sidecar = [None] * size
                current["_" + key] = sidecar
            sidecar.extend([None] * (size - len(sidecar)))
            sidecar[index] = made
        current = made
    return current
