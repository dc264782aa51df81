"""A search narrowed to what the caller may see, in the plan itself.

Access control (fhir_server/auth/policy.py) says per resource type which clauses a visible
resource meets (`Visibility`). `narrowed` ANDs them into a plan and into every plan nested
in it (chained parameters, `_has`), so the store finds only visible resources: pages are
full, `total` counts only what may be seen, and a chain or `_has` cannot match through a
resource the caller may not see (that would tell it exists). The visibility clauses
themselves are not narrowed again: they are the server's own lookup.
"""

from __future__ import annotations

from collections.abc import Callable

from fhir_server.search.plan import ChainClause, Clause, HasClause, Plan

# The clauses a visible resource of a type meets; () when every resource of it is visible.
Visibility = Callable[[str], tuple[Clause, ...]]


def narrowed(plan: Plan, visibility: Visibility | None) -> Plan:
    """`plan` with the visibility of its type, and of each type its chains and `_has`
    reach, ANDed in."""
    if visibility is None:
        return plan
    clauses = tuple(_narrowed_clause(clause, visibility) for clause in plan.clauses)
    return Plan(plan.resource_type, clauses + visibility(plan.resource_type))


def _narrowed_clause(clause: Clause, visibility: Visibility) -> Clause:
    if isinstance(clause, ChainClause):
        return ChainClause(clause.param, tuple(narrowed(p, visibility) for p in clause.plans))
    if isinstance(clause, HasClause):
        return HasClause(clause.param, narrowed(clause.plan, visibility))
    return clause
