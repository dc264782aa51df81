"""Element definitions (cardinality, types, choice) from the official StructureDefinitions.

A *context* names where an element's children are defined: a type and a path inside that
type's StructureDefinition, e.g. ("Patient", "Patient"), ("Patient", "Patient.contact")
for a backbone element, ("HumanName", "HumanName") for a data type.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from fhir_server.definitions import Definitions, load_definitions

SD_BASE = "http://hl7.org/fhir/StructureDefinition/"
_FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"

PRIMITIVE_TYPES = frozenset(
    {
        "base64Binary", "boolean", "canonical", "code", "date", "dateTime", "decimal", "id",
        "instant", "integer", "markdown", "oid", "positiveInt", "string", "time",
        "unsignedInt", "uri", "url", "uuid", "xhtml",
    }
)  # fmt: skip
NUMBER_TYPES = frozenset({"decimal", "integer", "positiveInt", "unsignedInt"})
QUANTITY_TYPES = frozenset(
    {"Quantity", "Age", "Count", "Distance", "Duration", "MoneyQuantity", "SimpleQuantity"}
)

Context = tuple[str, str]


@dataclass(frozen=True, slots=True)
class ElementDef:
    path: str  # e.g. "Patient.deceased[x]"
    name: str  # JSON name without "[x]", e.g. "deceased"
    max: str
    types: tuple[str, ...]
    choice: bool
    content_reference: str | None  # e.g. "#Questionnaire.item"
    owner: str  # the type whose StructureDefinition defines this element

    @property
    def repeating(self) -> bool:
        return self.max != "1"

    @property
    def primitive(self) -> bool:
        return bool(self.types) and all(is_primitive(t) for t in self.types)


def is_primitive(type_code: str) -> bool:
    return type_code in PRIMITIVE_TYPES or type_code[:1].islower()


def type_suffix(type_code: str) -> str:
    """The suffix a choice element takes for a type: 'dateTime' -> 'DateTime'."""
    return type_code[:1].upper() + type_code[1:]


def type_from_suffix(suffix: str) -> str:
    """The type a choice suffix names: 'DateTime' -> 'dateTime', 'Coding' -> 'Coding'."""
    lowered = suffix[:1].lower() + suffix[1:]
    return lowered if lowered in PRIMITIVE_TYPES else suffix


def json_kind(type_code: str) -> str:
    """How a primitive type is written in JSON: 'boolean', 'number' or 'string'."""
    if type_code == "boolean":
        return "boolean"
    if type_code in NUMBER_TYPES:
        return "number"
    return "string"


def _type_code(entry: dict[str, Any]) -> str:
    code = str(entry.get("code", ""))
    if code.startswith("http://hl7.org/fhirpath/System."):
        for ext in entry.get("extension", []):
            if ext.get("url") == _FHIR_TYPE_EXT and "valueUrl" in ext:
                return str(ext["valueUrl"])
        return "string"
    return code


class FhirModel:
    """Lookup of element definitions, built lazily per type from snapshots."""

    def __init__(self, definitions: Definitions) -> None:
        self._definitions = definitions
        self._by_type: dict[str, dict[str, ElementDef] | None] = {}

    def _elements(self, type_name: str) -> dict[str, ElementDef] | None:
        if type_name in self._by_type:
            return self._by_type[type_name]
        sd = self._definitions.resource_by_url(SD_BASE + type_name)
        table: dict[str, ElementDef] | None = None
        if sd is not None and "snapshot" in sd:
            table = {}
            for el in sd["snapshot"].get("element", []):
                path: str = el["path"]
                last = path.rsplit(".", 1)[-1]
                choice = last.endswith("[x]")
                table[path] = ElementDef(
                    path=path,
                    name=last[:-3] if choice else last,
                    max=str(el.get("max", "*")),
                    types=tuple(_type_code(t) for t in el.get("type", [])),
                    choice=choice,
                    content_reference=el.get("contentReference"),
                    owner=type_name,
                )
        self._by_type[type_name] = table
        return table

    def knows_type(self, type_name: str) -> bool:
        return self._elements(type_name) is not None

    def element(self, context: Context, name: str) -> ElementDef | None:
        """The child element `name` (JSON name without a choice suffix) of a context."""
        table = self._elements(context[0])
        if table is None:
            return None
        path = f"{context[1]}.{name}"
        found = table.get(path)
        if found is not None and not found.choice:
            return found
        return table.get(path + "[x]")

    def resolve_key(self, context: Context, key: str) -> tuple[ElementDef, str | None] | None:
        """The element a JSON property belongs to, and the type its choice suffix names.

        'birthDate' -> (Patient.birthDate, None); 'deceasedBoolean' -> (Patient.deceased[x],
        'boolean'). None if the context has no such element.
        """
        direct = self.element(context, key)
        if direct is not None and not direct.choice:
            return direct, None
        for cut in range(len(key) - 1, 0, -1):
            if not key[cut].isupper():
                continue
            candidate = self.element(context, key[:cut])
            if candidate is not None and candidate.choice:
                type_code = type_from_suffix(key[cut:])
                if type_code in candidate.types:
                    return candidate, type_code
        return None

    def child_context(
        self, element: ElementDef, type_code: str | None = None, data: Any = None
    ) -> Context | None:
        """Where the children of a value of `element` are defined."""
        if element.content_reference:
            return element.owner, element.content_reference.lstrip("#").split("#")[-1]
        code = type_code or (element.types[0] if len(element.types) == 1 else None)
        if code is None:
            return None
        if code in ("BackboneElement", "Element") and element.path.count("."):
            return element.owner, element.path
        if code == "Resource" or code == "DomainResource":
            if isinstance(data, dict) and isinstance(data.get("resourceType"), str):
                return data["resourceType"], data["resourceType"]
            return None
        return code, code

    def resource_context(self, resource: dict[str, Any]) -> Context | None:
        rtype = resource.get("resourceType")
        if isinstance(rtype, str) and self.knows_type(rtype):
            return rtype, rtype
        return None


_lock = threading.Lock()
_models: dict[int, tuple[Definitions, FhirModel]] = {}


def model_for(definitions: Definitions | None = None) -> FhirModel:
    """The model of the given definitions, or of the core package loaded once."""
    with _lock:
        if definitions is None:
            cached = _models.get(0)
            if cached is None:
                loaded = load_definitions()
                cached = (loaded, FhirModel(loaded))
                _models[0] = cached
            return cached[1]
        entry = _models.get(id(definitions))
        if entry is None or entry[0] is not definitions:
            entry = (definitions, FhirModel(definitions))
            _models[id(definitions)] = entry
        return entry[1]
