"""Corrections of the known defects of the official R4 JSON schema (fhir.schema.json).

The schema ships as HL7 published it; these fixes are applied when it is loaded, so that
valid R4 JSON is not rejected:
1. `fhirVersion` enums stop at 4.0.0: add 4.0.1.
2. canonical elements lack their `_name` sibling for primitive extensions: add it.
3. patterns use \\s and \\S as the XML Schema regular expressions of the specification
   mean them (space, tab, CR, LF only); the schema library reads them as Unicode classes
   and so rejects a non-breaking space in a string or at the end of a code.
"""

from __future__ import annotations

from typing import Any

_STRING_PATTERN = "^[ \\r\\n\\t\\S]+$"
_NON_EMPTY = "^[\\s\\S]+$"
_XML_SPACE = "[ \\t\\n\\r]"
_XML_NON_SPACE = "[^ \\t\\n\\r]"


def xml_schema_pattern(pattern: str) -> str:
    """Rewrite a pattern's \\s and \\S to XML Schema's four whitespace characters."""
    if pattern == _STRING_PATTERN:
        return _NON_EMPTY
    return (
        pattern.replace("[^\\s]", _XML_NON_SPACE)
        .replace("\\s", _XML_SPACE)
        .replace("\\S", _XML_NON_SPACE)
    )


def fix_schema(schema: dict[str, Any]) -> dict[str, Any]:
    _walk(schema)
    for definition in schema.get("definitions", {}).values():
        _add_canonical_siblings(definition)
    return schema


def _walk(node: Any) -> None:
    if isinstance(node, dict):
        enum = node.get("enum")
        if isinstance(enum, list) and "4.0.0" in enum and "4.0.1" not in enum:
            enum.append("4.0.1")
        pattern = node.get("pattern")
        if isinstance(pattern, str) and "\\s" in pattern.lower():
            node["pattern"] = xml_schema_pattern(pattern)
        for value in node.values():
            _walk(value)
    elif isinstance(node, list):
        for value in node:
            _walk(value)


def _add_canonical_siblings(definition: dict[str, Any]) -> None:
    properties = definition.get("properties")
    if not isinstance(properties, dict):
        return
    for name, prop in list(properties.items()):
        if name.startswith("_") or ("_" + name) in properties:
            continue
        if prop.get("$ref") == "#/definitions/canonical":
            properties["_" + name] = {"$ref": "#/definitions/Element"}
        elif prop.get("items", {}).get("$ref") == "#/definitions/canonical":
            properties["_" + name] = {
                "type": "array",
                "items": {"$ref": "#/definitions/Element"},
            }
