"""Rewriting references inside a transaction: fullUrls and conditional references.

Every string under a `reference` key, in the resource, its extensions and contained
resources, is looked up; uri-typed values that equal a `urn:uuid:` fullUrl and narrative
links to it are rewritten too (http.html#trules).
"""

from __future__ import annotations

from typing import Any


def collect_references(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                found.add(value)
            else:
                collect_references(value, found)
    elif isinstance(node, list):
        for item in node:
            collect_references(item, found)


def rewrite(node: Any, mapping: dict[str, str]) -> Any:
    """Replace mapped reference strings in place; returns the node for convenience."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str):
                if key == "reference" or value.startswith("urn:"):
                    replacement = mapping.get(value)
                    if replacement is not None:
                        node[key] = replacement
                elif key == "div":
                    node[key] = _rewrite_narrative(value, mapping)
            else:
                rewrite(value, mapping)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            if isinstance(item, str):
                replacement = mapping.get(item) if item.startswith("urn:") else None
                if replacement is not None:
                    node[index] = replacement
            else:
                rewrite(item, mapping)
    return node


def _rewrite_narrative(div: str, mapping: dict[str, str]) -> str:
    for old, new in mapping.items():
        if old.startswith("urn:") and old in div:
            div = div.replace(f'"{old}"', f'"{new}"')
    return div
