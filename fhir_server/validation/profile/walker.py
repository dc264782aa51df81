"""The walk of one instance along an element tree.

Each JSON property is matched to its element definition (choice names such as
`valueQuantity` to `value[x]`), counted against min/max, compared with fixed and pattern
values, checked against its binding and invariants, and descended into: along the
snapshot's own children when the profile has them, else along the tree of its type (the
type's profile, or the core type). Extensions are checked against their definitions found
by URL, contained and bundled resources against their own types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fhir_server.outcome import Issue
from fhir_server.validation.profile.bindings import check_binding
from fhir_server.validation.profile.elements import ElementDef, ElementTree, TypeRef
from fhir_server.validation.profile.extensions import check_context
from fhir_server.validation.profile.references import check_reference
from fhir_server.validation.profile.slicing import slice_of
from fhir_server.validation.profile.swedish_rules import check_coding, check_identifier
from fhir_server.validation.profile.values import matches_fixed, matches_pattern

if TYPE_CHECKING:
    from fhir_server.validation.profile.validator import ProfileValidator

_RESOURCE_TYPES = frozenset({"Resource", "DomainResource"})
_ROOT_CONTEXTS = frozenset({"Element", "Base", "Resource", "DomainResource"})


@dataclass(slots=True)
class Report:
    """What one validation found, and how much it could not check."""

    issues: list[Issue] = field(default_factory=list)
    invariants_checked: int = 0
    invariants_skipped: int = 0
    skipped_keys: set[str] = field(default_factory=set)
    bindings_unchecked: int = 0

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity in ("error", "fatal")]


class Walk:
    def __init__(self, validator: ProfileValidator, report: Report) -> None:
        self.validator = validator
        self.report = report
        self.resources: list[dict[str, Any]] = []
        self.trees: list[ElementTree] = []

    def issue(self, severity: str, code: str, rule: str, message: str, expr: str) -> None:
        self.report.issues.append(Issue(severity, code, f"{rule}: {message}", (expr,)))

    # -- resources ---------------------------------------------------------------------

    def resource(self, resource: dict[str, Any], tree: ElementTree, expr: str) -> None:
        self.resources.append(resource)
        self.trees.append(tree)
        try:
            root = tree.root
            rtype = str(resource.get("resourceType"))
            if tree.type not in _RESOURCE_TYPES and rtype != tree.type:
                self.issue(
                    "error",
                    "invalid",
                    "profile-type",
                    f"{tree.url} is a profile of {tree.type}, not of {rtype}",
                    expr,
                )
                return
            self.constraints(root.constraints, resource, rtype, expr)
            self.object(root, resource, expr, rtype, (root.path, rtype))
        finally:
            self.resources.pop()
            self.trees.pop()

    def nested_resource(self, value: dict[str, Any], type_ref: TypeRef, expr: str) -> None:
        rtype = value.get("resourceType")
        if not isinstance(rtype, str):
            self.issue("error", "structure", "resource", "a resource needs a resourceType", expr)
            return
        profiles = type_ref.profiles if type_ref.code not in _RESOURCE_TYPES else ()
        tree = self.validator.tree(profiles[0] if profiles else rtype)
        if tree is None:
            self.issue("error", "structure", "resource", f"unknown resource type {rtype}", expr)
            return
        self.resource(value, tree, expr)

    # -- objects -----------------------------------------------------------------------

    def object(
        self,
        node: ElementDef,
        obj: dict[str, Any],
        expr: str,
        type_name: str,
        host: tuple[str, str],
    ) -> None:
        """The properties of a JSON object against the children of `node`."""
        children = node.children
        seen: set[str] = set()
        for key in obj:
            name = key[1:] if key.startswith("_") else key
            if name in seen or (name == "resourceType" and "." not in node.path):
                continue
            seen.add(name)
            child = children.get(name)
            type_ref: TypeRef | None = None
            if child is None:
                found = node.choice_keys.get(name)
                if found is None:
                    self.issue(
                        "error",
                        "structure",
                        "unknown-element",
                        f"{name} is not an element of {type_name}",
                        f"{expr}.{name}",
                    )
                    continue
                child, type_ref = found
            self.items(child, type_ref, obj.get(name), obj.get("_" + name), f"{expr}.{name}", host)
        for child in node.required:
            present = child.name in seen or (
                child.is_choice and any(k in seen for k in _choice_names(node, child))
            )
            if not present:
                if child.min > 0:
                    self.issue(
                        "error",
                        "required",
                        "cardinality",
                        f"{child.path} is required (min {child.min}) but absent",
                        f"{expr}.{child.name.removesuffix('[x]')}",
                    )
                for slice_def in child.slices:
                    if slice_def.min > 0:
                        self.issue(
                            "error",
                            "required",
                            "slice-cardinality",
                            f"slice {slice_def.slice_name} of {child.path} needs at least"
                            f" {slice_def.min} item(s), found 0",
                            f"{expr}.{child.name.removesuffix('[x]')}",
                        )

    def items(
        self,
        el: ElementDef,
        type_ref: TypeRef | None,
        value: Any,
        ext: Any,
        expr: str,
        host: tuple[str, str],
    ) -> None:
        is_list = isinstance(value, list) or isinstance(ext, list)
        values = value if isinstance(value, list) else ([] if value is None else [value])
        exts = ext if isinstance(ext, list) else ([] if ext is None else [ext])
        count = max(len(values), len(exts))
        if el.max is not None and count > el.max:
            allowed = "is not allowed here" if el.max == 0 else f"allows at most {el.max}"
            self.issue(
                "error",
                "structure",
                "cardinality",
                f"{el.path} {allowed}; found {count}",
                expr,
            )
        elif count < el.min:
            self.issue(
                "error",
                "required",
                "cardinality",
                f"{el.path} needs at least {el.min} item(s), found {count}",
                expr,
            )
        counts = [0] * len(el.slices)
        rules = (el.slicing or {}).get("rules", "open")
        for index in range(count):
            item = values[index] if index < len(values) else None
            item_ext = exts[index] if index < len(exts) else None
            where = f"{expr}[{index}]" if is_list else expr
            target = el
            if el.slices:
                matched = slice_of(self, el, type_ref, item)
                if matched is not None:
                    counts[matched] += 1
                    target = el.slices[matched]
                elif rules == "closed":
                    self.issue(
                        "error",
                        "structure",
                        "slicing-closed",
                        f"the slicing of {el.path} is closed and this item matches none of"
                        f" its slices ({', '.join(str(s.slice_name) for s in el.slices)})",
                        where,
                    )
            self.item(target, type_ref, item, item_ext, where, host)
        for slice_def, found in zip(el.slices, counts, strict=True):
            if found < slice_def.min or (slice_def.max is not None and found > slice_def.max):
                bound = f"{slice_def.min}..{'*' if slice_def.max is None else slice_def.max}"
                self.issue(
                    "error",
                    "structure",
                    "slice-cardinality",
                    f"slice {slice_def.slice_name} of {el.path} allows {bound} item(s),"
                    f" found {found}",
                    expr,
                )

    def item(
        self,
        el: ElementDef,
        type_ref: TypeRef | None,
        value: Any,
        ext: Any,
        expr: str,
        host: tuple[str, str],
    ) -> None:
        if el.content_reference:
            referenced = self.trees[-1].by_id.get(el.content_reference.rpartition("#")[2])
            if referenced is None:
                return
            el = _with_cardinality_of(referenced, el)
        if type_ref is None:
            if len(el.types) != 1:
                return
            type_ref = el.types[0]
        elif el.is_choice:
            type_ref = el.type_for_suffix(type_ref.suffix) or type_ref
        if type_ref.is_primitive:
            self.primitive(el, type_ref, value, ext, expr)
            return
        if not isinstance(value, dict):
            self.issue(
                "error",
                "structure",
                "type",
                f"{el.path} must be a JSON object ({type_ref.code})",
                expr,
            )
            return
        code = type_ref.code
        if code in _RESOURCE_TYPES or self.validator.is_resource_type(code):
            self.nested_resource(value, type_ref, expr)
            return
        self.values(el, code, value, expr)
        if code == "Identifier":
            check_identifier(self, value, expr)
        elif code == "Coding":
            check_coding(self, value, expr)
        elif code == "Reference":
            check_reference(self, type_ref, value, expr)
        node, type_tree = self.children_of(el, type_ref, value, expr)
        if node is None:
            return
        if code == "Extension" and type_tree is not None and type_tree.contexts:
            check_context(self, type_tree, host, expr)
        backbone = code in ("BackboneElement", "Element") and bool(el.children)
        type_name = el.path if backbone else code
        constraints = el.constraints
        if type_tree is not None and type_tree.root.constraints:
            keys = {c.key for c in constraints}
            constraints = constraints + tuple(
                c for c in type_tree.root.constraints if c.key not in keys
            )
        self.constraints(constraints, value, type_name, expr)
        self.object(node, value, expr, type_name, (el.path, type_name))

    def children_of(
        self, el: ElementDef, type_ref: TypeRef, value: dict[str, Any], expr: str
    ) -> tuple[ElementDef | None, ElementTree | None]:
        """The definition of the object's properties: the profile's own children, or the
        tree of its type (an extension's definition by its URL)."""
        if type_ref.code == "Extension" and not type_ref.profiles and not el.children:
            url = value.get("url")
            tree = self.validator.tree_by_url(url) if isinstance(url, str) else None
            if tree is None:
                self.issue(
                    "warning",
                    "not-supported",
                    "extension-unknown",
                    f"the extension {url} is unknown here; only its structure is checked",
                    expr,
                )
                tree = self.validator.tree(type_ref.code)
            return (tree.root, tree) if tree is not None else (None, None)
        tree = self.validator.tree(type_ref.profiles[0] if type_ref.profiles else type_ref.code)
        if tree is None and type_ref.profiles:
            self.issue(
                "warning",
                "not-supported",
                "profile-unknown",
                f"the profile {type_ref.profiles[0]} is unknown here",
                expr,
            )
            tree = self.validator.tree(type_ref.code)
        if el.children:
            return el, tree
        return (tree.root, tree) if tree is not None else (None, None)

    def primitive(self, el: ElementDef, type_ref: TypeRef, value: Any, ext: Any, expr: str) -> None:
        if value is not None:
            if isinstance(value, (dict, list)):
                self.issue(
                    "error",
                    "structure",
                    "type",
                    f"{el.path} is a {type_ref.code}, not a JSON {type(value).__name__}",
                    expr,
                )
                return
            self.values(el, type_ref.code, value, expr)
            if el.max_length and isinstance(value, str) and len(value) > el.max_length:
                self.issue(
                    "error",
                    "too-long",
                    "max-length",
                    f"{el.path} allows {el.max_length} characters, found {len(value)}",
                    expr,
                )
            if el.constraints:
                self.constraints(el.constraints, value, type_ref.code, expr)
        if isinstance(ext, dict):
            node = el if el.children else None
            if node is None:
                tree = self.validator.tree(type_ref.code)
                node = tree.root if tree is not None else None
            if node is not None:
                self.object(node, ext, expr, type_ref.code, (el.path, type_ref.code))

    # -- values ------------------------------------------------------------------------

    def values(self, el: ElementDef, code: str, value: Any, expr: str) -> None:
        if el.fixed is not None and not matches_fixed(value, el.fixed[1]):
            self.issue(
                "error",
                "value",
                "fixed",
                f"{el.path} must be exactly {_short(el.fixed[1])} ({el.fixed[0]})",
                expr,
            )
        if el.pattern is not None and not matches_pattern(value, el.pattern[1]):
            self.issue(
                "error",
                "value",
                "pattern",
                f"{el.path} must match {_short(el.pattern[1])} ({el.pattern[0]})",
                expr,
            )
        if el.binding is not None:
            check_binding(self, el, code, value, expr)

    def constraints(self, constraints: Any, node: Any, type_name: str, expr: str) -> None:
        if not constraints:
            return
        invariants = self.validator.invariants
        resource = self.resources[-1] if self.resources else node
        root = self.resources[0] if self.resources else node
        for constraint in constraints:
            holds = invariants.holds(constraint, node, type_name, resource, root)
            if holds is None:
                self.report.invariants_skipped += 1
                self.report.skipped_keys.add(constraint.key)
                continue
            self.report.invariants_checked += 1
            if not holds:
                severity = "error" if constraint.severity == "error" else "warning"
                self.issue(
                    severity,
                    "invariant",
                    f"invariant {constraint.key}",
                    f"{constraint.human} [{constraint.expression}]",
                    expr,
                )


def _choice_names(node: ElementDef, child: ElementDef) -> list[str]:
    return [key for key, (c, _) in node.choice_keys.items() if c is child]


def _with_cardinality_of(referenced: ElementDef, el: ElementDef) -> ElementDef:
    """A contentReference element: the referenced definition's content, el's place."""
    return ElementDef(
        id=el.id,
        path=el.path,
        name=el.name,
        min=el.min,
        max=el.max,
        types=referenced.types,
        constraints=referenced.constraints,
        children=referenced.children,
        choice_keys=referenced.choice_keys,
        required=referenced.required,
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."
