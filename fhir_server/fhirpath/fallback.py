"""Evaluation with fhirpathpy for the expressions the compiled paths do not cover.

fhirpathpy needs three adjustments for R4 search expressions:
- `resolve()`: there is no server to read from, and search expressions only ask which type
  a reference targets; a stand-in resource of that type (`{"resourceType": "Patient"}`) makes
  `resolve() is Patient` work.
- `(X as T)` where X is a list is an error in fhirpathpy (`as` wants one item); R4 means
  `X.ofType(T)`, so it is rewritten to that.
- `Resource.x` and `DomainResource.x` match no resource in fhirpathpy (the first name must be
  the resource's own type), so the prefix is dropped: the path starts at the resource.
`hasExtension(url)` is missing from fhirpathpy and is added.
"""

from __future__ import annotations

import decimal
import logging
import re
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import fhirpathpy
from fhirpathpy.engine.nodes import FP_Type, ResourceNode

from fhir_server.fhirjson import Decimal
from fhir_server.fhirpath.model import R4
from fhir_server.fhirpath.references import referenced_type

log = logging.getLogger(__name__)

# the resource being evaluated, for resolve() of contained references ("#id")
_ROOT: ContextVar[dict[str, Any] | None] = ContextVar("fhirpath_root", default=None)

_PATH = r"[A-Za-z_][\w.]*(?:\([^()]*\)[\w.]*)*"
_AS_IN_PARENS = re.compile(rf"\(\s*({_PATH})\s+as\s+([A-Za-z_][\w.]*)\s*\)")
_AS_BARE = re.compile(rf"(?<![\w.'])({_PATH})\s+as\s+([A-Za-z_][\w.]*)")
_AS_CALL = re.compile(r"\.as\(")
_ABSTRACT_ROOT = re.compile(r"(?<![\w.`'/])(?:Resource|DomainResource)\.")


def rewrite(expression: str) -> str:
    """The expression in the form fhirpathpy evaluates as R4 intends."""
    text = _AS_IN_PARENS.sub(r"\1.ofType(\2)", expression)
    text = _AS_BARE.sub(r"\1.ofType(\2)", text)
    text = _AS_CALL.sub(".ofType(", text)
    return _ABSTRACT_ROOT.sub("", text)


def _resolve(inputs: list[Any]) -> list[Any]:
    root = _ROOT.get()
    out: list[Any] = []
    for item in inputs:
        kind = referenced_type(item, root)
        if kind is not None:
            out.append(ResourceNode.create_node({"resourceType": kind}, kind))
    return out


def _has_extension(inputs: list[Any], url: str) -> list[bool]:
    if not inputs:
        return []
    for item in inputs:
        extensions = item.get("extension") if isinstance(item, dict) else None
        if isinstance(extensions, list) and any(
            isinstance(e, dict) and e.get("url") == url for e in extensions
        ):
            return [True]
    return [False]


_OPTIONS = {
    "userInvocationTable": {
        "resolve": {"fn": _resolve, "arity": {0: []}},
        "hasExtension": {"fn": _has_extension, "arity": {1: ["String"]}},
    }
}


def _plain(value: Any) -> Any:
    """fhirpathpy's results as plain JSON values (decimals keep their text)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, decimal.Decimal):
        return Decimal(str(value))
    if isinstance(value, FP_Type):
        return str(value)
    return value


def compile_fallback(expression: str) -> Callable[[list[Any], dict[str, Any]], list[Any]]:
    """A function (input, resource) → values that evaluates with fhirpathpy.

    Raises when fhirpathpy cannot parse the expression. The input is ignored: a fallback
    always starts at the resource.
    """
    compiled = fhirpathpy.compile(rewrite(expression), R4, _OPTIONS)

    def evaluate(_nodes: list[Any], root: dict[str, Any]) -> list[Any]:
        token = _ROOT.set(root)
        try:
            result = compiled(root, None)
        finally:
            _ROOT.reset(token)
        return [_plain(item) for item in result if item is not None]

    return evaluate


def compile_in_context(expression: str) -> Callable[[Any, str, dict[str, Any], Any], list[Any]]:
    """A function (node, its type, resource, root resource) → values, evaluated with
    fhirpathpy from an element as the context (invariants: `constraint.expression`).

    `%resource` and `%rootResource` are the resource holding the node and the outermost
    one. Raises when fhirpathpy cannot parse the expression."""
    # trace() (used by dom-3) prints unless given a function
    options = {**_OPTIONS, "traceFn": lambda _label, _value: None}
    compiled = fhirpathpy.compile(rewrite(expression), R4, options)

    def evaluate(node: Any, type_name: str, resource: dict[str, Any], root: Any) -> list[Any]:
        token = _ROOT.set(resource)
        try:
            context = {"resource": resource, "rootResource": root}
            return list(compiled(ResourceNode.create_node(node, type_name), context))
        finally:
            _ROOT.reset(token)

    return evaluate
