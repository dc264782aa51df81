"""A plan narrowed by a caller's visibility (search/narrowing.py), and AnyOfClause as SQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fhir_server.definitions import Definitions
from fhir_server.search.criteria import parse_criteria
from fhir_server.search.narrowing import narrowed
from fhir_server.search.plan import (
    AnyOfClause,
    ChainClause,
    Clause,
    HasClause,
    IdClause,
    Plan,
    ReferenceClause,
    ReferenceMatch,
    StringClause,
    StringMatch,
    TokenClause,
    TokenMatch,
)
from fhir_server.storage.sqlite.search_sql import compile_plan, count_plan
from tests.unit.test_search_sql import Store

ONLY_A = IdClause(("a",))


def _only_patient_a(resource_type: str) -> tuple[Clause, ...]:
    return (ONLY_A,) if resource_type == "Patient" else ()


def test_visibility_reaches_every_nested_plan(r4_definitions: Definitions) -> None:
    plan = parse_criteria(
        r4_definitions,
        "Observation",
        [("subject:Patient.name", "x"), ("_has:Provenance:target:agent:Patient.name", "y")],
    )
    out = narrowed(plan, _only_patient_a)
    chain, has = out.clauses
    assert len(out.clauses) == len(plan.clauses)  # Observation itself: all visible
    assert isinstance(chain, ChainClause) and chain.plans[0].clauses[-1] == ONLY_A
    assert isinstance(has, HasClause)
    provenance_chain = has.plan.clauses[0]
    assert isinstance(provenance_chain, ChainClause)
    assert provenance_chain.plans[0].clauses[-1] == ONLY_A  # two levels down
    assert narrowed(plan, None) is plan
    patients = narrowed(parse_criteria(r4_definitions, "Patient", []), _only_patient_a)
    assert patients.clauses == (ONLY_A,)


@pytest.fixture(scope="module")
def store(r4_definitions: Definitions) -> Iterator[Store]:
    store = Store(r4_definitions)
    for rid, family in (("a", "Ett"), ("b", "Tva"), ("c", "Tre")):
        store.add({"resourceType": "Patient", "id": rid, "name": [{"family": family}]}, "2024")
    store.add({"resourceType": "Patient", "id": "gone", "name": [{"family": "Ett"}]}, "2024",
              deleted=True)  # fmt: skip
    store.add(
        {"resourceType": "Encounter", "id": "e1", "status": "finished", "class": {"code": "IMP"},
         "subject": {"reference": "Patient/b"},
         "serviceProvider": {"identifier": {"value": "SE-1"}}},
        "2024",
    )  # fmt: skip
    store.add(
        {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "v"},
         "subject": {"reference": "Patient/c"}},
        "2024",
    )  # fmt: skip
    yield store


def _ids(store: Store, plan: Plan) -> set[str]:
    sql, args = compile_plan(plan, store.keys)
    found = {store.ids[row[0]] for row in store.conn.execute(sql, args)}
    count_sql, count_args = count_plan(plan, store.keys)
    assert store.conn.execute(count_sql, count_args).fetchone()[0] == len(found)
    return found


def test_any_of_is_an_or_of_whole_clauses(store: Store) -> None:
    named_ett = StringClause("name", (StringMatch("exact", "Ett"),))
    has_stay = HasClause(
        "subject",
        Plan(
            "Encounter", (TokenClause("service-provider:identifier", (TokenMatch(code="SE-1"),)),)
        ),
    )
    has_weight = HasClause("subject", Plan("Observation", ()))
    any_of = AnyOfClause((named_ett, has_stay, has_weight))
    assert _ids(store, Plan("Patient", (any_of,))) == {"a", "b", "c"}
    assert _ids(store, Plan("Patient", (AnyOfClause((named_ett, has_stay)),))) == {"a", "b"}
    # ANDed with the rest of the plan; deleted resources never match
    assert _ids(store, Plan("Patient", (any_of, IdClause(("b", "gone"))))) == {"b"}
    assert _ids(store, Plan("Patient", (AnyOfClause((named_ett,)),))) == {"a"}
    # no alternative: nothing
    assert _ids(store, Plan("Patient", (AnyOfClause(()),))) == set()


def test_any_of_with_a_chain(store: Store) -> None:
    visible_patient = Plan("Patient", (AnyOfClause((IdClause(("b",)),)),))
    chain = AnyOfClause((ChainClause("subject", (visible_patient,)),))
    assert _ids(store, Plan("Encounter", (chain,))) == {"e1"}
    assert _ids(store, Plan("Observation", (chain,))) == set()
    to_c = ReferenceClause("subject", (ReferenceMatch("Patient", "c"),))
    assert _ids(store, Plan("Observation", (AnyOfClause((to_c, chain)),))) == {"o1"}
