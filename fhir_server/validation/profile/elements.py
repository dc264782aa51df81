"""A snapshot as a tree: each element with its children by name and its slices.

Built once per StructureDefinition from the snapshot's element ids (`A.b:slice.c`), and
holding only what the validator reads, so that the walk is dictionary lookups.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fhir_server.conformance.snapshot import element_id, split_id

SYSTEM_TYPE_PREFIX = "http://hl7.org/fhirpath/System."
# the R4 primitive types (their JSON value is a scalar, their extensions sit in `_name`)
PRIMITIVES = frozenset(
    {
        "base64Binary",
        "boolean",
        "canonical",
        "code",
        "date",
        "dateTime",
        "decimal",
        "id",
        "instant",
        "integer",
        "markdown",
        "oid",
        "positiveInt",
        "string",
        "time",
        "unsignedInt",
        "uri",
        "url",
        "uuid",
        "xhtml",
    }
)


@dataclass(frozen=True, slots=True)
class TypeRef:
    code: str
    profiles: tuple[str, ...] = ()
    target_profiles: tuple[str, ...] = ()

    @property
    def suffix(self) -> str:
        """The type's name in a choice element's JSON name: dateTime → DateTime."""
        return self.code[:1].upper() + self.code[1:]

    @property
    def is_primitive(self) -> bool:
        return self.code in PRIMITIVES or self.code.startswith(SYSTEM_TYPE_PREFIX)


@dataclass(frozen=True, slots=True)
class Constraint:
    key: str
    severity: str
    human: str
    expression: str
    source: str


@dataclass(eq=False, slots=True)
class ElementDef:
    id: str
    path: str
    name: str  # the last path segment: "identifier", "value[x]"
    min: int
    max: int | None  # None: unbounded
    types: tuple[TypeRef, ...]
    slice_name: str | None = None
    fixed: tuple[str, Any] | None = None  # ("fixedUri", value)
    pattern: tuple[str, Any] | None = None
    binding: tuple[str, str] | None = None  # (strength, value set canonical)
    constraints: tuple[Constraint, ...] = ()
    slicing: dict[str, Any] | None = None
    content_reference: str | None = None
    max_length: int | None = None
    children: dict[str, ElementDef] = field(default_factory=dict)
    slices: list[ElementDef] = field(default_factory=list)
    # JSON names of choice children (`valueQuantity`) → the child and the type it names
    choice_keys: dict[str, tuple[ElementDef, TypeRef]] = field(default_factory=dict)
    # children that must be present (min > 0, or a slice with min > 0)
    required: tuple[ElementDef, ...] = ()

    @property
    def is_choice(self) -> bool:
        return self.name.endswith("[x]")

    def type_for_suffix(self, suffix: str) -> TypeRef | None:
        for type_ref in self.types:
            if type_ref.suffix == suffix:
                return type_ref
        return None


@dataclass(eq=False, slots=True)
class ElementTree:
    """One StructureDefinition, ready for the walk."""

    url: str
    type: str
    kind: str
    root: ElementDef
    by_id: dict[str, ElementDef]
    # an extension's contexts: (type, expression) pairs
    contexts: tuple[tuple[str, str], ...] = ()


def build_tree(sd: dict[str, Any]) -> ElementTree:
    elements = sd["snapshot"]["element"]
    nodes: dict[str, ElementDef] = {}
    root = _element(elements[0])
    nodes[root.id] = root
    for raw in elements[1:]:
        node = _element(raw)
        parent_id, name, slice_name = split_id(node.id)
        nodes[node.id] = node
        if slice_name is not None:
            base = nodes.get(f"{parent_id}.{name}")
            if base is not None and "/" not in slice_name:
                base.slices.append(node)
            continue
        parent = nodes.get(parent_id)
        if parent is not None:
            parent.children[name] = node
    for node in nodes.values():
        _index_children(node)
    contexts = tuple((c.get("type", ""), c.get("expression", "")) for c in sd.get("context", ()))
    return ElementTree(sd.get("url", ""), sd["type"], sd.get("kind", ""), root, nodes, contexts)


def _index_children(node: ElementDef) -> None:
    for name, child in node.children.items():
        if child.is_choice:
            for type_ref in child.types:
                node.choice_keys[name[:-3] + type_ref.suffix] = (child, type_ref)
    node.required = tuple(
        child
        for child in node.children.values()
        if child.min > 0 or any(s.min > 0 for s in child.slices)
    )


def _element(raw: dict[str, Any]) -> ElementDef:
    eid = element_id(raw)
    _, name, _ = split_id(eid)
    fixed = pattern = None
    for key, value in raw.items():
        if key.startswith("fixed"):
            fixed = (key, value)
        elif key.startswith("pattern"):
            pattern = (key, value)
    binding = raw.get("binding")
    max_text = str(raw.get("max", "*"))
    return ElementDef(
        id=eid,
        path=raw["path"],
        name=name,
        min=int(raw.get("min", 0)),
        max=None if max_text == "*" else int(max_text),
        types=tuple(
            TypeRef(
                t["code"],
                tuple(t.get("profile", ())),
                tuple(t.get("targetProfile", ())),
            )
            for t in raw.get("type", ())
        ),
        slice_name=raw.get("sliceName"),
        fixed=fixed,
        pattern=pattern,
        binding=(
            (binding["strength"], binding["valueSet"])
            if binding and binding.get("valueSet")
            else None
        ),
        constraints=tuple(
            Constraint(
                c.get("key", ""),
                c.get("severity", "error"),
                c.get("human", ""),
                c["expression"],
                c.get("source", ""),
            )
            for c in raw.get("constraint", ())
            if c.get("expression")
        ),
        slicing=raw.get("slicing"),
        content_reference=raw.get("contentReference"),
        max_length=raw.get("maxLength"),
    )
