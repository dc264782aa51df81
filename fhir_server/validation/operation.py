"""$validate (resource-operation-validate): type and instance level, modes create, update
and delete, an optional `profile`; the answer is an OperationOutcome with status 200
whatever it finds (only a call that cannot be carried out is an HTTP error)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from fhir_server import fhirjson
from fhir_server.interactions.incoming import check_id
from fhir_server.outcome import Issue, bad_request, not_found, operation_outcome
from fhir_server.rest.operations import INSTANCE, TYPE, Invocation, Operation
from fhir_server.rest.responses import json_response
from fhir_server.runtime import Runtime

_MODES = ("create", "update", "delete")


async def validate(invocation: Invocation) -> Response:
    runtime = invocation.call.runtime
    resource_type = invocation.resource_type
    assert resource_type is not None
    mode = invocation.value("mode")
    if mode is not None and mode not in _MODES:
        raise bad_request(f"mode must be one of {', '.join(_MODES)}, not '{mode}'", "mode")
    profile = invocation.value("profile")
    resource = invocation.value("resource")
    if mode == "delete":
        issues = await _delete_check(invocation, resource_type)
    else:
        if resource is None:
            if invocation.rid is None:
                raise bad_request("$validate needs the resource to validate", "resource")
            resource = await _stored(invocation, resource_type)
        issues = _check(runtime, resource, resource_type, profile, mode, invocation.rid)
    if not any(i.severity in ("error", "fatal") for i in issues):
        issues.append(Issue("information", "informational", "Validation found no errors"))
    return json_response(operation_outcome(issues), invocation.call.negotiated)


def _check(
    runtime: Runtime,
    resource: Any,
    resource_type: str,
    profile: str | None,
    mode: str | None,
    rid: str | None,
) -> list[Issue]:
    if not isinstance(resource, dict) or resource.get("resourceType") != resource_type:
        found = resource.get("resourceType") if isinstance(resource, dict) else None
        problem = f"the resource to validate must be a {resource_type}, not {found}"
        return [Issue("error", "invalid", problem, ("resourceType",))]
    issues = list(runtime.validator.validate(resource))
    if mode == "update":
        if "id" not in resource:
            issues.append(Issue("error", "required", "an update needs the resource id", ("id",)))
        elif rid is not None and resource["id"] != rid:
            problem = f"the resource id '{resource['id']}' differs from the URL id '{rid}'"
            issues.append(Issue("error", "invalid", problem, ("id",)))
    validator = runtime.profiles
    if validator is None:
        return issues
    if profile is not None:
        if validator.tree(profile) is None:
            raise bad_request(f"The profile {profile} is unknown to this server", "profile")
        return issues + validator.validate(resource, profile).issues
    issues += validator.validate(resource).issues
    meta = resource.get("meta")
    claimed = meta.get("profile", []) if isinstance(meta, dict) else []
    required = runtime.settings.required_profiles.get(resource_type, [])
    for url in dict.fromkeys([*claimed, *required]):
        if validator.tree(url) is None:
            problem = f"the claimed profile {url} is unknown here; it was not checked"
            issues.append(Issue("warning", "not-supported", problem, (f"{resource_type}.meta",)))
        else:
            issues += validator.validate(resource, url).issues
    return _unique(issues)


async def _stored(invocation: Invocation, resource_type: str) -> dict[str, Any]:
    rid = invocation.rid
    assert rid is not None
    check_id(rid)
    call = invocation.call
    version = await call.runtime.storage.read(call.context, resource_type, rid)
    if version is None or version.deleted or version.data is None:
        raise not_found(f"{resource_type}/{rid} does not exist")
    resource: dict[str, Any] = fhirjson.loads(version.data)
    return resource


async def _delete_check(invocation: Invocation, resource_type: str) -> list[Issue]:
    """Whether the stored resource could be deleted: this server keeps no referential
    integrity, so any current resource can."""
    if invocation.rid is None:
        raise bad_request("mode=delete validates a stored resource: call it on Type/id", "mode")
    await _stored(invocation, resource_type)
    return []


def _unique(issues: list[Issue]) -> list[Issue]:
    return list(dict.fromkeys(issues))


OPERATIONS = [
    Operation(
        name="validate",
        handler=validate,
        levels=frozenset({TYPE, INSTANCE}),
        definition="http://hl7.org/fhir/OperationDefinition/Resource-validate",
        documentation="Structure, the resource type's definition, and the profiles given or"
        " claimed in meta.profile (cardinality, types, fixed/pattern values, slicing,"
        " bindings, invariants, Swedish identifier rules)",
    )
]
