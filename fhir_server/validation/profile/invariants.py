"""Invariants: each `constraint.expression` of an element, evaluated on every value of it.

Two constraints hold on nearly every element and are checked in Python: ele-1 (an element
has a value or children) and ext-1 (an extension has a value or extensions, not both);
through fhirpathpy they would cost most of a validation. The rest are compiled once with
fhirpathpy. An expression fhirpathpy cannot parse or evaluate is skipped and counted, so a
validation reports how many invariants it could not check.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fhir_server.fhirpath.fallback import compile_in_context
from fhir_server.validation.profile.elements import Constraint

log = logging.getLogger(__name__)

Evaluator = Callable[[Any, str, dict[str, Any], Any], list[Any]]


def _ele_1(node: Any) -> bool:
    return not isinstance(node, dict) or any(key != "id" for key in node)


def _ext_1(node: Any) -> bool:
    if not isinstance(node, dict):
        return True
    # a primitive value[x] may be present by its extensions alone (`_valueString`)
    has_value = any(key.startswith(("value", "_value")) for key in node)
    return ("extension" in node) != has_value


def _csd_1(node: Any) -> bool:
    """CodeSystem: every code, nested ones included, is distinct."""
    codes: list[Any] = []
    stack = list(node.get("concept", [])) if isinstance(node, dict) else []
    while stack:
        concept = stack.pop()
        if isinstance(concept, dict):
            codes.append(concept.get("code"))
            stack.extend(concept.get("concept", []))
    present = [c for c in codes if c is not None]
    return len(present) == len(set(present))


NATIVE: dict[str, Callable[[Any], bool]] = {
    "hasValue() or (children().count() > id.count())": _ele_1,
    "extension.exists() != value.exists()": _ext_1,
    "concept.code.combine($this.descendants().concept.code).isDistinct()": _csd_1,
}
# DomainResource's rules on contained resources (dom-2 to dom-5) hold when there are none
_ABOUT_CONTAINED = "contained."


_STRING = re.compile(r"'(?:[^'\\]|\\.)*'")
_NAME = re.compile(
    r"(?<![%$\w.])`?([A-Za-z_]\w*)`?(?!\w|\s*\()|(?<=\.)`?([A-Za-z_]\w*)`?(?!\w|\s*\()"
)
# what makes a result depend on more than the names the expression mentions
_WHOLE_NODE = re.compile(r"%|\$this|children\(|descendants\(|hasValue\(|repeat\(|trace\(")
_OPERATORS = frozenset(
    {"and", "or", "xor", "implies", "is", "as", "mod", "in", "contains", "true", "false"}
)


@dataclass(slots=True)
class _Plan:
    evaluate: Evaluator
    # the element names the expression reads; None when its result may depend on more
    names: tuple[str, ...] | None
    # the result on a node that has none of those names, per type name
    on_absent: dict[str, bool | None]


def names_read(expression: str) -> tuple[str, ...] | None:
    """Every element name an expression mentions, or None when it looks at the node as a
    whole (children(), %resource, ...). A node holding none of these names gives the same
    result as an empty node: nothing the expression navigates to exists."""
    text = _STRING.sub("''", expression)
    if _WHOLE_NODE.search(text):
        return None
    return tuple({a or b for a, b in _NAME.findall(text)} - _OPERATORS)


# R4 invariants test FHIR primitives against System types (`answer is Boolean`, que-7);
# fhirpathpy only matches those by their FHIR names (`boolean`), so they are renamed.
_SYSTEM_TYPES = {
    "Boolean": "boolean",
    "String": "string",
    "Integer": "integer",
    "Decimal": "decimal",
    "Date": "date",
    "DateTime": "dateTime",
    "Time": "time",
}
_SYSTEM_TYPE_TEST = re.compile(
    r"(\bis\s+|\bas\s+|ofType\(\s*)(?:System\.)?(" + "|".join(_SYSTEM_TYPES) + r")\b"
)


def fhir_type_names(expression: str) -> str:
    return _SYSTEM_TYPE_TEST.sub(lambda m: m.group(1) + _SYSTEM_TYPES[m.group(2)], expression)


class Invariants:
    """Compiled constraint expressions, shared by every validation of the process.

    Most invariants guard on an element that is usually absent (`binding.empty() or ...`);
    their result on a node without any element they name is computed once per type and
    reused, which skips fhirpathpy for most nodes."""

    def __init__(self) -> None:
        self._plans: dict[str, _Plan | None] = {}
        self.uncompilable: set[str] = set()
        # only the Python-checked invariants (for bulk checks where fhirpathpy is too slow)
        self.native_only = False

    def plan(self, expression: str) -> _Plan | None:
        if expression in self._plans:
            return self._plans[expression]
        plan: _Plan | None
        try:
            evaluate = compile_in_context(fhir_type_names(expression))
            plan = _Plan(evaluate, names_read(expression), {})
        except Exception as exc:
            log.debug("invariant %r does not compile: %s", expression, exc)
            self.uncompilable.add(expression)
            plan = None
        self._plans[expression] = plan
        return plan

    def holds(
        self,
        constraint: Constraint,
        node: Any,
        type_name: str,
        resource: dict[str, Any],
        root: Any,
    ) -> bool | None:
        """True or False, or None when the expression could not be evaluated here."""
        native = NATIVE.get(constraint.expression)
        if native is not None:
            return native(node)
        expression = constraint.expression
        if self.native_only:
            return None
        contained = isinstance(node, dict) and "contained" in node
        if expression.startswith(_ABOUT_CONTAINED) and not contained:
            return True
        plan = self.plan(expression)
        if plan is None:
            return None
        names = plan.names
        if names is not None and isinstance(node, dict) and not _mentions(node, names):
            if type_name not in plan.on_absent:
                plan.on_absent[type_name] = _run(plan.evaluate, {}, type_name, {}, {})
            return plan.on_absent[type_name]
        return _run(plan.evaluate, node, type_name, resource, root)


def _mentions(node: dict[str, Any], names: tuple[str, ...]) -> bool:
    # `value` also names valueString, `_value` its extensions
    return any(key.lstrip("_").startswith(name) for key in node for name in names)


def _run(evaluate: Evaluator, node: Any, type_name: str, resource: Any, root: Any) -> bool | None:
    try:
        result = evaluate(node, type_name, resource, root)
    except Exception as exc:
        log.debug("invariant failed to evaluate: %s", exc)
        return None
    # an empty result is not a failure: the constraint says nothing about this node
    return not (len(result) == 1 and result[0] is False)
