"""Values a SearchParameter expression selects in a resource, evaluated with fhirpathpy.

Three things R4 search expressions need that plain fhirpathpy does not give:
- only the operands of a top-level union that are about the resource's own type count
  (`Account.subject | Basic.subject`); `Resource.x` / `DomainResource.x` apply to every type;
- `(X as T)` and `X.as(T)` over a list mean `X.ofType(T)` (search expressions use `as`
  as a filter, and fhirpathpy's `as` wants a single item);
- `resolve()` has no server behind it: a search expression only asks what type a reference
  points to (`where(resolve() is Patient)`), which the reference's text tells.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any, ClassVar

import fhirpathpy
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models

_AS_PARENS = re.compile(r"\(\s*([A-Za-z][\w.]*)\s+as\s+([A-Za-z]\w*)\s*\)")
_AS_CALL = re.compile(r"\.as\(")


def union_operands(expression: str) -> list[str]:
    """The operands of the top-level `|` (outside parentheses and quotes)."""
    parts: list[str] = []
    depth = 0
    quoted = False
    current: list[str] = []
    for char in expression:
        if char == "'":
            quoted = not quoted
        elif not quoted and char in "([":
            depth += 1
        elif not quoted and char in ")]":
            depth -= 1
        elif not quoted and depth == 0 and char == "|":
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    parts.append("".join(current).strip())
    return parts


def for_type(expression: str, resource_type: str) -> str | None:
    """The part of an expression that is about `resource_type`, made fhirpathpy-ready."""
    kept: list[str] = []
    for operand in union_operands(expression):
        root = operand.lstrip("( ").split(".", 1)[0]
        if root in ("Resource", "DomainResource"):
            operand = operand.replace(root + ".", resource_type + ".", 1)
        elif root != resource_type:
            continue
        operand = _AS_PARENS.sub(r"\1.ofType(\2)", operand)
        operand = _AS_CALL.sub(".ofType(", operand)
        kept.append(operand)
    return " | ".join(kept) if kept else None


def type_of_reference(text: str, root: dict[str, Any]) -> str | None:
    """The resource type a literal reference names: `Patient/1`, `http://x/Patient/1`,
    `Patient/1/_history/2`, or a contained `#id`."""
    if text.startswith("#"):
        for contained in root.get("contained") or []:
            if isinstance(contained, dict) and contained.get("id") == text[1:]:
                return contained.get("resourceType")
        return None
    segments = text.split("/")
    if len(segments) >= 4 and segments[-2] == "_history":
        segments = segments[:-2]
    if len(segments) >= 2 and segments[-2][:1].isupper() and segments[-1]:
        return segments[-2]
    return None


class _Context:
    """The resource being evaluated, for resolve() of contained references."""

    root: ClassVar[dict[str, Any]] = {}


def _resolve(inputs: list[Any]) -> list[Any]:
    found = []
    for item in inputs:
        text = item.get("reference") if isinstance(item, dict) else item
        kind = type_of_reference(text, _Context.root) if isinstance(text, str) else None
        if kind is None and isinstance(item, dict) and isinstance(item.get("type"), str):
            kind = item["type"].rsplit("/", 1)[-1]
        if kind is not None:
            found.append(ResourceNode.create_node({"resourceType": kind}, kind))
    return found


def _has_extension(inputs: list[Any], url: str) -> list[bool]:
    if not inputs:
        return []
    return [
        any(
            isinstance(e, dict) and e.get("url") == url
            for item in inputs
            if isinstance(item, dict)
            for e in item.get("extension") or []
        )
    ]


_FUNCTIONS = {
    "userInvocationTable": {
        "resolve": {"fn": _resolve, "arity": {0: []}},
        "hasExtension": {"fn": _has_extension, "arity": {1: ["String"]}},
    }
}


@cache
def compiled(expression: str, resource_type: str) -> Callable[[dict[str, Any]], list[Any]] | None:
    text = for_type(expression, resource_type)
    if text is None:
        return None
    function = fhirpathpy.compile(text, models["r4"], _FUNCTIONS)

    def evaluate(resource: dict[str, Any]) -> list[Any]:
        _Context.root = resource
        return [v for v in function(resource, None) if v is not None]

    return evaluate


def select_in(base: str, expression: str, item: Any, resource: dict[str, Any]) -> list[Any]:
    """A composite component's `expression` evaluated on one `item` the composite selects
    (`base`: its path, such as Observation.component, which tells fhirpathpy its type)."""
    _Context.root = resource
    # fhirpathpy finds choice elements (value[x]) by the item's type: a path to a data type
    # (CodeSystem.useContext) is named by that type (UsageContext), a backbone by its path
    named = models["r4"]["path2Type"].get(base)
    if named and named not in ("BackboneElement", "Element"):
        base = named
    found = fhirpathpy.evaluate(
        item, {"base": base, "expression": expression}, {"resource": resource}, models["r4"]
    )
    return [v for v in found if v is not None]


def select(expression: str, resource: dict[str, Any]) -> list[Any]:
    evaluate = compiled(expression, resource["resourceType"])
    return [] if evaluate is None else evaluate(resource)
