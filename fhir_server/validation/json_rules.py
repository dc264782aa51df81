"""FHIR JSON rules the JSON schema does not express.

- no empty objects or arrays, and no null except as a placeholder inside the
  array of a primitive's `_name` sibling (json.html#primitive);
- a primitive array and its `_name` array have the same length, and a `_name` array
  holds objects or null.
Ids and other primitive formats are the schema's patterns.
"""

from __future__ import annotations

from typing import Any

from fhir_server import fhirjson
from fhir_server.outcome import Issue

# What any breach of these rules looks like in compact JSON. Most resources have none of
# it, and finding that out in their serialised form is ~30 times cheaper than the walk.
_SUSPECT = (b"{}", b"[]", b"null", b'"_')


def check_json_rules(resource: dict[str, Any], resource_type: str) -> list[Issue]:
    compact = fhirjson.dumps(resource)
    if not any(mark in compact for mark in _SUSPECT):
        return []
    issues: list[Issue] = []
    _check_object(resource, resource_type, issues)
    return issues


def _check_object(node: dict[str, Any], where: str, issues: list[Issue]) -> None:
    if not node:
        issues.append(Issue("error", "structure", "an object must not be empty", (where,)))
        return
    for key, value in node.items():
        path = f"{where}.{key}"
        if value is None:
            issues.append(Issue("error", "structure", "null is not a valid value", (path,)))
        elif isinstance(value, dict):
            _check_object(value, path, issues)
        elif isinstance(value, list):
            _check_array(node, key, value, path, issues)


def _check_array(
    owner: dict[str, Any], key: str, items: list[Any], path: str, issues: list[Issue]
) -> None:
    if not items:
        issues.append(Issue("error", "structure", "an array must not be empty", (path,)))
        return
    is_extension_array = key.startswith("_")
    if is_extension_array:
        primitives = owner.get(key[1:])
        if isinstance(primitives, list) and len(primitives) != len(items):
            issues.append(
                Issue(
                    "error",
                    "structure",
                    f"'{key}' must have as many items as '{key[1:]}'",
                    (path,),
                )
            )
    all_null = True
    for index, item in enumerate(items):
        item_path = f"{path}[{index}]"
        if item is None:
            if not is_extension_array and not isinstance(owner.get("_" + key), list):
                issues.append(
                    Issue("error", "structure", "null is not a valid value", (item_path,))
                )
            continue
        all_null = False
        if isinstance(item, dict):
            _check_object(item, item_path, issues)
        elif isinstance(item, list):
            issues.append(Issue("error", "structure", "arrays cannot nest", (item_path,)))
    if all_null:
        issues.append(Issue("error", "structure", "an array must not hold only null", (path,)))
