"""FHIR XML -> FHIR JSON, for tests only (the official PATCH cases are written in XML).

Driven by the official StructureDefinition snapshots (via `load_definitions()`):
cardinality decides arrays (max != "1"), type codes decide primitives (lowercase codes;
boolean/integer/decimal become JSON booleans/numbers), choice elements keep their XML name
(`valueString`), `value` attributes are primitive values, `id`/`extension` on primitives go
to the `_name` sidecar, contained resources are converted recursively and the xhtml `div`
of a narrative is serialized back to an XML string.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from fhir_server.definitions import Definitions
from fhir_server.patch.model import Context, FhirModel, is_primitive, model_for
from fhir_server.patch.tree import PatchValue, append_item, set_single

FHIR_NS = "http://hl7.org/fhir"
XHTML_NS = "http://www.w3.org/1999/xhtml"
XML_NS = "http://www.w3.org/XML/1998/namespace"


def local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _namespace(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


class FhirXmlConverter:
    def __init__(self, definitions: Definitions | None = None) -> None:
        self.model: FhirModel = model_for(definitions)

    def resource_from_string(self, text: str) -> dict[str, Any]:
        return self.resource(ET.fromstring(text))

    def resource(self, element: ET.Element) -> dict[str, Any]:
        rtype = local_name(element.tag)
        if _namespace(element.tag) != FHIR_NS or not self.model.knows_type(rtype):
            raise ValueError(f"<{element.tag}> is not a FHIR resource")
        out: dict[str, Any] = {"resourceType": rtype}
        self._children(element, (rtype, rtype), out)
        return out

    def _children(self, element: ET.Element, context: Context, out: dict[str, Any]) -> None:
        for name, text in element.attrib.items():
            if name in ("value",) or name.startswith("{"):
                continue
            self._put(out, context, name, self._attribute(context, name, text), None)
        for child in element:
            if not isinstance(child.tag, str):  # comments, processing instructions
                continue
            name = local_name(child.tag)
            value, extension = self._element(child, context, name)
            self._put(out, context, name, value, extension)

    def _attribute(self, context: Context, name: str, text: str) -> Any:
        resolved = self.model.resolve_key(context, name)
        if resolved is None:
            raise ValueError(f"unknown attribute '{name}' in {context[1]}")
        element, named = resolved
        return primitive_value(named or element.types[0], text)

    def _element(self, child: ET.Element, context: Context, name: str) -> tuple[Any, Any]:
        resolved = self.model.resolve_key(context, name)
        if resolved is None:
            raise ValueError(f"unknown element '{name}' in {context[1]}")
        element, named = resolved
        code = named or (element.types[0] if len(element.types) == 1 else None)
        if code == "xhtml":
            return serialize_xhtml(child), None
        if code in ("Resource", "DomainResource"):
            inner = [c for c in child if isinstance(c.tag, str)]
            if len(inner) != 1:
                raise ValueError(f"<{name}> must contain exactly one resource")
            return self.resource(inner[0]), None
        if code is not None and is_primitive(code) and not element.content_reference:
            value = (
                primitive_value(code, child.attrib["value"]) if "value" in child.attrib else None
            )
            sidecar: dict[str, Any] = {}
            self._children(child, (code, code), sidecar)
            return value, sidecar or None
        child_context = self.model.child_context(element, named)
        if child_context is None:
            raise ValueError(f"cannot tell the type of '{element.path}'")
        obj: dict[str, Any] = {}
        self._children(child, child_context, obj)
        return obj, None

    def _put(self, out: dict[str, Any], context: Context, name: str, value: Any, ext: Any) -> None:
        resolved = self.model.resolve_key(context, name)
        assert resolved is not None
        item = PatchValue(value, ext, None)
        if resolved[0].repeating:
            append_item(out, name, item)
        else:
            set_single(out, name, item)


def primitive_value(type_code: str, text: str) -> Any:
    if type_code == "boolean":
        if text not in ("true", "false"):
            raise ValueError(f"invalid boolean '{text}'")
        return text == "true"
    if type_code in ("integer", "positiveInt", "unsignedInt"):
        return int(text)
    if type_code == "decimal":
        return int(text) if text.lstrip("-").isdigit() else float(text)
    return text


def serialize_xhtml(element: ET.Element) -> str:
    """The XHTML element as a string, with the XHTML namespace as default namespace."""
    return _serialize(element, root=True)


def _serialize(element: ET.Element, root: bool) -> str:
    tag = local_name(element.tag)
    attrs = [f' xmlns="{XHTML_NS}"'] if root else []
    for name, value in element.attrib.items():
        prefix = "xml:" if name.startswith("{" + XML_NS + "}") else ""
        attrs.append(f' {prefix}{local_name(name)}="{_escape(value, True)}"')
    inner = _escape(element.text or "", False)
    for child in element:
        if isinstance(child.tag, str):
            inner += _serialize(child, root=False)
        inner += _escape(child.tail or "", False)
    if not inner:
        return f"<{tag}{''.join(attrs)}/>"
    return f"<{tag}{''.join(attrs)}>{inner}</{tag}>"


def _escape(text: str, attribute: bool) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace('"', "&quot;") if attribute else text


def parse_test_cases(path: str) -> list[dict[str, Any]]:
    """The <case> elements of the official fhir-patch-tests.xml, converted to JSON."""
    converter = FhirXmlConverter()
    cases: list[dict[str, Any]] = []
    for case in ET.parse(path).getroot().iter("case"):
        entry: dict[str, Any] = {"name": case.get("name"), "mode": case.get("mode")}
        for part in ("input", "diff", "output"):
            holder = case.find(part)
            if holder is not None:
                inner = [c for c in holder if isinstance(c.tag, str)]
                entry[part] = converter.resource(inner[0])
        error = case.find("error")
        if error is not None:
            entry["error"] = error.get("msg", "")
        cases.append(entry)
    return cases
