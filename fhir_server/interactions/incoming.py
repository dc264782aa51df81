"""Checks on a resource a client sends, before anything is stored."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fhir_server.ids import is_valid_id
from fhir_server.outcome import FhirError, Issue, bad_request, not_found
from fhir_server.runtime import Runtime
from fhir_server.storage.port import Criteria
from fhir_server.validation.on_write import check_profiles_on_write


def check_type(runtime: Runtime, resource_type: str) -> None:
    if resource_type not in runtime.definitions.resource_types:
        raise not_found(f"Unknown resource type '{resource_type}'")


def check_id(rid: str) -> None:
    if not is_valid_id(rid):
        raise bad_request(f"'{rid}' is not a valid resource id ([A-Za-z0-9-.]{{1,64}})")


def check_resource(runtime: Runtime, body: Any, resource_type: str | None) -> dict[str, Any]:
    """A structurally valid resource of the expected type, or a 400 naming what is wrong."""
    if not isinstance(body, dict):
        raise bad_request("The body must be a JSON object holding a FHIR resource")
    declared = body.get("resourceType")
    if not isinstance(declared, str):
        raise bad_request("The resource has no resourceType", "resourceType")
    if declared not in runtime.definitions.resource_types:
        raise bad_request(f"Unknown resourceType '{declared}'", "resourceType")
    if resource_type is not None and declared != resource_type:
        raise bad_request(
            f"resourceType '{declared}' does not match the type in the URL '{resource_type}'",
            "resourceType",
        )
    issues = runtime.validator.validate(body)
    if issues:
        raise FhirError(400, issues)
    check_profiles_on_write(runtime, body)
    return body


def parse_criteria_text(query: str) -> Criteria:
    """Search criteria from a query string (If-None-Exist, conditional URLs)."""
    query = query.split("?", 1)[1] if "?" in query else query
    pairs = parse_qsl(query, keep_blank_values=True)
    if not pairs:
        raise bad_request("Conditional criteria must not be empty")
    return pairs


def criteria_issue(count: int, what: str) -> Issue:
    return Issue("error", "multiple-matches", f"{what}: the criteria matched {count} resources")


def parse_etag(value: str | None) -> int | None:
    """The version number in an If-Match value: W/"3", "3" or 3."""
    if value is None:
        return None
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    if not text.isdigit():
        raise bad_request(f"If-Match '{value}' is not a version ETag such as W/\"3\"")
    return int(text)
