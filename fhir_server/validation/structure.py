"""Structural validation: the official R4 JSON schema plus the JSON rules it misses."""

from __future__ import annotations

import gzip
import threading
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson

from fhir_server import fhirjson
from fhir_server.outcome import Issue
from fhir_server.validation.json_rules import check_json_rules
from fhir_server.validation.schema_fixes import fix_schema

SCHEMA_PATH = Path(__file__).parent.parent / "definitions" / "fhir.schema.json.gz"


def expression_of(resource_type: str, path: list[str | int] | tuple[str | int, ...]) -> str:
    """A FHIRPath-style location from a JSON path: Patient.name[0].given[1]."""
    out = resource_type
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


class StructureValidator:
    """One compiled schema validator per resource type, compiled on first use."""

    def __init__(self, schema_path: Path = SCHEMA_PATH) -> None:
        self._schema = fix_schema(orjson.loads(gzip.decompress(schema_path.read_bytes())))
        self._schema.pop("oneOf", None)
        self._schema.pop("discriminator", None)
        self._validators: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _validator(self, resource_type: str) -> Any:
        validator = self._validators.get(resource_type)
        if validator is None:
            with self._lock:
                validator = self._validators.get(resource_type)
                if validator is None:
                    schema = dict(self._schema)
                    schema["$ref"] = f"#/definitions/{resource_type}"
                    validator = jsonschema_rs.Draft6Validator(schema)
                    self._validators[resource_type] = validator
        return validator

    def validate(self, resource: dict[str, Any]) -> list[Issue]:
        """Issues (errors) of a resource whose resourceType is already known to be valid."""
        resource_type = resource["resourceType"]
        issues = check_json_rules(resource, resource_type)
        validator = self._validator(resource_type)
        try:
            valid = validator.is_valid(resource)
        except ValueError:
            # the schema library takes only plain floats: check precise decimals as floats
            resource = fhirjson.plain(resource)
            valid = validator.is_valid(resource)
        if valid:
            return issues
        try:
            errors = list(validator.iter_errors(resource))
        except ValueError:
            errors = list(validator.iter_errors(fhirjson.plain(resource)))
        seen = {i.expression for i in issues}
        for err in errors:
            where = list(err.instance_path)
            unexpected = getattr(err.kind, "unexpected", None)
            paths = [[*where, name] for name in unexpected] if unexpected else [where]
            for path in paths:
                expression = (expression_of(resource_type, path),)
                if expression not in seen:
                    issues.append(Issue("error", "structure", _message(err), expression))
        return issues


def _message(err: Any) -> str:
    message: str = err.message
    if len(message) > 300:
        message = message[:300] + "…"
    return message


@cache
def default_validator() -> StructureValidator:
    """One validator per process: compiled per-type schemas are reused by every app."""
    return StructureValidator()
