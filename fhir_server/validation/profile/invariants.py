"""Invariants: each `constraint.expression` of an element, evaluated on every value of it.

Two constraints hold on nearly every element and are checked in Python: ele-1 (an element
has a value or children) and ext-1 (an extension has a value or extensions, not both);
through fhirpathpy they would cost most of a validation. The rest are compiled once with
fhirpathpy. An expression fhirpathpy cannot parse or evaluate is skipped and counted, so a
validation reports how many invariants it could not check.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
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


NATIVE: dict[str, Callable[[Any], bool]] = {
    "hasValue() or (children().count() > id.count())": _ele_1,
    "extension.exists() != value.exists()": _ext_1,
}


class Invariants:
    """Compiled constraint expressions, shared by every validation of the process."""

    def __init__(self) -> None:
        self._compiled: dict[str, Evaluator | None] = {}
        self.uncompilable: set[str] = set()

    def evaluator(self, expression: str) -> Evaluator | None:
        if expression in self._compiled:
            return self._compiled[expression]
        evaluate: Evaluator | None
        try:
            evaluate = compile_in_context(expression)
        except Exception as exc:
            log.debug("invariant %r does not compile: %s", expression, exc)
            self.uncompilable.add(expression)
            evaluate = None
        self._compiled[expression] = evaluate
        return evaluate

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
        evaluate = self.evaluator(constraint.expression)
        if evaluate is None:
            return None
        try:
            result = evaluate(node, type_name, resource, root)
        except Exception as exc:
            log.debug("invariant %s failed to evaluate: %s", constraint.key, exc)
            return None
        # an empty result is not a failure: the constraint says nothing about this node
        return not (len(result) == 1 and result[0] is False)
