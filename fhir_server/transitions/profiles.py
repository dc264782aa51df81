"""Our LUS resources are validated against their profile whether they claim it or not
(issue: validate-on-write "always for our LUS resource types"). What a resource is follows
from its content: a Communication with a lus-notice-type category is a notice of that type,
a Task with a lus-task-type code an obligation, an Encounter with a LUS state a stay, a
CarePlan with a LUS care-plan type a SIP/SPU.

The check runs at the end of the job, on the versions as stored with what the server added
(a notice's receivers, a stay's state), so that a hospital may leave the receivers the law
points at to the server; an error fails the whole job with 422.
"""

from __future__ import annotations

from fhir_server.definitions.content import CANONICAL_BASE
from fhir_server.outcome import FhirError, Issue
from fhir_server.storage.port import Transaction
from fhir_server.transitions.resources import (
    Resource,
    coded,
    data_of,
    notice_type,
    stay_state_code,
    task_type,
)
from fhir_server.validation.profile import ProfileValidator

SD = f"{CANONICAL_BASE}/StructureDefinition"
CARE_PLAN_TYPE = f"{CANONICAL_BASE}/CodeSystem/lus-care-plan-type"
CHECKED = frozenset({"Communication", "Task", "Encounter", "CarePlan"})


def implied_profile(resource: Resource, known: ProfileValidator) -> str | None:
    """The LUS profile a resource must meet by what it is, or None."""
    kind = resource.get("resourceType")
    if kind == "Communication" and (code := notice_type(resource)) is not None:
        specific = f"{SD}/lus-{code}"
        return specific if known.tree(specific) is not None else f"{SD}/lus-notice"
    if kind == "Task" and (code := task_type(resource)) is not None:
        specific = f"{SD}/lus-task-{code}"
        return specific if known.tree(specific) is not None else f"{SD}/lus-task"
    if kind == "Encounter" and stay_state_code(resource) is not None:
        return f"{SD}/lus-encounter"
    if kind == "CarePlan" and coded(resource.get("category", []), CARE_PLAN_TYPE):
        return f"{SD}/lus-careplan"
    return None


async def check_written(
    tx: Transaction, validator: ProfileValidator, written: set[tuple[str, str]]
) -> None:
    """Validate the current version of each LUS resource the job wrote."""
    issues: list[Issue] = []
    for resource_type, rid in sorted(written):
        if resource_type not in CHECKED:
            continue
        resource = data_of(await tx.read(resource_type, rid))
        if resource is None:
            continue
        profile = implied_profile(resource, validator)
        if profile is None:
            continue
        for issue in validator.validate(resource, profile).errors:
            text = f"{resource_type}/{rid} ({profile.rsplit('/', 1)[1]}): {issue.diagnostics}"
            issues.append(Issue(issue.severity, issue.code, text, issue.expression))
    if issues:
        raise FhirError(422, issues)
