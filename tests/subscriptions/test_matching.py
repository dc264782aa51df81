"""In-memory matching of a search plan finds exactly what the store's search finds, also
with only the index parameters the plan reads extracted; a classic subscription's chains,
`_has` and `_list`, answered through the store (store_criteria.py), agree with it too."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest

from fhir_server.definitions import load_definitions
from fhir_server.search.criteria import parse_criteria
from fhir_server.search.indexer import Indexer
from fhir_server.search.matching import entry_params, matches, plan_params
from fhir_server.storage.port import (
    RequestContext,
    StoredVersion,
    SubscriptionState,
    Transaction,
)
from fhir_server.storage.sqlite import SqliteStorage
from fhir_server.subscriptions.store_criteria import split_criteria, store_criteria_hold
from fhir_server.validation.profile import load_profile_validator
from tests.conftest import read_tgz_json, shared_path

TYPES = ("Patient", "Observation", "Encounter", "Communication", "ValueSet", "Organization", "List")
CRITERIA: list[tuple[str, str]] = [
    ("Patient", "gender=female"),
    ("Patient", "gender:not=female"),
    ("Patient", "name=pet"),
    ("Patient", "name:exact=Peter"),
    ("Patient", "name:contains=ete"),
    ("Patient", "birthdate=ge1970&birthdate=lt1990"),
    ("Patient", "birthdate=1974-12-25"),
    ("Patient", "birthdate=sa1960,eb1940"),
    ("Patient", "identifier=urn:oid:1.2.36.146.595.217.0.1|12345"),
    ("Patient", "identifier=|12345"),
    ("Patient", "active=true"),
    ("Patient", "email:missing=false"),
    ("Patient", "organization=Organization/1"),
    ("Patient", "general-practitioner:missing=true"),
    ("Patient", "_id=example,pat1"),
    ("Patient", "_lastUpdated=gt2000-01-01"),
    ("Observation", "code=http://loinc.org|29463-7"),
    ("Observation", "code:text=body"),
    ("Observation", "value-quantity=gt100"),
    ("Observation", "value-quantity=ap185||lbs"),
    ("Observation", "value-quantity=lt10|http://unitsofmeasure.org|mmol/L"),
    ("Observation", "subject=Patient/example&status=final"),
    ("Observation", "date=le2013-04-02"),
    ("Observation", "category=vital-signs"),
    ("Encounter", "status=finished,in-progress"),
    ("Encounter", "subject=example"),
    ("Encounter", "date=ap2013-03"),
    ("Communication", "recipient:missing=false"),
    ("Communication", "category=alert"),
    ("ValueSet", "url:below=http://hl7.org/fhir/ValueSet"),
    ("ValueSet", "url=http://hl7.org/fhir/ValueSet/example-extensional"),
    ("ValueSet", "url:above=http://hl7.org/fhir/ValueSet/example-extensional/x/y"),
    # composites: the components within one component (or the Observation itself)
    ("Observation", "component-code-value-quantity=http://loinc.org|8480-6$gt100"),
    ("Observation", "component-code-value-quantity=8480-6$lt100,8462-4$gt50"),
    ("Observation", "component-code-value-quantity=8480-6$60"),
    ("Observation", "combo-code-value-quantity=8480-6$107"),
    ("Observation", "code-value-quantity=http://loinc.org|29463-7$gt100||lbs"),
    ("Observation", "component-code-value-quantity:missing=false"),
    # terminology, and full text
    ("Patient", "gender:in=http://hl7.org/fhir/ValueSet/administrative-gender"),
    ("Patient", "gender:not-in=http://hl7.org/fhir/ValueSet/administrative-gender"),
    ("Encounter", "class:below=http://terminology.hl7.org/CodeSystem/v3-ActCode|_ActEncounterCode"),
    ("Observation", "_text=weight"),
    ("Observation", "_content=body weight"),
    ("Patient", "_content=peter,chalmers"),
]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    archive = shared_path("examples/hl7.fhir.r4.examples-4.0.1.tgz")
    definitions = load_definitions()
    resources = [
        body
        for _, body in read_tgz_json(archive)
        if isinstance(body, dict) and body.get("resourceType") in TYPES and body.get("id")
    ]
    loop = asyncio.new_event_loop()
    store = SqliteStorage(
        Path(tmp_path_factory.mktemp("match")) / "s.sqlite3",
        definitions,
        terminology=load_profile_validator(definitions).terminology,
    )
    loop.run_until_complete(store.start())

    async def job(tx: Transaction) -> list[StoredVersion]:
        return [await tx.write(body["resourceType"], body["id"], body, "PUT") for body in resources]

    versions = loop.run_until_complete(store.run(RequestContext(), job))
    yield definitions, store, loop, versions
    loop.run_until_complete(store.close())
    loop.close()


@pytest.mark.parametrize(("resource_type", "query"), CRITERIA)
def test_matching_agrees_with_search(loaded, resource_type: str, query: str) -> None:  # type: ignore[no-untyped-def]
    definitions, store, loop, versions = loaded
    criteria = [tuple(part.split("=", 1)) for part in query.split("&")]
    plan = parse_criteria(
        definitions,
        resource_type,
        criteria,
        terminology=load_profile_validator(definitions).terminology,
    )
    found = loop.run_until_complete(
        store.search(RequestContext(), resource_type, criteria, count=1000)
    )
    expected = {v.id for v in found.versions}
    indexer = Indexer(definitions)
    matched, matched_on_read = set(), set()
    for version in versions:
        resource = orjson.loads(version.data)
        if matches(plan, resource, indexer.extract(resource), version.last_updated):
            matched.add(version.id)
        # what a subscription extracts: the parameters the plan reads, nothing else
        only = indexer.extract(resource, only=entry_params(plan))
        if matches(plan, resource, only, version.last_updated):
            matched_on_read.add(version.id)
    assert matched == expected
    assert matched_on_read == expected
    indexed = {code for code, _, _ in indexer.indexed(resource_type)}
    assert plan_params(plan) <= indexed


# criteria that depend on other resources (each found by the store's search of the whole)
STORE_CRITERIA: list[tuple[str, str]] = [
    ("Observation", "subject:Patient.name=peter"),
    ("Observation", "subject.gender=male&status=final"),
    ("Observation", "subject:Patient.organization.name=gastro"),
    ("Observation", "subject:Patient.name=nobody-has-this-name"),
    ("Encounter", "subject.gender=male,female"),
    ("Patient", "_has:Observation:patient:code=http://loinc.org|29463-7"),
    ("Patient", "_has:Observation:subject:_has:List:item:_id=example-no-such"),
    ("Patient", "gender=male&_has:Encounter:subject:status=finished"),
    ("Patient", "_list=long"),
    ("Organization", "_has:Patient:organization:gender=female"),
]
_OWNER = SubscriptionState("s", "active", 0, 0, 0, None, None, None, "")


@pytest.mark.parametrize(("resource_type", "query"), STORE_CRITERIA)
def test_store_criteria_agree_with_search(loaded, resource_type: str, query: str) -> None:  # type: ignore[no-untyped-def]
    definitions, store, loop, versions = loaded
    criteria = [tuple(part.split("=", 1)) for part in query.split("&")]
    found = loop.run_until_complete(
        store.search(RequestContext(), resource_type, criteria, count=1000)
    )
    expected = {v.id for v in found.versions}

    def parse(pairs):  # type: ignore[no-untyped-def]
        return parse_criteria(definitions, resource_type, pairs)

    local, store_criteria = split_criteria(criteria, parse)
    assert store_criteria, "each query has a criterion the store answers"
    plan = parse(local)
    chain_params = {c.param for c in store_criteria if not c.reverse}
    indexer = Indexer(definitions)
    matched = set()
    for version in versions:
        resource = orjson.loads(version.data)
        if resource["resourceType"] != resource_type:
            continue
        entries = indexer.extract(resource, only=entry_params(plan) | chain_params)
        if not matches(plan, resource, entries, version.last_updated):
            continue
        held = store_criteria_hold(
            store, _OWNER, store_criteria, resource_type, version.id, entries
        )
        if loop.run_until_complete(held):
            matched.add(version.id)
    assert matched == expected
    if "nobody" not in query and "no-such" not in query:
        assert expected, f"{query} finds something in the examples"
