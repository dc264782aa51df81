"""search-type (GET /Type?…, POST /Type/_search): searchset Bundles and paging."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.api.test_crud import patient

PNR = "http://electronichealth.se/identifier/personnummer"


def _people(client: TestClient) -> None:
    for i, (family, given, born) in enumerate(
        [
            ("Åkesson", "Åsa", "1940-01-01"),
            ("Öberg", "Örjan", "1950-06-15"),
            ("Berg", "Åsa", "1960-12-31"),
            ("Lind", "Märta", "1970-03-03"),
        ]
    ):
        body = patient(id=f"p{i}", name=[{"family": family, "given": [given]}], birthDate=born)
        body["identifier"][0]["value"] = f"19{i}0101010{i}"
        assert client.put(f"/Patient/p{i}", json=body).status_code == 201


def _ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


def test_search_by_string_token_and_date(client: TestClient) -> None:
    _people(client)
    by_name = client.get("/Patient", params={"given": "asa"}).json()
    assert by_name["type"] == "searchset" and by_name["total"] == 2
    assert sorted(_ids(by_name)) == ["p0", "p2"]
    by_identifier = client.get("/Patient", params={"identifier": f"{PNR}|19101010101"})
    assert _ids(by_identifier.json()) == ["p1"]
    assert _ids(client.get("/Patient?birthdate=ge1960&birthdate=lt1970").json()) == ["p2"]
    everything = client.get("/Patient").json()
    assert everything["total"] == 4
    client.delete("/Patient/p3")
    assert client.get("/Patient").json()["total"] == 3


def test_post_search_and_entries(client: TestClient) -> None:
    _people(client)
    response = client.post(
        "/Patient/_search",
        content=b"family=berg",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    bundle = response.json()
    assert _ids(bundle) == ["p2"]  # starts-with: "Öberg" is not found by "berg"
    entry = bundle["entry"][0]
    assert entry["fullUrl"].endswith("/Patient/p2")
    assert client.post("/Patient/_search", json={"family": "berg"}).status_code == 415


def test_paging_with_cursor(client: TestClient) -> None:
    _people(client)
    url: str | None = "/Patient?_count=3"
    pages = []
    while url:
        page = client.get(url).json()
        pages.append(_ids(page))
        url = next((x["url"] for x in page["link"] if x["relation"] == "next"), None)
        if len(pages) == 1:
            client.put("/Patient/late", json=patient(id="late"))  # a write between pages
    assert pages == [["p0", "p1", "p2"], ["p3", "late"]]


def test_summary_count_total_none_and_elements(client: TestClient) -> None:
    _people(client)
    count = client.get("/Patient?_summary=count").json()
    assert count["total"] == 4 and "entry" not in count
    no_total = client.get("/Patient?_total=none").json()
    assert "total" not in no_total and len(_ids(no_total)) == 4
    elements = client.get("/Patient?_elements=birthDate&family=lind").json()
    assert set(elements["entry"][0]["resource"]) == {"resourceType", "id", "meta", "birthDate"}


def test_unknown_parameters_strict_and_lenient(client: TestClient) -> None:
    _people(client)
    strict = client.get("/Patient?nonsense=1")
    assert strict.status_code == 400
    assert strict.json()["issue"][0]["expression"] == ["nonsense"]
    assert client.get("/Patient?_sort=nonsense").status_code == 400
    assert client.get("/Patient?_containedType=contained").status_code == 400
    lenient = client.get(
        "/Patient?nonsense=1&family=lind&_sort=nonsense&_sort=family",
        headers={"Prefer": "handling=lenient"},
    ).json()
    assert _ids(lenient) == ["p3"]
    outcome = [e for e in lenient["entry"] if e["search"]["mode"] == "outcome"]
    assert len(outcome) == 1 and len(outcome[0]["resource"]["issue"]) == 2
    self_link = next(x["url"] for x in lenient["link"] if x["relation"] == "self")
    assert "nonsense" not in self_link and "family=lind" in self_link
    assert "_sort=family" in self_link


def test_capability_lists_search(client: TestClient) -> None:
    statement = client.get("/metadata").json()
    patient_entry = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Patient")
    assert "search-type" in {i["code"] for i in patient_entry["interaction"]}
    names = {p["name"] for p in patient_entry["searchParam"]}
    assert {"identifier", "family", "birthdate", "_id", "_lastUpdated"} <= names
    assert {"_text", "_content"} <= names
    assert "_query" not in names
