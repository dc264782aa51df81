"""_contained and _containedType (search.html#contained) through HTTP, on either store
(FHIR_SERVER_TEST_STORE=postgres runs them on PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

SCT = "http://snomed.info/sct"
ATC = "http://www.whocc.no/atc"


def _put(client: TestClient, resource: dict[str, Any]) -> None:
    answer = client.put(f"/{resource['resourceType']}/{resource['id']}", json=resource)
    assert answer.status_code in (200, 201), answer.text


def _bundle(client: TestClient, query: str) -> dict[str, Any]:
    answer = client.get(query)
    assert answer.status_code == 200, answer.text
    bundle: dict[str, Any] = answer.json()
    return bundle


def _urls(client: TestClient, query: str) -> list[str]:
    base = str(client.base_url).rstrip("/")
    out = []
    for entry in _bundle(client, query).get("entry", []):
        assert entry["search"]["mode"] == "match"
        assert entry["fullUrl"].startswith(base + "/")
        out.append(entry["fullUrl"][len(base) + 1 :])
    return out


def _medication(local_id: str, code: str, form: str = "tablet") -> dict[str, Any]:
    return {
        "resourceType": "Medication",
        "id": local_id,
        "code": {"coding": [{"system": ATC, "code": code}]},
        "form": {"coding": [{"system": SCT, "code": form}]},
    }


def _request(rid: str, medication: dict[str, Any] | None, status: str = "active") -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": status,
        "intent": "order",
        "subject": {"reference": "Patient/pat1"},
    }
    if medication is not None:
        resource["contained"] = [medication]
        resource["medicationReference"] = {"reference": f"#{medication['id']}"}
    else:
        resource["medicationCodeableConcept"] = {"text": "unknown"}
    return resource


@pytest.fixture
def data(client: TestClient) -> TestClient:
    _put(
        client,
        {
            "resourceType": "Patient",
            "id": "pat1",
            "name": [{"family": "Lind", "given": ["Åsa"]}],
            "generalPractitioner": [{"reference": "#gp"}, {"reference": "#vc"}],
            "contained": [
                {
                    "resourceType": "Practitioner",
                    "id": "gp",
                    "name": [{"family": "Berg", "given": ["Karin"]}],
                    "identifier": [{"system": "urn:oid:1.2.752.29.4.19", "value": "SE123-gp"}],
                },
                {
                    "resourceType": "Organization",
                    "id": "vc",
                    "name": "Vårdcentralen Norr",
                    "identifier": [{"system": "urn:oid:1.2.752.29.4.19", "value": "SE123-vc"}],
                },
            ],
        },
    )
    _put(client, {"resourceType": "Practitioner", "id": "prac1", "name": [{"family": "Berg"}]})
    _put(client, _request("mr1", _medication("med", "N02BE01")))
    _put(client, _request("mr2", _medication("m", "C03CA01", form="solution")))
    _put(client, _request("mr3", None, status="stopped"))
    _put(client, {**_medication("m1", "N02BE01"), "id": "m1"})
    return client


def test_default_and_false_match_only_resources(data: TestClient) -> None:
    assert _urls(data, "/Practitioner?family=berg") == ["Practitioner/prac1"]
    assert _urls(data, "/Practitioner?family=berg&_contained=false") == ["Practitioner/prac1"]
    assert _urls(data, f"/Medication?code={ATC}|N02BE01") == ["Medication/m1"]


def test_patient_with_contained_practitioner_and_organization(data: TestClient) -> None:
    assert _urls(data, "/Practitioner?family=berg&_contained=true") == ["Patient/pat1"]
    assert _urls(data, "/Practitioner?family=berg&_contained=true&_containedType=contained") == [
        "Patient/pat1#gp"
    ]
    bundle = _bundle(
        data, "/Organization?name=vårdcentralen&_contained=true&_containedType=contained"
    )
    assert bundle["total"] == 1
    (entry,) = bundle["entry"]
    assert entry["resource"] == {
        "resourceType": "Organization",
        "id": "vc",
        "name": "Vårdcentralen Norr",
        "identifier": [{"system": "urn:oid:1.2.752.29.4.19", "value": "SE123-vc"}],
    }
    assert entry["fullUrl"].endswith("/Patient/pat1#vc")
    assert entry["search"] == {"mode": "match"}
    # every parameter type of the contained resource's own type
    assert _urls(
        data, "/Organization?identifier=urn:oid:1.2.752.29.4.19|SE123-vc&_contained=true"
    ) == ["Patient/pat1"]
    assert _urls(data, "/Organization?name:exact=Vårdcentralen Norr&_contained=true") == [
        "Patient/pat1"
    ]
    assert _urls(data, "/Practitioner?_id=gp&_contained=true") == ["Patient/pat1"]
    assert _urls(data, "/Practitioner?name:missing=true&_contained=true") == []
    # the container's own parameters do not reach into what it contains, nor the reverse
    assert _urls(data, "/Patient?family=berg") == []
    assert _urls(data, "/Organization?name=vårdcentralen") == []


def test_medication_request_with_contained_medication(data: TestClient) -> None:
    # a contained Medication found by its code, returned as its container
    assert _urls(data, f"/Medication?code={ATC}|N02BE01&_contained=true") == [
        "MedicationRequest/mr1"
    ]
    assert _urls(
        data, f"/Medication?code={ATC}|N02BE01&_contained=true&_containedType=contained"
    ) == ["MedicationRequest/mr1#med"]
    assert _urls(data, f"/Medication?form={SCT}|solution&_contained=true") == [
        "MedicationRequest/mr2"
    ]
    assert _urls(data, "/Medication?code:not=N02BE01&_contained=true&_containedType=contained") == [
        "MedicationRequest/mr2#m"
    ]
    # a MedicationRequest is a resource, and contained in nothing
    assert _urls(data, "/MedicationRequest?status=active") == [
        "MedicationRequest/mr1",
        "MedicationRequest/mr2",
    ]
    assert _urls(data, "/MedicationRequest?status=active&_contained=true") == []
    assert _urls(data, "/MedicationRequest?status=active&_contained=both") == [
        "MedicationRequest/mr1",
        "MedicationRequest/mr2",
    ]


def test_both(data: TestClient) -> None:
    query = f"/Medication?code={ATC}|N02BE01&_contained=both"
    assert _urls(data, query) == ["MedicationRequest/mr1", "Medication/m1"]
    assert _bundle(data, query)["total"] == 2
    contained = _bundle(data, query + "&_containedType=contained")
    assert contained["total"] == 2
    assert [e["resource"]["id"] for e in contained["entry"]] == ["med", "m1"]
    assert _urls(data, query + "&_containedType=contained") == [
        "MedicationRequest/mr1#med",
        "Medication/m1",
    ]
    # one at a time: the contained one (its container came first), then the resource
    page = _bundle(data, query + "&_containedType=contained&_count=1")
    ids = [e["resource"]["id"] for e in page["entry"]]
    while next_link := next((x["url"] for x in page["link"] if x["relation"] == "next"), None):
        page = _bundle(data, next_link)
        ids += [e["resource"]["id"] for e in page["entry"]]
    assert ids == ["med", "m1"]
    # a container is returned once however many of its contained resources match
    assert _urls(data, "/Practitioner?_contained=both") == ["Patient/pat1", "Practitioner/prac1"]


def test_container_is_returned_once(data: TestClient) -> None:
    two = {
        **_request("mr4", _medication("a", "B01AC06")),
        "contained": [_medication("a", "B01AC06"), _medication("b", "B01AC06")],
    }
    _put(data, two)
    assert _urls(data, "/Medication?code=B01AC06&_contained=true") == ["MedicationRequest/mr4"]
    assert _bundle(data, "/Medication?code=B01AC06&_contained=true")["total"] == 1
    assert _urls(data, "/Medication?code=B01AC06&_contained=true&_containedType=contained") == [
        "MedicationRequest/mr4#a",
        "MedicationRequest/mr4#b",
    ]


def test_update_replaces_and_delete_removes_contained_rows(data: TestClient) -> None:
    contained = "&_contained=true&_containedType=contained"
    assert _urls(data, f"/Medication?code=N02BE01{contained}") == ["MedicationRequest/mr1#med"]
    _put(data, _request("mr1", _medication("med2", "A10BA02")))
    assert _urls(data, f"/Medication?code=N02BE01{contained}") == []
    assert _urls(data, f"/Medication?code=A10BA02{contained}") == ["MedicationRequest/mr1#med2"]
    assert _urls(data, f"/Medication?_id=med{contained}") == []
    # the container without contained resources has none left
    _put(data, _request("mr1", None))
    assert _urls(data, f"/Medication?code=A10BA02{contained}") == []
    assert _urls(data, f"/Medication?{contained[1:]}") == ["MedicationRequest/mr2#m"]
    # deleting the container takes its contained resources with it
    assert data.delete("/MedicationRequest/mr2").status_code in (200, 204)
    assert _urls(data, f"/Medication?{contained[1:]}") == []
    assert _urls(data, "/Medication?_contained=both") == ["Medication/m1"]
    assert _bundle(data, "/Medication?_contained=true")["total"] == 0
    # a top-level resource of the type is untouched by all this
    assert _urls(data, "/Medication?code=N02BE01") == ["Medication/m1"]


def test_paging_count_total_and_sort(client: TestClient) -> None:
    for n in range(7):
        _put(client, _request(f"r{n}", _medication(f"x{n}", "J01CA04")))
    query = "/Medication?code=J01CA04&_contained=true&_containedType=contained&_count=3"
    first = _bundle(client, query)
    assert first["total"] == 7
    seen = [e["resource"]["id"] for e in first["entry"]]
    page = first
    while next_link := next((x["url"] for x in page["link"] if x["relation"] == "next"), None):
        assert "_contained=true" in next_link and "_containedType=contained" in next_link
        page = _bundle(client, next_link)
        assert page["total"] == 7
        seen += [e["resource"]["id"] for e in page["entry"]]
    assert seen == [f"x{n}" for n in range(7)]
    previous = next(x["url"] for x in page["link"] if x["relation"] == "previous")
    assert [e["resource"]["id"] for e in _bundle(client, previous)["entry"]] == ["x3", "x4", "x5"]
    # sorted by the contained resources' own values, or by the containers'
    by_id = _bundle(client, query.replace("_count=3", "_sort=-_id"))
    assert [e["resource"]["id"] for e in by_id["entry"]] == [f"x{n}" for n in reversed(range(7))]
    containers = "/Medication?code=J01CA04&_contained=true&_count=4"
    assert _bundle(client, containers)["total"] == 7
    assert len(_bundle(client, containers)["entry"]) == 4
    newest = _urls(client, containers + "&_sort=-_lastUpdated")
    assert newest == [f"MedicationRequest/r{n}" for n in (6, 5, 4, 3)]
    assert _urls(client, containers + "&_sort=-_id&_count=2") == [
        "MedicationRequest/r6",
        "MedicationRequest/r5",
    ]
    assert "total" not in _bundle(client, containers + "&_total=none")
    summary = _bundle(client, containers + "&_summary=count")
    assert summary["total"] == 7 and "entry" not in summary


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("_containedType=contained", "_containedType"),
        ("_contained=false&_containedType=container", "_containedType"),
        ("_contained=yes", "_contained"),
        ("_contained=TRUE", "_contained"),
        ("_containedType=both&_contained=true", "_containedType"),
        ("_contained:exact=true", "_contained:exact"),
        ("_contained=true&_contained=both", "_contained"),
        ("_contained=true&_sort=code", "_sort"),
        ("_contained=true&_has:MedicationRequest:medication:status=active", "_has"),
        ("_contained=both&_list=l1", "_list"),
    ],
)
def test_bad_contained_parameters_are_400(data: TestClient, query: str, named: str) -> None:
    answer = data.get(f"/Medication?{query}")
    assert answer.status_code == 400, answer.text
    outcome = answer.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"] == [named], outcome


def test_sort_by_contained_values_with_contained_type_contained(data: TestClient) -> None:
    query = "/Medication?_contained=both&_containedType=contained&_sort=code"
    ids = [e["resource"]["id"] for e in _bundle(data, query)["entry"]]
    assert ids == ["m", "med", "m1"] or ids == ["m", "m1", "med"]
    assert ids[0] == "m"  # C03CA01 before N02BE01


def test_lenient_leaves_a_stray_contained_type_out(data: TestClient) -> None:
    answer = data.get(
        f"/Medication?code={ATC}|N02BE01&_containedType=contained",
        headers={"Prefer": "handling=lenient"},
    )
    assert answer.status_code == 200, answer.text
    bundle = answer.json()
    assert "_containedType" not in bundle["link"][0]["url"]
    matches = [e for e in bundle["entry"] if e["search"]["mode"] == "match"]
    assert [e["resource"]["id"] for e in matches] == ["m1"]
    outcome = [e for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert "_containedType" in outcome[0]["resource"]["issue"][0]["diagnostics"]


def test_post_search_and_self_link(data: TestClient) -> None:
    answer = data.post(
        "/Medication/_search",
        content=f"code={ATC}|N02BE01&_contained=true&_containedType=contained",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200, answer.text
    bundle = answer.json()
    assert [e["resource"]["id"] for e in bundle["entry"]] == ["med"]
    assert "_contained=true" in bundle["link"][0]["url"]
    assert "_containedType=contained" in bundle["link"][0]["url"]


def test_include_is_not_followed_from_contained_results(data: TestClient) -> None:
    bundle = _bundle(
        data,
        "/Practitioner?_contained=both&_containedType=contained&_revinclude=Patient:general-practitioner",
    )
    modes = [(e["search"]["mode"], e["resource"]["id"]) for e in bundle["entry"]]
    assert modes == [("match", "gp"), ("match", "prac1")]


def test_compartment_last_updated_and_shaping(data: TestClient) -> None:
    # a contained resource has its container's lastUpdated
    assert _urls(data, "/Practitioner?_contained=true&_lastUpdated=gt2000-01-01") == [
        "Patient/pat1"
    ]
    assert _urls(data, "/Practitioner?_contained=true&_lastUpdated=lt2000-01-01") == []
    _put(
        data,
        {
            "resourceType": "Observation",
            "id": "o1",
            "status": "final",
            "code": {"text": "Vikt"},
            "subject": {"reference": "Patient/pat1"},
            "hasMember": [{"reference": "#o2"}],
            "contained": [
                {
                    "resourceType": "Observation",
                    "id": "o2",
                    "status": "final",
                    "code": {"text": "Längd"},
                    "subject": {"reference": "Patient/pat1"},
                }
            ],
        },
    )
    # compartments and chains go from the contained resource's own references
    assert _urls(data, "/Patient/pat1/Observation?code:text=längd&_contained=true") == [
        "Observation/o1"
    ]
    assert _urls(data, "/Patient/other/Observation?code:text=längd&_contained=true") == []
    assert _urls(data, "/Observation?subject.family=lind&_contained=true") == ["Observation/o1"]
    shaped = _bundle(
        data,
        "/Observation?code:text=längd&_contained=true&_containedType=contained&_elements=code",
    )
    (entry,) = shaped["entry"]
    assert entry["resource"]["code"] == {"text": "Längd"}
    assert "subject" not in entry["resource"]
    assert entry["fullUrl"].endswith("/Observation/o1#o2")
