"""The FHIR RESTful API's URL patterns (http.html#summary) and their handlers.

A path is matched by its segments, not by regular expressions: the whole API has eleven
shapes, and telling them apart by segment count and fixed names is both exact and cheap.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from fhir_server.auth import endpoints
from fhir_server.auth.security import INTERACTION_KEY
from fhir_server.outcome import FhirError, error
from fhir_server.rest import capability, history, instance, operations, search, system, type_level

Handler = Callable[..., Awaitable[Response]]
Methods = dict[str, Handler]

_SYSTEM: Methods = {"POST": system.batch_or_transaction}
_METADATA: Methods = {"GET": capability.metadata}
_SYSTEM_HISTORY: Methods = {"GET": history.system_history}
_TYPE: Methods = {
    "GET": search.search_get,
    "POST": type_level.create,
    "PUT": type_level.conditional_update,
    "DELETE": type_level.conditional_delete,
}
_TYPE_HISTORY: Methods = {"GET": history.type_history}
_TYPE_SEARCH: Methods = {"POST": search.search_post}
_INSTANCE: Methods = {
    "GET": instance.read,
    "PUT": instance.update,
    "PATCH": instance.patch,
    "DELETE": instance.delete,
}
_INSTANCE_HISTORY: Methods = {"GET": history.instance_history}
_VERSION: Methods = {"GET": instance.vread}
_COMPARTMENT: Methods = {"GET": search.compartment_search}
# operations.invoke answers 405 itself for GET on an operation that changes state
_OPERATION: Methods = {"GET": operations.invoke, "POST": operations.invoke}
# SMART discovery and the built-in authorization server (no FHIR type is called so)
_SMART_CONFIGURATION: Methods = {"GET": endpoints.smart_configuration}
_TOKEN: Methods = {"POST": endpoints.token}
_JWKS: Methods = {"GET": endpoints.jwks}

# The interaction each handler serves, for access control and the audit trail.
INTERACTIONS: dict[Handler, str] = {
    system.batch_or_transaction: "batch-or-transaction",
    capability.metadata: "capabilities",
    history.system_history: "history-system",
    search.search_get: "search-type",
    search.search_post: "search-type",
    search.compartment_search: "search-type",
    type_level.create: "create",
    type_level.conditional_update: "conditional-update",
    type_level.conditional_delete: "conditional-delete",
    history.type_history: "history-type",
    instance.read: "read",
    instance.update: "update",
    instance.patch: "patch",
    instance.delete: "delete",
    history.instance_history: "history-instance",
    instance.vread: "vread",
    operations.invoke: "operation",
    endpoints.smart_configuration: "smart-configuration",
    endpoints.token: "token",
    endpoints.jwks: "jwks",
}


def resolve(path: str) -> tuple[Methods, dict[str, Any]] | None:
    """The handlers for a path and the path's parameters, or None when no pattern fits."""
    parts = path.strip("/").split("/") if path.strip("/") else []
    count = len(parts)
    if count == 0:
        return _SYSTEM, {}
    first = parts[0]
    name = operations.operation_name(parts[-1])
    if name is not None:
        if count == 1:
            return _OPERATION, {"name": name, "level": operations.SYSTEM}
        if count == 2:
            return _OPERATION, {"name": name, "level": operations.TYPE, "resource_type": first}
        if count == 3:
            return _OPERATION, {
                "name": name,
                "level": operations.INSTANCE,
                "resource_type": first,
                "rid": parts[1],
            }
        return None
    if count == 2 and first == ".well-known" and parts[1] == "smart-configuration":
        return _SMART_CONFIGURATION, {}
    if count == 2 and first == "auth":
        if parts[1] == "token":
            return _TOKEN, {}
        if parts[1] == "jwks":
            return _JWKS, {}
    if count == 1:
        if first == "metadata":
            return _METADATA, {}
        if first == "_history":
            return _SYSTEM_HISTORY, {}
        return _TYPE, {"resource_type": first}
    if count == 2:
        if parts[1] == "_history":
            return _TYPE_HISTORY, {"resource_type": first}
        if parts[1] == "_search":  # "_" is not an id character: no resource is called that
            return _TYPE_SEARCH, {"resource_type": first}
        return _INSTANCE, {"resource_type": first, "rid": parts[1]}
    if count == 3 and parts[2] == "_history":
        return _INSTANCE_HISTORY, {"resource_type": first, "rid": parts[1]}
    if count == 3:
        return _COMPARTMENT, {"compartment": first, "focus_id": parts[1], "resource_type": parts[2]}
    if count == 4 and parts[2] == "_history":
        return _VERSION, {"resource_type": first, "rid": parts[1], "vid": parts[3]}
    return None


async def dispatch(request: Request) -> Response:
    method = request.method
    path = request.scope["path"]
    if "\x00" in path:  # no id or name holds one (and PostgreSQL text cannot)
        raise error(400, "invalid", "The URL's path contains a NUL character")
    found = resolve(path)
    if found is None:
        raise error(404, "not-found", f"No FHIR interaction at {method} {path}")
    methods, params = found
    handler = methods.get(method)
    if handler is None:
        failure: FhirError = error(405, "not-supported", f"{method} is not allowed on {path}")
        failure.headers["Allow"] = ", ".join(sorted(methods))
        raise failure
    security = request.app.state.security
    if security is not None:
        security.admit(request, INTERACTIONS[handler], params)
    else:
        request.scope[INTERACTION_KEY] = INTERACTIONS[handler]
    return await handler(request, **params)
