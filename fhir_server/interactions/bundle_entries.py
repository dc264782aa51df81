"""Reading the entries of a batch or transaction Bundle into plans (http.html#transaction)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fhir_server import fhirjson
from fhir_server.interactions.incoming import (
    check_id,
    check_resource,
    check_type,
    parse_criteria_text,
    parse_etag,
)
from fhir_server.interactions.patch import FHIRPATH_PATCH, JSON_PATCH
from fhir_server.outcome import FhirError, Issue, bad_request
from fhir_server.runtime import Runtime
from fhir_server.storage.port import Criteria

# Processing order of transaction entries: DELETE, POST, PUT/PATCH, GET/HEAD.
ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}


@dataclass
class EntryPlan:
    index: int
    method: str
    resource_type: str
    rid: str | None
    vid: int | None
    criteria: Criteria | None  # Type?criteria in the URL
    full_url: str | None
    resource: dict[str, Any] | None = None
    patch_kind: str | None = None
    patch_body: Any = None
    if_match: int | None = None
    if_none_exist: Criteria | None = None
    query: str = ""


def _relative(url: str, base: str) -> str:
    if base and url.startswith(base + "/"):
        return url[len(base) + 1 :]
    if url.startswith(("http://", "https://")):
        parts = urlsplit(url)
        raise bad_request(f"Entry URL {url} is not on this server ({parts.netloc})")
    return url.lstrip("/")


def plan_entry(runtime: Runtime, index: int, entry: Any, base: str) -> EntryPlan:
    where = f"Bundle.entry[{index}]"
    if not isinstance(entry, dict):
        raise bad_request("A Bundle entry must be an object", where)
    request = entry.get("request")
    if not isinstance(request, dict):
        raise bad_request("The entry has no request", f"{where}.request")
    method = str(request.get("method", "")).upper()
    if method not in ORDER:
        raise bad_request(f"Unsupported entry method '{method}'", f"{where}.request.method")
    url = request.get("url")
    if not isinstance(url, str) or not url:
        raise bad_request("The entry has no request.url", f"{where}.request.url")
    relative = _relative(url, base)
    path, _, query = relative.partition("?")
    segments = [s for s in path.split("/") if s]
    if not segments:
        raise bad_request(f"Entry URL '{url}' names no resource type", f"{where}.request.url")
    resource_type = segments[0]
    check_type(runtime, resource_type)
    rid = segments[1] if len(segments) > 1 else None
    vid = None
    if len(segments) == 4 and segments[2] == "_history" and segments[3].isdigit():
        vid = int(segments[3])
    elif len(segments) > 2:
        raise bad_request(f"Entry URL '{url}' is not supported", f"{where}.request.url")
    if rid is not None:
        check_id(rid)
    plan = EntryPlan(
        index=index,
        method=method,
        resource_type=resource_type,
        rid=rid,
        vid=vid,
        criteria=parse_criteria_text(query) if query and method != "GET" else None,
        full_url=entry.get("fullUrl"),
        query=query,
    )
    if request.get("ifMatch"):
        plan.if_match = parse_etag(request["ifMatch"])
    if request.get("ifNoneExist"):
        plan.if_none_exist = parse_criteria_text(request["ifNoneExist"])
    body = entry.get("resource")
    if method in ("POST", "PUT"):
        if rid is None and method == "PUT" and plan.criteria is None:
            raise bad_request("PUT needs Type/id or Type?criteria", f"{where}.request.url")
        if method == "POST" and rid is not None:
            raise bad_request("POST goes to the type, not an id", f"{where}.request.url")
        try:
            plan.resource = check_resource(runtime, body, resource_type)
        except FhirError as exc:
            raise _at_entry(exc, where) from exc
        if method == "PUT" and rid is not None and plan.resource.get("id") != rid:
            raise bad_request(
                f"The resource id must equal the URL id '{rid}'", f"{where}.resource.id"
            )
    elif method == "PATCH":
        if rid is None:
            raise bad_request("PATCH needs Type/id", f"{where}.request.url")
        plan.patch_kind, plan.patch_body = _patch_body(body, where)
    elif method == "DELETE" and rid is None and plan.criteria is None:
        raise bad_request("DELETE needs Type/id or Type?criteria", f"{where}.request.url")
    return plan


def _patch_body(body: Any, where: str) -> tuple[str, Any]:
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        return FHIRPATH_PATCH, body
    if isinstance(body, dict) and body.get("resourceType") == "Binary":
        if body.get("contentType", "").split(";")[0].strip() != "application/json-patch+json":
            raise bad_request("A Binary patch must be application/json-patch+json", where)
        try:
            return JSON_PATCH, fhirjson.loads(base64.b64decode(body.get("data", "")))
        except ValueError as exc:
            raise bad_request(f"The Binary does not hold a JSON Patch: {exc}", where) from exc
    raise bad_request("A PATCH entry holds a Parameters or a JSON Patch Binary", where)


def _at_entry(exc: FhirError, where: str) -> FhirError:
    """Re-anchor issue locations under the entry (Patient.name → Bundle.entry[3].resource...)."""
    issues = [
        Issue(i.severity, i.code, i.diagnostics, tuple(_under(where, e) for e in i.expression))
        for i in exc.issues
    ]
    return FhirError(exc.status, issues, exc.headers)


def _under(where: str, expression: str) -> str:
    _, _, rest = expression.partition(".")
    return f"{where}.resource" + (f".{rest}" if rest else "")
