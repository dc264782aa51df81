"""JSON Patch (RFC 6902) with JSON Pointer (RFC 6901).

`apply_json_patch` works on a deep copy, so a failing operation leaves nothing applied.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from fhir_server.patch.errors import MalformedPatchError, PatchError

_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")
_NEEDS = {
    "add": ("path", "value"),
    "remove": ("path",),
    "replace": ("path", "value"),
    "move": ("from", "path"),
    "copy": ("from", "path"),
    "test": ("path", "value"),
}


def apply_json_patch(document: dict[str, Any], operations: Any) -> dict[str, Any]:
    """Apply a JSON Patch document (a list of operations) to a copy of `document`."""
    if not isinstance(operations, list):
        raise MalformedPatchError("A JSON Patch document must be a JSON array of operations")
    checked = [_check_operation(number, op) for number, op in enumerate(operations, 1)]
    result: Any = copy.deepcopy(document)
    for number, op in enumerate(checked, 1):
        try:
            result = _APPLY[op["op"]](result, op)
        except PatchError as exc:
            raise PatchError(f"operation {number} ({op['op']} at '{op['path']}'): {exc}") from exc
    if not isinstance(result, dict):
        raise PatchError("The patched document is not a JSON object")
    return result


def _check_operation(number: int, op: Any) -> dict[str, Any]:
    if not isinstance(op, dict):
        raise MalformedPatchError(f"operation {number}: an operation must be a JSON object")
    name = op.get("op")
    if not isinstance(name, str):
        raise MalformedPatchError(f"operation {number}: the member 'op' is missing")
    needs = _NEEDS.get(name)
    if needs is None:
        raise MalformedPatchError(f"operation {number}: unknown operation '{name}'")
    for member in needs:
        if member not in op:
            raise MalformedPatchError(
                f"operation {number} ({name}): the member '{member}' is missing"
            )
    for member in ("path", "from"):
        if member in needs:
            if not isinstance(op[member], str):
                raise MalformedPatchError(
                    f"operation {number} ({name}): '{member}' must be a JSON Pointer string"
                )
            try:
                parse_pointer(op[member])
            except PatchError as exc:
                raise MalformedPatchError(f"operation {number} ({name}): {exc}") from exc
    return op


def parse_pointer(pointer: str) -> list[str]:
    """The reference tokens of a JSON Pointer (RFC 6901), unescaped."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"invalid JSON Pointer '{pointer}': it must start with '/'")
    tokens = pointer[1:].split("/")
    for token in tokens:
        if re.search(r"~(?![01])", token):
            raise PatchError(f"invalid JSON Pointer '{pointer}': '~' must be followed by 0 or 1")
    return [token.replace("~1", "/").replace("~0", "~") for token in tokens]


def _array_index(token: str, array: list[Any], *, allow_end: bool) -> int:
    """Position named by `token` in `array`; `allow_end` admits len(array) and '-' (add)."""
    if token == "-":
        if allow_end:
            return len(array)
        raise PatchError("'-' names no existing array element")
    if not _ARRAY_INDEX.fullmatch(token):
        raise PatchError(f"'{token}' is not a valid array index")
    index = int(token)
    limit = len(array) if allow_end else len(array) - 1
    if index > limit:
        raise PatchError(f"array index {index} is out of bounds (length {len(array)})")
    return index


def _resolve(document: Any, tokens: list[str]) -> Any:
    """The value a pointer names; PatchError if it does not exist."""
    node = document
    for token in tokens:
        if isinstance(node, dict):
            if token not in node:
                raise PatchError(f"member '{token}' does not exist")
            node = node[token]
        elif isinstance(node, list):
            node = node[_array_index(token, node, allow_end=False)]
        else:
            raise PatchError(f"cannot descend into a scalar value with '{token}'")
    return node


def _get(document: Any, pointer: str) -> Any:
    return _resolve(document, parse_pointer(pointer))


def _add_value(document: Any, pointer: str, value: Any) -> Any:
    tokens = parse_pointer(pointer)
    if not tokens:
        return value
    parent = _resolve(document, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_array_index(last, parent, allow_end=True), value)
    else:
        raise PatchError("the target's parent is not an object or array")
    return document


def _remove_value(document: Any, pointer: str) -> tuple[Any, Any]:
    """Remove what `pointer` names; returns (document, removed value)."""
    tokens = parse_pointer(pointer)
    if not tokens:
        raise PatchError("the whole document cannot be removed")
    parent = _resolve(document, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"member '{last}' does not exist")
        return document, parent.pop(last)
    if isinstance(parent, list):
        return document, parent.pop(_array_index(last, parent, allow_end=False))
    raise PatchError("the target's parent is not an object or array")


def _op_add(document: Any, op: dict[str, Any]) -> Any:
    return _add_value(document, op["path"], copy.deepcopy(op["value"]))


def _op_remove(document: Any, op: dict[str, Any]) -> Any:
    return _remove_value(document, op["path"])[0]


def _op_replace(document: Any, op: dict[str, Any]) -> Any:
    _get(document, op["path"])  # the target must exist
    tokens = parse_pointer(op["path"])
    value = copy.deepcopy(op["value"])
    if not tokens:
        return value
    parent = _resolve(document, tokens[:-1])
    if isinstance(parent, dict):
        parent[tokens[-1]] = value
    else:
        parent[_array_index(tokens[-1], parent, allow_end=False)] = value
    return document


def _op_move(document: Any, op: dict[str, Any]) -> Any:
    source, target = op["from"], op["path"]
    if source == target:
        _get(document, source)
        return document
    if target.startswith(source + "/"):
        raise PatchError(f"cannot move '{source}' into one of its own children")
    document, value = _remove_value(document, source)
    return _add_value(document, target, value)


def _op_copy(document: Any, op: dict[str, Any]) -> Any:
    value = copy.deepcopy(_get(document, op["from"]))
    return _add_value(document, op["path"], value)


def _op_test(document: Any, op: dict[str, Any]) -> Any:
    if not json_equal(_get(document, op["path"]), op["value"]):
        raise PatchError("test failed: the value differs")
    return document


def json_equal(left: Any, right: Any) -> bool:
    """JSON equality: 1 == 1.0, but true != 1 and "1" != 1."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(v, right[k]) for k, v in left.items())
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(json_equal, left, right))
    if type(left) is not type(right):
        return False
    return bool(left == right)


_APPLY: dict[str, Callable[[Any, dict[str, Any]], Any]] = {
    "add": _op_add,
    "remove": _op_remove,
    "replace": _op_replace,
    "move": _op_move,
    "copy": _op_copy,
    "test": _op_test,
}
