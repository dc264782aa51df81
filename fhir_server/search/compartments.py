"""Compartments (compartmentdefinition.html) from the core CompartmentDefinitions.

A resource is in `Patient/123`'s compartment when one of the parameters the definition
names for its type refers to Patient/123; the focal resource is in its own compartment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from fhir_server.definitions import Definitions
from fhir_server.outcome import bad_request, not_found
from fhir_server.search.criteria import parse_criteria
from fhir_server.search.narrowing import Visibility, narrowed
from fhir_server.search.plan import CompartmentClause, Plan

if TYPE_CHECKING:
    from fhir_server.terminology.service import Terminology


def compartment_params(
    definitions: Definitions, compartment: str, resource_type: str
) -> tuple[str, ...] | None:
    """The parameters of `resource_type` that put it in a `compartment`; None when the type
    can never be in it."""
    definition = definitions.compartments.get(compartment)
    if definition is None:
        return None
    search_params = definitions.search_params_for(resource_type)
    for entry in definition.get("resource", []):
        if entry.get("code") == resource_type:
            params = tuple(
                p
                for p in entry.get("param", [])
                if search_params.get(p, {}).get("type") == "reference"
            )
            if params or resource_type == compartment:
                return params
            return None
    return None


def member_types(definitions: Definitions, compartment: str) -> list[str]:
    """The types that can be in a compartment, in name order."""
    definition = definitions.compartments.get(compartment)
    if definition is None:
        return []
    return sorted(
        entry["code"]
        for entry in definition.get("resource", [])
        if compartment_params(definitions, compartment, entry.get("code", "")) is not None
        and entry.get("code") in definitions.resource_types
    )


def in_compartment(definitions: Definitions, plan: Plan, compartment: str, focus_id: str) -> Plan:
    """`plan` narrowed to the resources in `compartment`/`focus_id`."""
    if compartment not in definitions.compartments:
        raise not_found(f"There is no {compartment} compartment")
    params = compartment_params(definitions, compartment, plan.resource_type)
    if params is None:
        raise bad_request(
            f"{plan.resource_type} resources are never in a {compartment} compartment"
        )
    clause = CompartmentClause(compartment, focus_id, params)
    return Plan(plan.resource_type, (clause, *plan.clauses))


def search_plan(
    definitions: Definitions,
    resource_type: str,
    criteria: Sequence[tuple[str, str]],
    base_url: str | None,
    compartment: tuple[str, str] | None,
    visibility: Visibility | None = None,
    *,
    terminology: Terminology | None = None,
) -> Plan:
    """The plan of a search, in a compartment when one is given, narrowed to what the
    caller may see (what every store runs)."""
    plan = parse_criteria(
        definitions, resource_type, criteria, base_url=base_url, terminology=terminology
    )
    if compartment is not None:
        plan = in_compartment(definitions, plan, *compartment)
    return narrowed(plan, visibility)
