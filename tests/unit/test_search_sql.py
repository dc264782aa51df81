"""Plans compiled to SQL, run on an in-memory SQLite store with the adapter's schema."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from fhir_server import fhirjson
from fhir_server.definitions import Definitions
from fhir_server.search.criteria import parse_criteria
from fhir_server.search.indexer import Indexer
from fhir_server.storage.sqlite.connection import apply_schema
from fhir_server.storage.sqlite.index_rows import insert_rows
from fhir_server.storage.sqlite.reindex import prepare_index
from fhir_server.storage.sqlite.search_sql import compile_plan

PERSONNUMMER = "http://electronichealth.se/identifier/personnummer"


class Store:
    """Resources with their index rows, the way the SQLite adapter writes them."""

    def __init__(self, definitions: Definitions) -> None:
        self.definitions = definitions
        self.indexer = Indexer(definitions)
        self.conn = sqlite3.connect(":memory:", isolation_level=None)
        apply_schema(self.conn)
        self.keys = prepare_index(self.conn, definitions, self.indexer)
        self.ids: dict[int, str] = {}

    def add(self, resource: dict[str, Any], last_updated: str, *, deleted: bool = False) -> int:
        kind, rid = resource["resourceType"], resource["id"]
        key = self.conn.execute(
            "INSERT INTO resource (type, id, version, seq, deleted) VALUES (?, ?, 1, 0, ?)",
            (kind, rid, int(deleted)),
        ).lastrowid
        assert key is not None
        seq = self.conn.execute(
            "INSERT INTO version (rid, type, id, version, last_updated, method, deleted, data)"
            " VALUES (?, ?, ?, 1, ?, 'create', ?, NULL)",
            (key, kind, rid, last_updated, int(deleted)),
        ).lastrowid
        self.conn.execute("UPDATE resource SET seq = ? WHERE rid = ?", (seq, key))
        self.ids[key] = rid
        if deleted:
            return key
        insert_rows(self.conn, self.keys, key, kind, self.indexer.extract(resource))
        return key

    def find(self, resource_type: str, *criteria: tuple[str, str]) -> set[str]:
        plan = parse_criteria(self.definitions, resource_type, criteria)
        sql, args = compile_plan(plan, self.keys)
        return {self.ids[row[0]] for row in self.conn.execute(sql, args)}


@pytest.fixture(scope="module")
def store(r4_definitions: Definitions) -> Iterator[Store]:
    store = Store(r4_definitions)
    patients: list[dict[str, Any]] = [
        {
            "id": "asa",
            "name": [{"family": "Ström", "given": ["Åsa", "Karin"]}],
            "identifier": [{"system": PERSONNUMMER, "value": "191212121212"}],
            "birthDate": "1912-12-12",
            "gender": "female",
            "active": True,
            "generalPractitioner": [{"reference": "Practitioner/dr-1"}],
            "managingOrganization": {"reference": "Organization/vc-malmo"},
            "meta": {
                "tag": [{"system": "http://example.se/tags", "code": "lus"}],
                "profile": ["http://example.se/StructureDefinition/SEPatient|1.0"],
            },
        },
        {
            "id": "asa2",
            "name": [{"family": "Åström", "given": ["Asa"]}],
            "identifier": [{"system": "http://example.se/local", "value": "191212121212"}],
            "birthDate": "1950",
            "gender": "female",
            "address": [{"city": "Göteborg", "line": ["Vasagatan 1_2%"]}],
            "generalPractitioner": [{"reference": "Organization/vc-goteborg"}],
        },
        {
            "id": "erik",
            "name": [{"family": "Eriksson", "given": ["Erik"]}],
            "identifier": [{"value": "191111111111"}],
            "birthDate": "1950-06-15",
            "gender": "male",
            "deceasedDateTime": "2020-02-29T23:30:00-01:00",
            "managingOrganization": {
                "reference": "https://elsewhere.example/Organization/vc-malmo"
            },
        },
        {
            "id": "nameless",
            "birthDate": "1950-06",
            "gender": "unknown",
        },
    ]
    times = [
        "2026-11-20T10:00:00.000000Z",
        "2026-11-23T12:00:00.500000Z",
        "2026-11-24T04:50:00.123456Z",
        "2026-11-24T04:50:00.123457Z",
    ]
    for patient, time in zip(patients, times, strict=True):
        store.add({"resourceType": "Patient", **patient}, time)
    store.add({"resourceType": "Patient", "id": "gone", "gender": "female"}, times[0], deleted=True)
    observations: list[dict[str, Any]] = [
        {
            "id": "temp",
            "status": "final",
            "subject": {"reference": "Patient/asa"},
            "code": {"coding": [{"system": "http://loinc.org", "code": "8310-5"}]},
            "valueQuantity": {
                "value": fhirjson.Decimal("37.50"),
                "system": "http://unitsofmeasure.org",
                "code": "Cel",
            },
            "effectiveDateTime": "2026-11-24T10:15:00+01:00",
        },
        {
            "id": "weight",
            "status": "amended",
            "subject": {"reference": "Group/g1"},
            "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
            "valueQuantity": {"value": 70, "unit": "kg"},
            "effectivePeriod": {"start": "2026-11-01", "end": "2026-11-30"},
        },
        {
            "id": "glucose",
            "status": "final",
            "subject": {"reference": "Patient/erik"},
            "code": {"coding": [{"system": "http://loinc.org", "code": "15074-8"}]},
            "valueQuantity": {
                "value": 6.3,
                "system": "http://unitsofmeasure.org",
                "code": "mmol/L",
            },
            "effectiveDateTime": "2026-11-23",
        },
    ]
    for observation in observations:
        store.add({"resourceType": "Observation", **observation}, times[0])
    store.add(
        {
            "resourceType": "RiskAssessment",
            "id": "ra",
            "prediction": [{"probabilityDecimal": 0.25}],
        },
        times[0],
    )
    store.add(
        {"resourceType": "ValueSet", "id": "vs", "url": "http://example.se/fhir/ValueSet/kommun"},
        times[0],
    )
    yield store
    store.conn.close()


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        # strings: starts-with, case and accents folded
        ([("given", "asa")], {"asa", "asa2"}),
        ([("given", "ÅSA")], {"asa", "asa2"}),
        ([("given", "Kar")], {"asa"}),
        ([("given", "arin")], set()),
        ([("family", "str")], {"asa"}),
        ([("family:contains", "str")], {"asa", "asa2"}),
        ([("family:exact", "Ström")], {"asa"}),
        ([("family:exact", "Strom")], set()),
        ([("name", "erik,karin")], {"erik", "asa"}),
        ([("name", "erik"), ("name", "karin")], set()),
        ([("address-city", "goteborg")], {"asa2"}),
        ([("address:contains", "1_2%")], {"asa2"}),
        ([("address:contains", "1x2")], set()),  # _ in the value is not a wildcard
        ([("name:missing", "true")], {"nameless"}),
        ([("name:missing", "false")], {"asa", "asa2", "erik"}),
        # tokens
        ([("identifier", f"{PERSONNUMMER}|191212121212")], {"asa"}),
        ([("identifier", "191212121212")], {"asa", "asa2"}),
        ([("identifier", "|191111111111")], {"erik"}),
        ([("identifier", "|191212121212")], set()),
        ([("identifier", f"{PERSONNUMMER}|")], {"asa"}),
        ([("gender", "female")], {"asa", "asa2"}),  # not the deleted one
        ([("gender:not", "female")], {"erik", "nameless"}),
        ([("gender", "male,unknown")], {"erik", "nameless"}),
        ([("active", "true")], {"asa"}),
        ([("active:missing", "true")], {"asa2", "erik", "nameless"}),
        ([("deceased", "true")], {"erik"}),
        ([("_tag", "http://example.se/tags|lus")], {"asa"}),
        ([("_id", "asa,erik")], {"asa", "erik"}),
        ([("_id:not", "asa"), ("gender", "female")], {"asa2"}),
        ([("_id", "gone")], set()),
        # dates: ranges and prefixes
        ([("birthdate", "1950")], {"asa2", "erik", "nameless"}),
        ([("birthdate", "1950-06")], {"erik", "nameless"}),
        ([("birthdate", "1950-06-15")], {"erik"}),
        ([("birthdate", "ne1950")], {"asa"}),
        ([("birthdate", "lt1950")], {"asa"}),  # before all of 1950
        ([("birthdate", "lt1950-06-15")], {"asa", "asa2", "nameless"}),
        ([("birthdate", "le1950-06-15")], {"asa", "asa2", "erik", "nameless"}),
        ([("birthdate", "gt1950-06-15")], {"asa2", "nameless"}),
        ([("birthdate", "ge1950-06-16")], {"asa2", "nameless"}),
        ([("birthdate", "sa1950-05")], {"erik", "nameless"}),
        ([("birthdate", "eb1950-06")], {"asa"}),
        ([("birthdate", "ap1950-06-20")], {"asa2", "nameless"}),
        ([("birthdate", "ge1950"), ("birthdate", "lt1951")], {"asa2", "erik", "nameless"}),
        ([("death-date", "2020-03-01")], {"erik"}),  # 23:30 at -01:00 is 00:30 UTC
        ([("death-date", "2020-02-29")], set()),
        ([("_lastUpdated", "ge2026-11-24")], {"erik", "nameless"}),
        ([("_lastUpdated", "gt2026-11-24T04:50:00.123456Z")], {"nameless"}),
        ([("_lastUpdated", "lt2026-11-23T12:00:01Z")], {"asa", "asa2"}),
        ([("_lastUpdated", "2026-11-23")], {"asa2"}),
        # references
        ([("general-practitioner", "Practitioner/dr-1")], {"asa"}),
        ([("general-practitioner", "dr-1")], {"asa"}),
        ([("general-practitioner:Organization", "vc-goteborg")], {"asa2"}),
        ([("general-practitioner:Organization", "dr-1")], set()),
        ([("organization", "Organization/vc-malmo")], {"asa"}),  # not the one elsewhere
        ([("organization", "https://elsewhere.example/Organization/vc-malmo")], {"erik"}),
        ([("general-practitioner:missing", "true")], {"erik", "nameless"}),
        # combinations
        ([("given", "asa"), ("birthdate", "1950")], {"asa2"}),
        ([("identifier", "191212121212"), ("gender:not", "female")], set()),
    ],
)
def test_patients(store: Store, criteria: list[tuple[str, str]], expected: set[str]) -> None:
    assert store.find("Patient", *criteria) == expected


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ([("subject", "Patient/asa")], {"temp"}),
        ([("patient", "Patient/asa")], {"temp"}),
        ([("patient", "g1")], set()),  # patient is subject.where(resolve() is Patient)
        ([("subject:Group", "g1")], {"weight"}),
        ([("code", "http://loinc.org|8310-5,http://loinc.org|15074-8")], {"temp", "glucose"}),
        ([("status", "final"), ("code", "15074-8")], {"glucose"}),
        ([("value-quantity", "37.5")], {"temp"}),
        ([("value-quantity", "37.50|http://unitsofmeasure.org|Cel")], {"temp"}),
        ([("value-quantity", "37.5|http://unitsofmeasure.org|mg")], set()),
        ([("value-quantity", "70||kg")], {"weight"}),
        ([("value-quantity", "gt37")], {"temp", "weight"}),
        ([("value-quantity", "lt10")], {"glucose"}),
        ([("value-quantity", "ap66")], {"weight"}),
        ([("value-quantity", "ne70")], {"temp", "glucose"}),
        ([("date", "2026-11-24")], {"temp"}),
        ([("date", "2026-11")], {"temp", "weight", "glucose"}),
        ([("date", "2026-11-15")], set()),  # the period covers it, it is not within it
        ([("date", "ap2026-11-15")], {"weight"}),
        ([("date", "ge2026-11-24")], {"temp", "weight"}),
        ([("date", "sa2026-11-23")], {"temp"}),
        ([("date", "eb2026-11-24")], {"glucose"}),
    ],
)
def test_observations(store: Store, criteria: list[tuple[str, str]], expected: set[str]) -> None:
    assert store.find("Observation", *criteria) == expected


def test_numbers_and_uris(store: Store) -> None:
    assert store.find("RiskAssessment", ("probability", "0.25")) == {"ra"}
    assert store.find("RiskAssessment", ("probability", "0.2")) == set()  # 0.15..0.25
    assert store.find("RiskAssessment", ("probability", "ap0.24")) == {"ra"}
    assert store.find("RiskAssessment", ("probability", "0.250")) == set()  # more precise
    assert store.find("RiskAssessment", ("probability", "gt0.3")) == set()
    assert store.find("RiskAssessment", ("probability", "lt0.3")) == {"ra"}
    url = "http://example.se/fhir/ValueSet/kommun"
    assert store.find("ValueSet", ("url", url)) == {"vs"}
    assert store.find("ValueSet", ("url", "http://example.se/fhir")) == set()
    assert store.find("ValueSet", ("url:below", "http://example.se/fhir")) == {"vs"}
    assert store.find("ValueSet", ("url:below", "http://example.se/fh")) == set()
    assert store.find("ValueSet", ("url:above", url + "/v2")) == {"vs"}
    assert store.find(
        "Patient", ("_profile", "http://example.se/StructureDefinition/SEPatient|1.0")
    ) == {"asa"}


def test_the_selecting_clause_drives_the_query(store: Store) -> None:
    """An identifier is looked up through its index, not by scanning every Patient."""
    plan = parse_criteria(
        store.definitions,
        "Patient",
        [("gender", "female"), ("identifier", f"{PERSONNUMMER}|191212121212")],
    )
    sql, args = compile_plan(plan, store.keys)
    steps = [row[3] for row in store.conn.execute("EXPLAIN QUERY PLAN " + sql, args)]
    assert "SEARCH i USING PRIMARY KEY (t=? AND code=? AND system=?)" in steps, steps
    assert not any(step.startswith("SCAN") for step in steps)
    assert sql.count("?") == len(args)
