"""Extended operations (operations.html): `$name` at system, type and instance level.

Every operation of the server is one `Operation` registered here; the router finds it by
name and level, the CapabilityStatement lists it, and its handler receives the call with
its input already read as a `Parameters` resource (operations.html#request): from the
query string on GET, from a `Parameters` body on POST, or, for operations that take a
resource as their single input, that resource as the parameter `resource`.
"""

from __future__ import annotations

import codecs
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from fhir_server.auth.access import check_operation
from fhir_server.outcome import FhirError, bad_request, error
from fhir_server.rest.common import Call, begin
from fhir_server.rest.negotiation import media_type, read_body, read_json_body

SYSTEM = "system"
TYPE = "type"
INSTANCE = "instance"


@dataclass(frozen=True, slots=True)
class Invocation:
    """One call of an operation: where it was called and with which input."""

    call: Call
    name: str
    level: str
    resource_type: str | None
    rid: str | None
    parameters: dict[str, Any]

    def values(self, name: str) -> list[Any]:
        """The values of every input parameter called `name` (`value[x]`, or `resource`)."""
        found: list[Any] = []
        for parameter in self.parameters.get("parameter", []):
            if parameter.get("name") != name:
                continue
            if "resource" in parameter:
                found.append(parameter["resource"])
                continue
            for key, value in parameter.items():
                if key.startswith("value"):
                    found.append(value)
                    break
        return found

    def value(self, name: str, default: Any = None) -> Any:
        found = self.values(name)
        if len(found) > 1:
            raise bad_request(f"Parameter '{name}' of ${self.name} may be given only once", name)
        return found[0] if found else default


OperationHandler = Callable[[Invocation], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Operation:
    name: str  # without the leading "$"
    handler: OperationHandler
    levels: frozenset[str]
    definition: str  # canonical URL of its OperationDefinition
    # the resource types it applies to at type and instance level; None: every type
    types: frozenset[str] | None = None
    # False: GET is allowed too (operations.html#request: only when it changes nothing)
    affects_state: bool = False
    documentation: str = ""
    # the query parameters a GET passes as strings are read with these FHIR types
    query_types: dict[str, str] = field(default_factory=dict)
    # the SMART permissions (letters of "cruds") a caller needs on the type it is invoked on
    # (at system level: on every type); None: "r", or "cu" when it affects state; "": a
    # valid token is enough (it touches no stored data)
    permissions: str | None = None
    # media types it answers in besides FHIR JSON (e.g. negotiation.CSV)
    media_types: frozenset[str] = frozenset()
    # at system level, the types the permissions are needed on; None: every type
    system_types: frozenset[str] | None = None
    # a body of one of these media types (not FHIR) is the string parameter `text_input`
    text_input: str | None = None
    text_media_types: frozenset[str] = frozenset()

    @property
    def required(self) -> str:
        if self.permissions is not None:
            return self.permissions
        return "cu" if self.affects_state else "r"


_REGISTRY: dict[str, Operation] = {}


def register(operation: Operation) -> Operation:
    if operation.name in _REGISTRY and _REGISTRY[operation.name] is not operation:
        raise ValueError(f"operation ${operation.name} is registered twice")
    _REGISTRY[operation.name] = operation
    return operation


def registered() -> list[Operation]:
    return sorted(_REGISTRY.values(), key=lambda op: op.name)


def find(name: str) -> Operation | None:
    return _REGISTRY.get(name)


def _query_parameters(request: Request, operation: Operation) -> dict[str, Any]:
    parameters = []
    for key, value in request.query_params.multi_items():
        if key in ("_format", "_pretty"):
            continue
        kind = operation.query_types.get(key, "String")
        parameters.append({"name": key, f"value{kind}": _typed(value, kind, key)})
    return {"resourceType": "Parameters", "parameter": parameters}


def _typed(text: str, kind: str, name: str) -> Any:
    if kind == "Boolean":
        if text not in ("true", "false"):
            raise bad_request(f"Parameter '{name}' must be true or false, not '{text}'", name)
        return text == "true"
    if kind in ("Integer", "UnsignedInt", "PositiveInt"):
        try:
            return int(text)
        except ValueError:
            problem = f"Parameter '{name}' must be an integer, not '{text}'"
            raise bad_request(problem, name) from None
    return text


def _charset(request: Request) -> str:
    """The charset a text body declares in its Content-Type (UTF-8 when none or unknown)."""
    for part in request.headers.get("content-type", "").split(";")[1:]:
        name, _, value = part.partition("=")
        if name.strip().lower() == "charset":
            try:
                return codecs.lookup(value.strip().strip('"')).name
            except LookupError:
                break
    return "utf-8"


async def _body_parameters(call: Call, operation: Operation) -> dict[str, Any]:
    max_bytes = call.runtime.settings.max_body_bytes
    if operation.text_input is not None and media_type(call.request) in operation.text_media_types:
        raw = await read_body(call.request, max_bytes)
        text = raw.decode(_charset(call.request), errors="replace")
        if not text.strip():
            raise bad_request("The request has no body")
        parameter = {"name": operation.text_input, "valueString": text}
        return {"resourceType": "Parameters", "parameter": [parameter]}
    _, body = await read_json_body(call.request, max_bytes)
    if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
        raise bad_request("The body of an operation must be a FHIR resource")
    if body["resourceType"] == "Parameters":
        if not isinstance(body.get("parameter", []), list):
            raise bad_request("Parameters.parameter must be an array", "Parameters.parameter")
        return body
    # a resource alone is the operation's single resource input (operations.html#request)
    return {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": body}]}


async def invoke(
    request: Request,
    name: str,
    level: str,
    resource_type: str | None = None,
    rid: str | None = None,
) -> Response:
    operation = _REGISTRY.get(name)
    where = {SYSTEM: "the system", TYPE: "a type", INSTANCE: "an instance"}[level]
    if operation is None:
        raise error(404, "not-supported", f"This server has no operation ${name}")
    if level not in operation.levels:
        raise error(404, "not-supported", f"${name} cannot be invoked on {where}")
    known = operation.types
    if resource_type is not None and known is not None and resource_type not in known:
        raise error(404, "not-supported", f"${name} is not defined for {resource_type}")
    call = begin(request, resource_type, operation.media_types)
    check_operation(call.context, name, operation.required, resource_type, operation.system_types)
    method = request.method
    if method == "POST":
        parameters = await _body_parameters(call, operation)
    elif method == "GET" and not operation.affects_state:
        parameters = _query_parameters(request, operation)
    else:
        allowed = "POST" if operation.affects_state else "GET, POST"
        failure: FhirError = error(405, "not-supported", f"{method} is not allowed on ${name}")
        failure.headers["Allow"] = allowed
        raise failure
    invocation = Invocation(call, name, level, resource_type, rid, parameters)
    return await operation.handler(invocation)


def operation_name(segment: str) -> str | None:
    """The operation's name when a path segment invokes one (`$validate` → `validate`)."""
    return segment[1:] if segment.startswith("$") and len(segment) > 1 else None
