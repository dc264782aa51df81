"""Search expressions compiled to direct walks over the resource's JSON.

Nearly every R4 search expression is a path (`Patient.name.family`), a union of paths, a
choice type narrowed with `as`/`ofType` (`Observation.value as Quantity` is the JSON key
`valueQuantity`), or a filter such as `.where(resolve() is Patient)` or
`.where(system='phone')`. Those compile to closures over plain dict and list lookups, 10 to
100 times faster than interpreting them. Each operand of a top-level union is compiled on its
own; an operand outside the compiled subset is evaluated with fhirpathpy (see fallback.py).

A compiled step maps a collection (list of JSON values) to a collection, like FHIRPath:
lists in the JSON are flattened, absent elements give nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fhir_server.fhirpath import model
from fhir_server.fhirpath.fallback import compile_fallback
from fhir_server.fhirpath.parser import (
    Binary,
    Call,
    Index,
    Literal,
    Member,
    Node,
    TypeOp,
    Unsupported,
    parse,
    union_branches,
)
from fhir_server.fhirpath.references import referenced_type

log = logging.getLogger(__name__)

# (input collection, the resource) → output collection
Step = Callable[[list[Any], dict[str, Any]], list[Any]]
Predicate = Callable[[Any, dict[str, Any]], bool]


class CompiledExpression:
    """An extractor: resource JSON → the list of values the expression selects.

    Calling it never raises: an expression that fails on a resource gives [] (logged once,
    at debug). `direct` tells whether every part runs as a compiled walk (no fhirpathpy).
    `step(input, resource)` is the bare evaluation, for loops that catch errors themselves:
    it may raise, and takes the input collection (`[resource]`) and the resource.
    """

    __slots__ = ("_failed", "direct", "expression", "step")

    def __init__(self, expression: str, step: Step, direct: bool) -> None:
        self.expression = expression
        self.direct = direct
        self.step = step
        self._failed = False

    def __call__(self, resource: dict[str, Any]) -> list[Any]:
        try:
            return self.step([resource], resource)
        except Exception as exc:
            if not self._failed:
                self._failed = True
                log.debug("FHIRPath %r failed on %s: %s", self.expression, _name(resource), exc)
            return []

    def __repr__(self) -> str:
        kind = "direct" if self.direct else "fhirpathpy"
        return f"CompiledExpression({self.expression!r}, {kind})"


def _name(resource: Any) -> str:
    if isinstance(resource, dict):
        return f"{resource.get('resourceType')}/{resource.get('id')}"
    return type(resource).__name__


def compile_expression(expression: str, resource_type: str | None = None) -> CompiledExpression:
    """Compile a search parameter expression once; call the result on each resource.

    With `resource_type`, operands of a union rooted at another type are dropped at compile
    time (`Account.subject | Basic.subject` for a Basic is `Basic.subject`), which is what the
    indexer wants. An expression fhirpathpy cannot parse either yields an extractor that
    always returns [].
    """
    branches = union_branches(expression)
    steps: list[Step] = []
    direct = True
    for text in branches:
        if resource_type is not None and _rooted_elsewhere(text, resource_type):
            continue
        try:
            step = _compile_top(parse(text), resource_type)
        except Unsupported as why:
            log.debug("FHIRPath %r evaluated with fhirpathpy: %s", text, why)
            direct = False
            try:
                step = compile_fallback(text)
            except Exception as exc:
                log.debug("FHIRPath %r cannot be compiled: %s", text, exc)
                step = _nothing
        if step is not _nothing:
            steps.append(step)
    if len(branches) == 1 or (resource_type is not None and len(steps) <= 1):
        # one operand left for this type: duplicates within it are kept (the indexer drops
        # duplicate rows anyway), which spares comparing JSON objects
        return CompiledExpression(expression, steps[0] if steps else _nothing, direct)
    return CompiledExpression(expression, _union(steps), direct)


def _rooted_elsewhere(text: str, resource_type: str) -> bool:
    head = text.lstrip("( ")
    root = head.split(".", 1)[0].strip()
    if root in model.ABSTRACT_RESOURCE_TYPES:
        return not model.resource_is(resource_type, root)
    return root in model.resource_types() and root != resource_type


# compile ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Choice:
    """A choice element (`value[x]`) reached but not yet narrowed to a type."""

    parent: _Compiled
    name: str
    types: tuple[str, ...]


@dataclass(slots=True)
class _Compiled:
    """A compiled step and what is known of the type of what it yields."""

    step: Step
    type: str | None  # model type or backbone path; None when unknown
    choice: _Choice | None = None
    # a run of plain member names after `base`, kept apart so that they fuse into one loop
    base: Step | None = None
    names: tuple[str, ...] = ()


def _compile_top(node: Node, resource_type: str | None) -> Step:
    compiled = _compile(node, _Context(resource_type, resource_type, at_root=True))
    return compiled.step


@dataclass(frozen=True, slots=True)
class _Context:
    input_type: str | None
    resource_type: str | None
    at_root: bool  # the input is the resource itself (not $this inside where())


def _compile(node: Node, ctx: _Context) -> _Compiled:
    if isinstance(node, Member):
        return _compile_member(node, ctx)
    if isinstance(node, Call):
        return _compile_call(node, ctx)
    if isinstance(node, TypeOp):
        if node.op == "as":
            return _narrow(_compile(node.target, ctx), node.type_name)
        return _compile_is(node.target, node.type_name, ctx)
    if isinstance(node, Index):
        inner = _compile(node.target, ctx).step
        position = node.index

        def index(nodes: list[Any], root: dict[str, Any]) -> list[Any]:
            found = inner(nodes, root)
            return found[position : position + 1]

        return _Compiled(index, None)
    if isinstance(node, Literal):
        constant = [node.value]
        return _Compiled(lambda nodes, root: constant, None)
    if isinstance(node, Binary):
        return _compile_binary(node, ctx)
    raise Unsupported(type(node).__name__)


def _input(ctx: _Context) -> _Compiled:
    return _Compiled(_identity, ctx.input_type, base=None, names=())


def _identity(nodes: list[Any], root: dict[str, Any]) -> list[Any]:
    return nodes


def _nothing(nodes: list[Any], root: dict[str, Any]) -> list[Any]:
    return []


def _the_resource(nodes: list[Any], root: dict[str, Any]) -> list[Any]:
    """The input at the top of an expression, known to be [the resource]."""
    return [root]


def _compile_member(node: Member, ctx: _Context) -> _Compiled:
    if node.target is None:
        if node.name[:1].isupper():
            return _type_filter(node.name, ctx)
        return _member(_input(ctx), node.name)
    return _member(_compile(node.target, ctx), node.name)


def _type_filter(type_name: str, ctx: _Context) -> _Compiled:
    """A leading type name (`Patient.name`): keep the input if it is such a resource."""
    if ctx.at_root and ctx.resource_type is not None:
        if model.resource_is(ctx.resource_type, type_name):
            return _Compiled(_the_resource, ctx.resource_type)
        return _Compiled(_nothing, None)
    if type_name not in model.resource_types() and type_name not in model.ABSTRACT_RESOURCE_TYPES:
        raise Unsupported(f"type {type_name} at the start of a path")

    def resources_of_type(nodes: list[Any], root: dict[str, Any]) -> list[Any]:
        return [
            n
            for n in nodes
            if isinstance(n, dict)
            and isinstance(n.get("resourceType"), str)
            and model.resource_is(n["resourceType"], type_name)
        ]

    return _Compiled(resources_of_type, type_name)


def _member(parent: _Compiled, name: str) -> _Compiled:
    if parent.step is _nothing:  # below a type filter that can never match
        return parent
    child_type, choices = model.child(parent.type, name)
    if choices is not None:
        # all the types unless an `as`/`ofType` that follows narrows it to one key
        keys = tuple(name + model.choice_suffix(t) for t in choices)
        return _Compiled(_keys_step(parent.step, keys), None, choice=_Choice(parent, name, choices))
    base = parent.base if parent.names else parent.step
    names = (*parent.names, name)
    return _Compiled(_walk(base, names), child_type, base=base, names=names)


def _walk(base: Step | None, names: tuple[str, ...]) -> Step:
    """Follow plain element names from the input, flattening lists."""
    if base is _the_resource:
        return _walk_from_resource(names)
    if base is _identity:
        base = None

    def walk(nodes: list[Any], root: dict[str, Any]) -> list[Any]:
        if base is not None:
            nodes = base(nodes, root)
        return _descend(nodes, names)

    return walk


def _walk_from_resource(names: tuple[str, ...]) -> Step:
    """A path from the resource itself: `Patient.name.family` is three dict lookups."""
    first, rest = names[0], names[1:]
    if not rest:

        def walk_one(nodes: list[Any], root: dict[str, Any]) -> list[Any]:
            value = root.get(first)
            if value is None:
                return []
            if isinstance(value, list):
                return [item for item in value if item is not None]
            return [value]

        return walk_one

    def walk(nodes: list[Any], root: dict[str, Any]) -> list[Any]:
        value = root.get(first)
        if value is None:
            return []
        return _descend(value if isinstance(value, list) else [value], rest)

    return walk


def _descend(nodes: list[Any], names: tuple[str, ...]) -> list[Any]:
    """The values at `names` below `nodes`, arrays flattened, as FHIRPath navigates."""
    for name in names:
        out: list[Any] = []
        for item in nodes:
            if isinstance(item, dict):
                value = item.get(name)
                if value is None:
                    continue
                if isinstance(value, list):
                    out.extend(value)
                else:
                    out.append(value)
        if not out:
            return out
        nodes = out
    if None in nodes:  # a primitive list with gaps where only extensions are
        return [item for item in nodes if item is not None]
    return nodes


def _keys_step(parent: Step, keys: tuple[str, ...]) -> Step:
    """The values under any of `keys` (the JSON names of a choice element's types)."""

    def choose(nodes: list[Any], root: dict[str, Any]) -> list[Any]:
        out: list[Any] = []
        for item in parent(nodes, root):
            if isinstance(item, dict):
                for key in keys:
                    value = item.get(key)
                    if value is None:
                        continue
                    if isinstance(value, list):
                        out.extend(v for v in value if v is not None)
                    else:
                        out.append(value)
        return out

    return choose


def _narrow(compiled: _Compiled, type_spec: str) -> _Compiled:
    """`X as T` / `X.ofType(T)`: the items of X that are a T."""
    wanted = model.plain_type_name(type_spec)
    if compiled.choice is not None:
        choice = compiled.choice
        matching = [
            t
            for t in choice.types
            if model.choice_suffix(t) == model.choice_suffix(wanted) or model.is_subtype(t, wanted)
        ]
        if not matching:
            return _Compiled(_nothing, None)
        keys = tuple(choice.name + model.choice_suffix(t) for t in matching)
        if len(keys) > 1:
            return _Compiled(_keys_step(choice.parent.step, keys), wanted)
        # one JSON key: a plain member of the parent (valueQuantity), fused with its path
        narrowed = _member(choice.parent, keys[0])
        narrowed.type = matching[0]
        return narrowed
    known = compiled.type
    if known in model.ABSTRACT_RESOURCE_TYPES or known in model.resource_types():
        # a resource element (Bundle.entry.resource): test the resource's own type
        inner = compiled.step

        def resources_of_type(nodes: list[Any], root: dict[str, Any]) -> list[Any]:
            return [
                n
                for n in inner(nodes, root)
                if isinstance(n, dict)
                and isinstance(n.get("resourceType"), str)
                and model.resource_is(n["resourceType"], wanted)
            ]

        return _Compiled(resources_of_type, wanted)
    if known is not None and (known == wanted or model.is_subtype(known, wanted)):
        return compiled
    raise Unsupported(f"as {wanted} on {known}")


def _compile_call(node: Call, ctx: _Context) -> _Compiled:
    name = node.name
    target = _input(ctx) if node.target is None else _compile(node.target, ctx)
    args = node.args
    if name in ("ofType", "as") and len(args) == 1 and isinstance(args[0], Literal):
        return _narrow(target, str(args[0].value))
    if name == "is" and len(args) == 1 and isinstance(args[0], Literal):
        if node.target is None:
            raise Unsupported("is() without a target")
        return _compile_is(node.target, str(args[0].value), ctx)
    inner = target.step
    if name == "where" and len(args) == 1:
        keep = _predicate(args[0], _Context(target.type, ctx.resource_type, at_root=False))

        def where(nodes: list[Any], root: dict[str, Any]) -> list[Any]:
            return [item for item in inner(nodes, root) if keep(item, root)]

        return _Compiled(where, target.type)
    if name == "exists" and not args:
        return _Compiled(lambda nodes, root: [bool(inner(nodes, root))], "boolean")
    if name == "exists" and len(args) == 1:
        keep = _predicate(args[0], _Context(target.type, ctx.resource_type, at_root=False))
        return _Compiled(
            lambda nodes, root: [any(keep(i, root) for i in inner(nodes, root))], "boolean"
        )
    if name == "empty" and not args:
        return _Compiled(lambda nodes, root: [not inner(nodes, root)], "boolean")
    if name == "first" and not args:
        return _Compiled(lambda nodes, root: inner(nodes, root)[:1], target.type)
    if name == "last" and not args:
        return _Compiled(lambda nodes, root: inner(nodes, root)[-1:], target.type)
    if name == "not" and not args:
        return _Compiled(lambda nodes, root: _not(inner(nodes, root)), "boolean")
    if name in ("extension", "hasExtension") and len(args) == 1 and isinstance(args[0], Literal):
        url = args[0].value
        extensions = _member(target, "extension").step

        def extension(nodes: list[Any], root: dict[str, Any]) -> list[Any]:
            return [
                e for e in extensions(nodes, root) if isinstance(e, dict) and e.get("url") == url
            ]

        if name == "extension":
            return _Compiled(extension, "Extension")
        return _Compiled(
            lambda nodes, root: [bool(extension(nodes, root))] if inner(nodes, root) else [],
            "boolean",
        )
    raise Unsupported(f"function {name}()")


def _compile_is(target: Node, type_spec: str, ctx: _Context) -> _Compiled:
    """`resolve() is T` (the only `is` search expressions use) from the reference text."""
    if not (isinstance(target, Call) and target.name == "resolve" and not target.args):
        raise Unsupported("is on anything but resolve()")
    wanted = model.plain_type_name(type_spec)
    references = (_input(ctx) if target.target is None else _compile(target.target, ctx)).step

    def is_type(nodes: list[Any], root: dict[str, Any]) -> list[Any]:
        found = references(nodes, root)
        if not found:
            return []
        if len(found) > 1:
            raise ValueError("'is' needs a single item")
        kind = referenced_type(found[0], root)
        if kind is None:
            return []
        return [model.resource_is(kind, wanted)]

    return _Compiled(is_type, "boolean")


def _not(values: list[Any]) -> list[Any]:
    if not values:
        return []
    if len(values) == 1 and isinstance(values[0], bool):
        return [not values[0]]
    raise ValueError("not() needs a single boolean")


def _compile_binary(node: Binary, ctx: _Context) -> _Compiled:
    if node.op == "|":
        return _Compiled(
            _union([_compile(node.left, ctx).step, _compile(node.right, ctx).step]), None
        )
    left = _compile(node.left, ctx).step
    right = _compile(node.right, ctx).step
    if node.op in ("=", "!="):
        negate = node.op == "!="

        def compare(nodes: list[Any], root: dict[str, Any]) -> list[Any]:
            result = _equals(left(nodes, root), right(nodes, root))
            if negate and result:
                return [not result[0]]
            return result

        return _Compiled(compare, "boolean")
    if node.op in ("and", "or"):
        conjunction = node.op == "and"

        def logic(nodes: list[Any], root: dict[str, Any]) -> list[Any]:
            a = _truth(left(nodes, root))
            b = _truth(right(nodes, root))
            if conjunction:
                if a is False or b is False:
                    return [False]
                return [True] if a is True and b is True else []
            if a is True or b is True:
                return [True]
            return [False] if a is False and b is False else []

        return _Compiled(logic, "boolean")
    raise Unsupported(f"operator {node.op}")


def _truth(values: list[Any]) -> bool | None:
    """A collection as a FHIRPath boolean: empty is unknown, one item is its truth."""
    if not values:
        return None
    if len(values) > 1:
        raise ValueError("a boolean operand has several items")
    value = values[0]
    return value if isinstance(value, bool) else True


def _equals(left: list[Any], right: list[Any]) -> list[Any]:
    """FHIRPath `=`: empty if either side is empty, else item-wise equality."""
    if not left or not right:
        return []
    if len(left) != len(right):
        return [False]
    return [all(_same(a, b) for a, b in zip(left, right, strict=True))]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    return bool(a == b)


def _predicate(node: Node, ctx: _Context) -> Predicate:
    """A where() criterion as a test of one item ($this)."""
    # the usual criteria get a direct test; the rest run as a step over [item]
    if (
        isinstance(node, TypeOp)
        and node.op == "is"
        and isinstance(node.target, Call)
        and node.target.name == "resolve"
        and node.target.target is None
        and not node.target.args
    ):
        wanted = model.plain_type_name(node.type_name)

        def resolves_to(item: Any, root: dict[str, Any]) -> bool:
            kind = referenced_type(item, root)
            return kind is not None and model.resource_is(kind, wanted)

        return resolves_to
    if (
        isinstance(node, Binary)
        and node.op == "="
        and isinstance(node.left, Member)
        and node.left.target is None
        and not node.left.name[:1].isupper()
        and isinstance(node.right, Literal)
        and model.child(ctx.input_type, node.left.name)[1] is None
    ):
        return _has_value(node.left.name, node.right.value)
    step = _compile(node, ctx).step

    def holds(item: Any, root: dict[str, Any]) -> bool:
        result = step([item], root)
        return len(result) == 1 and result[0] is True

    return holds


def _has_value(key: str, expected: Any) -> Predicate:
    """`where(system = 'phone')`: the item's one value for `key` equals the literal."""
    if isinstance(expected, str):
        # only a str equals a str: no type tests needed

        def has_text(item: Any, root: dict[str, Any]) -> bool:
            if not isinstance(item, dict):
                return False
            value = item.get(key)
            if value == expected:
                return True
            return value.__class__ is list and _only(value) == [expected]

        return has_text

    def has_value(item: Any, root: dict[str, Any]) -> bool:
        if not isinstance(item, dict):
            return False
        value = item.get(key)
        if isinstance(value, list):
            value = _only(value)
            return len(value) == 1 and _same(value[0], expected)
        return value is not None and _same(value, expected)

    return has_value


def _only(values: list[Any]) -> list[Any]:
    """A JSON list as a FHIRPath collection: nulls (extension-only items) are no items."""
    return [v for v in values if v is not None] if None in values else values


def _union(steps: list[Step]) -> Step:
    """FHIRPath `|`: the items of every operand, without duplicates."""
    if not steps:
        return _nothing

    def union(nodes: list[Any], root: dict[str, Any]) -> list[Any]:
        found: list[Any] = []
        for step in steps:
            found.extend(step(nodes, root))
        return _distinct(found)

    return union


def _distinct(values: list[Any]) -> list[Any]:
    if len(values) <= 16:  # comparing is cheaper than hashing for a few
        out: list[Any] = []
        for value in values:
            if not any(_same_json(value, kept) for kept in out):
                out.append(value)
        return out
    seen: set[Any] = set()
    out = []
    for value in values:
        key = _frozen(value)
        if key not in seen:
            seen.add(key)
            out.append(value)
    return out


def _same_json(a: Any, b: Any) -> bool:
    # 1 and true are different FHIR values, though equal in Python
    return a.__class__ is b.__class__ and bool(a == b) if isinstance(a, bool) else a == b


def _frozen(value: Any) -> Any:
    """A hashable stand-in for a JSON value, equal exactly when the values are."""
    if isinstance(value, dict):
        return ("{", tuple(sorted((k, _frozen(v)) for k, v in value.items())))
    if isinstance(value, list):
        return ("[", tuple(_frozen(v) for v in value))
    return (value.__class__ is bool, value)
