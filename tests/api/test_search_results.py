"""_sort (keyset pages), _include and _revinclude (with :iterate and *)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from starlette.testclient import TestClient


def _put(client: TestClient, resource: dict[str, Any]) -> None:
    answer = client.put(f"/{resource['resourceType']}/{resource['id']}", json=resource)
    assert answer.status_code in (200, 201), answer.text


def _matches(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


def _included(bundle: dict[str, Any]) -> set[str]:
    return {
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in bundle.get("entry", [])
        if e["search"]["mode"] == "include"
    }


def _next(client: TestClient, bundle: dict[str, Any]) -> dict[str, Any] | None:
    url = next((x["url"] for x in bundle["link"] if x["relation"] == "next"), None)
    if url is None:
        return None
    parts = urlsplit(url)
    response = client.get(parts.path, params=parse_qsl(parts.query))
    assert response.status_code == 200, response.text
    return response.json()


PEOPLE = [  # id, family, birthDate (None: missing)
    ("a", "Öberg", "1950-01-01"),
    ("b", "Andersson", "1970-05-05"),
    ("c", "Berg", None),
    ("d", "Andersson", "1940-02-02"),
    ("e", "Åberg", "1960-03-03"),
    ("f", None, "1980-04-04"),
]


@pytest.fixture
def people(client: TestClient) -> TestClient:
    for pid, family, born in PEOPLE:
        patient: dict[str, Any] = {"resourceType": "Patient", "id": pid}
        if family:
            patient["name"] = [{"family": family}]
        if born:
            patient["birthDate"] = born
        _put(client, patient)
    return client


def test_sort_by_string_and_date_with_missing_values_last(people: TestClient) -> None:
    by_family = _matches(people.get("/Patient?_sort=family").json())
    # normalised text: Åberg and Öberg sort as aberg and oberg; ties by the order stored
    assert by_family == ["e", "b", "d", "c", "a", "f"]
    by_family_desc = _matches(people.get("/Patient?_sort=-family").json())
    assert by_family_desc == ["a", "c", "b", "d", "e", "f"]
    assert _matches(people.get("/Patient?_sort=birthdate").json()) == ["d", "a", "e", "b", "f", "c"]
    assert _matches(people.get("/Patient?_sort=-birthdate").json()) == [
        "f",
        "b",
        "e",
        "a",
        "d",
        "c",
    ]
    two_keys = _matches(people.get("/Patient?_sort=family,-birthdate").json())
    assert two_keys == ["e", "b", "d", "c", "a", "f"]
    assert _matches(people.get("/Patient?_sort=-_id").json()) == ["f", "e", "d", "c", "b", "a"]


def test_sorted_pages_follow_the_cursor_without_repeats_or_gaps(people: TestClient) -> None:
    bundle: dict[str, Any] | None = people.get("/Patient?_sort=family,-birthdate&_count=2").json()
    seen: list[str] = []
    pages = 0
    while bundle is not None and pages < 10:
        seen += _matches(bundle)
        pages += 1
        if pages == 1:  # a write between pages that sorts before the cursor is not seen
            _put(people, {"resourceType": "Patient", "id": "g", "name": [{"family": "Aalto"}]})
        bundle = _next(people, bundle)
    assert pages == 3
    assert seen == ["e", "b", "d", "c", "a", "f"]


def test_sort_errors(people: TestClient) -> None:
    for url in ("/Patient?_sort=nosuch", "/Patient?_sort=", "/Patient?_sort=family,family"):
        answer = people.get(url)
        assert answer.status_code == 400, url
        assert answer.json()["issue"][0]["expression"] == ["_sort"]
    assert people.get("/Patient?_sort=family&_cursor=bm9wZQ").status_code == 400


@pytest.fixture
def clinic(client: TestClient) -> TestClient:
    _put(client, {"resourceType": "Organization", "id": "region", "name": "Region"})
    _put(
        client,
        {
            "resourceType": "Organization",
            "id": "vc",
            "name": "VC",
            "partOf": {"reference": "Organization/region"},
        },
    )
    _put(client, {"resourceType": "Practitioner", "id": "dr"})
    for pid in ("p1", "p2"):
        _put(
            client,
            {
                "resourceType": "Patient",
                "id": pid,
                "managingOrganization": {"reference": "Organization/vc"},
                "generalPractitioner": [{"reference": "Practitioner/dr"}],
            },
        )
    for oid, subject in (("o1", "p1"), ("o2", "p1"), ("o3", "p2")):
        _put(
            client,
            {
                "resourceType": "Observation",
                "id": oid,
                "status": "final",
                "code": {"text": "x"},
                "subject": {"reference": f"Patient/{subject}"},
                "performer": [{"reference": "Practitioner/dr"}],
            },
        )
    _put(client, {"resourceType": "Patient", "id": "gone"})
    _put(
        client,
        {
            "resourceType": "Observation",
            "id": "o4",
            "status": "final",
            "code": {"text": "x"},
            "subject": {"reference": "Patient/gone"},
        },
    )
    assert client.delete("/Patient/gone").status_code in (200, 204)
    return client


def test_include_and_its_target_type(clinic: TestClient) -> None:
    bundle = clinic.get("/Observation?_id=o1,o3&_include=Observation:subject").json()
    assert sorted(_matches(bundle)) == ["o1", "o3"]
    assert _included(bundle) == {"Patient/p1", "Patient/p2"}
    typed = clinic.get("/Observation?_id=o1&_include=Observation:performer:Organization").json()
    assert _included(typed) == set()
    every = clinic.get("/Observation?_id=o1&_include=Observation:*").json()
    assert _included(every) == {"Patient/p1", "Practitioner/dr"}
    # a deleted target is not included
    deleted = clinic.get("/Observation?_id=o4&_include=Observation:subject").json()
    assert _included(deleted) == set()
    # included resources appear once, and never again when they are matches
    self_ref = clinic.get("/Patient?_include=Patient:general-practitioner&_id=p1,p2").json()
    assert _included(self_ref) == {"Practitioner/dr"}


def test_revinclude_and_iterate(clinic: TestClient) -> None:
    bundle = clinic.get("/Patient?_id=p1&_revinclude=Observation:subject").json()
    assert _matches(bundle) == ["p1"]
    assert _included(bundle) == {"Observation/o1", "Observation/o2"}
    iterated = clinic.get(
        "/Observation?_id=o3&_include=Observation:subject"
        "&_include:iterate=Patient:organization&_include:iterate=Organization:partof"
    ).json()
    assert _included(iterated) == {"Patient/p2", "Organization/vc", "Organization/region"}
    # without :iterate, the organisation of the included patient stays out
    not_iterated = clinic.get("/Observation?_id=o3&_include=Observation:subject").json()
    assert _included(not_iterated) == {"Patient/p2"}
    reverse_iterated = clinic.get(
        "/Practitioner?_id=dr&_revinclude=Patient:general-practitioner"
        "&_revinclude:iterate=Observation:subject"
    ).json()
    assert _included(reverse_iterated) == {
        "Patient/p1",
        "Patient/p2",
        "Observation/o1",
        "Observation/o2",
        "Observation/o3",
    }


@pytest.mark.parametrize(
    "query",
    [
        "_include=Observation",
        "_include=Observation:code",
        "_include=Nothing:subject",
        "_include=Patient:organization",  # not the searched type, and not :iterate
        "_include:deep=Observation:subject",
        "_revinclude=*",
        "_include=Observation:subject:Nothing",
        "_include=Observation:subject:Medication",
        "_revinclude=Organization:partof",  # refers to Organizations, not Observations
    ],
)
def test_include_errors(clinic: TestClient, query: str) -> None:
    answer = clinic.get(f"/Observation?{query}")
    assert answer.status_code == 400, query
    assert answer.json()["resourceType"] == "OperationOutcome"


def _follow(client: TestClient, bundle: dict[str, Any], relation: str) -> dict[str, Any] | None:
    url = next((x["url"] for x in bundle["link"] if x["relation"] == relation), None)
    if url is None:
        return None
    parts = urlsplit(url)
    response = client.get(parts.path, params=parse_qsl(parts.query))
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("query", ["_count=2", "_count=2&_sort=-birthdate,family"])
def test_previous_and_first_links_walk_back(people: TestClient, query: str) -> None:
    pages: list[list[str]] = []
    bundle: dict[str, Any] | None = people.get(f"/Patient?{query}").json()
    assert bundle is not None
    relations = {x["relation"] for x in bundle["link"]}
    assert relations == {"self", "first", "next"}  # no previous on the first page
    while bundle is not None and len(pages) < 10:
        pages.append(_matches(bundle))
        last = bundle
        bundle = _follow(people, bundle, "next")
    assert len(pages) == 3
    assert sorted(i for page in pages for i in page) == ["a", "b", "c", "d", "e", "f"]
    back: list[list[str]] = []
    bundle = last
    while bundle is not None and len(back) < 10:
        back.append(_matches(bundle))
        bundle = _follow(people, bundle, "previous")
    assert back == list(reversed(pages))
    first = _follow(people, last, "first")
    assert first is not None and _matches(first) == pages[0]


def test_capability_statement_lists_includes(client: TestClient) -> None:
    resources = client.get("/metadata").json()["rest"][0]["resource"]
    patient = next(r for r in resources if r["type"] == "Patient")
    assert {"Patient:general-practitioner", "Patient:organization", "*"} <= set(
        patient["searchInclude"]
    )
    assert {"Observation:subject", "Observation:patient", "Encounter:subject"} <= set(
        patient["searchRevInclude"]
    )
    assert "Observation:subject" not in set(
        next(r for r in resources if r["type"] == "Medication").get("searchRevInclude", [])
    )


OBSERVATIONS = [  # id, code, valueQuantity (None: missing)
    ("o1", "8867-4", 72.5),
    ("o2", "29463-7", 80.0),
    ("o3", "8867-4", None),
    ("o4", "1234-5", 5.25),
    ("o5", "29463-7", 80.0),
]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("value-quantity", ["o4", "o1", "o2", "o5", "o3"]),
        ("-value-quantity", ["o2", "o5", "o1", "o4", "o3"]),
        ("code", ["o4", "o2", "o5", "o1", "o3"]),
        ("-code,-value-quantity", ["o1", "o3", "o2", "o5", "o4"]),
        ("-_lastUpdated", ["o5", "o4", "o3", "o2", "o1"]),
    ],
)
def test_numeric_token_and_last_updated_keys_page_both_ways(
    client: TestClient, sort: str, expected: list[str]
) -> None:
    """Every kind of sort value (text, number, the missing-value sentinel, rid) survives
    the cursor on both stores: pages forwards, then back by the previous links."""
    for oid, code, value in OBSERVATIONS:
        observation: dict[str, Any] = {
            "resourceType": "Observation",
            "id": oid,
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        }
        if value is not None:
            observation["valueQuantity"] = {"value": value, "unit": "kg"}
        _put(client, observation)
    assert _matches(client.get(f"/Observation?_sort={sort}").json()) == expected
    pages: list[list[str]] = []
    bundle: dict[str, Any] | None = client.get(f"/Observation?_sort={sort}&_count=2").json()
    while bundle is not None and len(pages) < 10:
        pages.append(_matches(bundle))
        last = bundle
        bundle = _follow(client, bundle, "next")
    assert [i for page in pages for i in page] == expected
    back: list[list[str]] = []
    bundle = last
    while bundle is not None and len(back) < 10:
        back.append(_matches(bundle))
        bundle = _follow(client, bundle, "previous")
    assert back == list(reversed(pages))
