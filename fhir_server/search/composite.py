"""Composite search parameters (search.html#composite): their components, and reading them.

A composite parameter's `expression` selects items (an Observation, each
Observation.component, each useContext); each component's `expression` is evaluated on
one item, and its `definition` (another SearchParameter) gives the component's type. A
search value `a$b` matches when ONE item has a value `a` for the first component and `b`
for the second: the index keeps each item's values apart (a group number per item).

Component expressions in R4 (and ours) are short relative paths: `code`, `value`,
`value.as(Quantity)`, `value.as(Quantity) | value.as(Range)`, `start`,
`%resource.referenceSeq.chromosome`. They are read here with a small path reader (the
FHIRPath compiler works from the resource root, not from an item); a composite with a
component this reader does not understand is not indexed, and searching by it is refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fhir_server.definitions import Definitions

# component types a composite can have (the types of the index tables)
COMPONENT_TYPES = frozenset({"string", "token", "reference", "date", "number", "quantity", "uri"})

_OPERAND = re.compile(r"(%resource\.)?([a-zA-Z][\w]*(?:\.[a-zA-Z][\w]*)*)(?:\.as\((\w+)\))?")

Reader = Callable[[Any, dict[str, Any]], list[Any]]


@dataclass(frozen=True, slots=True)
class Component:
    kind: str  # the component's parameter type
    expression: str
    read: Reader  # (item, resource) → the values the component has in the item


@dataclass(frozen=True, slots=True)
class CompositeParam:
    code: str
    expression: str  # selects the items
    components: tuple[Component, ...]

    def signature(self) -> str:
        """The expression and the components, for the definitions' digest."""
        parts = " $ ".join(f"{c.kind}:{c.expression}" for c in self.components)
        return f"{self.expression} :: {parts}"


def composite_param(
    definitions: Definitions, resource_type: str, definition: dict[str, Any]
) -> CompositeParam | None:
    """The composite as the indexer and the criteria parser use it; None when a component's
    type or expression is not understood here."""
    expression = definition.get("expression")
    code = definition.get("code")
    parts = definition.get("component")
    if not isinstance(expression, str) or not isinstance(code, str) or not isinstance(parts, list):
        return None
    by_url = {p.get("url"): p for p in definitions.search_params_for(resource_type).values()}
    components = []
    for part in parts:
        if not isinstance(part, dict):
            return None
        url, text = part.get("definition"), part.get("expression")
        target = by_url.get(url) or (
            definitions.resource_by_url(url) if isinstance(url, str) else None
        )
        kind = target.get("type") if isinstance(target, dict) else None
        if kind not in COMPONENT_TYPES or not isinstance(text, str):
            return None
        reader = _reader(text)
        if reader is None:
            return None
        components.append(Component(str(kind), text, reader))
    if len(components) < 2:
        return None
    return CompositeParam(code, expression, tuple(components))


def _reader(expression: str) -> Reader | None:
    operands = []
    for text in expression.split("|"):
        match = _OPERAND.fullmatch(text.strip())
        if match is None:
            return None
        from_resource, path, type_name = match.groups()
        operands.append((bool(from_resource), tuple(path.split(".")), type_name))

    def read(item: Any, resource: dict[str, Any]) -> list[Any]:
        out: list[Any] = []
        for from_resource, names, type_name in operands:
            nodes = [resource if from_resource else item]
            for position, name in enumerate(names):
                last = position == len(names) - 1
                nodes = _members(nodes, name, type_name if last else None)
            out.extend(nodes)
        return out

    return read


def _members(nodes: list[Any], name: str, type_name: str | None) -> list[Any]:
    """`name` of each node, lists flattened; a choice element `name[x]` by its JSON key
    (`valueQuantity`), only of type `type_name` when one is given (`.as(T)`)."""
    out: list[Any] = []
    for node in nodes:
        if not isinstance(node, dict):
            continue
        if type_name is not None:
            keys = [name + type_name[:1].upper() + type_name[1:]]
        else:
            keys = (
                [name]
                if name in node
                else [
                    k for k in node if k.startswith(name) and k[len(name) : len(name) + 1].isupper()
                ]
            )
        for key in keys:
            value = node.get(key)
            if isinstance(value, list):
                out.extend(value)
            elif value is not None:
                out.append(value)
    return out
