"""_text and _content (simple full text), _contained, and what the CapabilityStatement says
of them, on either store."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

XHTML = "http://www.w3.org/1999/xhtml"


def _put(client: TestClient, resource: dict[str, Any]) -> None:
    answer = client.put(f"/{resource['resourceType']}/{resource['id']}", json=resource)
    assert answer.status_code in (200, 201), answer.text


def _ids(client: TestClient, query: str) -> set[str]:
    answer = client.get(query)
    assert answer.status_code == 200, answer.text
    return {e["resource"]["id"] for e in answer.json().get("entry", [])}


def _narrative(text: str) -> dict[str, str]:
    return {"status": "generated", "div": f'<div xmlns="{XHTML}"><p>{text}</p></div>'}


@pytest.fixture
def data(client: TestClient) -> TestClient:
    _put(
        client,
        {
            "resourceType": "Condition",
            "id": "c1",
            "text": _narrative("Diabetes typ 2 hos <b>Åsa</b> &amp; hennes läkare"),
            "subject": {"reference": "Patient/p1"},
            "code": {"text": "Hjärtsvikt"},
            "note": [{"text": "Behöver hemtjänst efter utskrivning"}],
        },
    )
    _put(
        client,
        {
            "resourceType": "Condition",
            "id": "c2",
            "text": _narrative("Hjärtsvikt, kronisk"),
            "subject": {"reference": "Patient/p1"},
            "code": {"text": "Diabetes"},
        },
    )
    _put(
        client,
        {
            "resourceType": "Condition",
            "id": "c3",
            "subject": {"reference": "Patient/diabetes"},
            "recordedDate": "2024-03-01",
        },
    )
    return client


def test_text_searches_the_narrative_only(data: TestClient) -> None:
    assert _ids(data, "/Condition?_text=diabetes") == {"c1"}
    assert _ids(data, "/Condition?_text=DIAB") == {"c1"}  # a word's beginning, any case
    assert _ids(data, "/Condition?_text=asa") == {"c1"}  # accents folded, markup dropped
    assert _ids(data, "/Condition?_text=lakare") == {"c1"}
    assert _ids(data, "/Condition?_text=abetes") == set()  # not inside a word
    assert _ids(data, "/Condition?_text=hjärtsvikt") == {"c2"}
    assert _ids(data, "/Condition?_text=amp") == set()  # an entity is its character
    assert _ids(data, "/Condition?_text=hemtjanst") == set()  # a note is not narrative


def test_content_searches_all_text(data: TestClient) -> None:
    assert _ids(data, "/Condition?_content=diabetes") == {"c1", "c2"}
    assert _ids(data, "/Condition?_content=hemtjänst") == {"c1"}
    assert _ids(data, "/Condition?_content=hjärt") == {"c1", "c2"}
    # references and dates are not text
    assert _ids(data, "/Condition?_content=patient") == set()
    assert _ids(data, "/Condition?_content=2024") == set()


def test_words_and_alternatives(data: TestClient) -> None:
    assert _ids(data, "/Condition?_content=diabetes hjärtsvikt") == {"c1", "c2"}
    assert _ids(data, "/Condition?_content=diabetes hemtjänst") == {"c1"}
    assert _ids(data, "/Condition?_text=diabetes kronisk") == set()
    assert _ids(data, "/Condition?_text=kronisk,åsa") == {"c1", "c2"}
    assert _ids(data, "/Condition?_content=diabetes hemtjänst,kronisk") == {"c1", "c2"}
    assert _ids(data, "/Condition?_content=diabetes hemtjänst,nej") == {"c1"}
    assert _ids(data, "/Condition?_text=diab&_content=hemtj") == {"c1"}


def test_an_update_replaces_the_words(data: TestClient) -> None:
    _put(
        data,
        {"resourceType": "Condition", "id": "c2", "subject": {"reference": "Patient/p1"}},
    )
    assert _ids(data, "/Condition?_content=kronisk") == set()


@pytest.mark.parametrize(
    "query",
    [
        "_text=...",
        "_content:exact=diabetes",
        "_text=a,",
        "_containedType=contained",
        "_contained=x",
    ],
)
def test_bad_full_text_and_contained_are_400(data: TestClient, query: str) -> None:
    answer = data.get(f"/Condition?{query}")
    assert answer.status_code == 400, answer.text
    outcome = answer.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert query.split("=")[0] in outcome["issue"][0]["expression"][0]


def test_contained_false_is_the_default(data: TestClient) -> None:
    answer = data.get("/Condition?_text=diabetes&_contained=false")
    assert answer.status_code == 200, answer.text
    bundle = answer.json()
    assert {e["resource"]["id"] for e in bundle["entry"]} == {"c1"}
    assert "_contained=false" in bundle["link"][0]["url"]
    lenient = data.get(
        "/Condition?_text=diabetes&_contained=sometimes", headers={"Prefer": "handling=lenient"}
    )
    assert lenient.status_code == 200
    assert "_contained" not in lenient.json()["link"][0]["url"]


def test_full_text_of_contained_resources(data: TestClient) -> None:
    _put(
        data,
        {
            "resourceType": "Encounter",
            "id": "e1",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
            "contained": [
                {
                    "resourceType": "Condition",
                    "id": "dx",
                    "text": _narrative("Diabetes med njursvikt"),
                    "subject": {"reference": "Patient/p1"},
                }
            ],
            "diagnosis": [{"condition": {"reference": "#dx"}}],
        },
    )
    assert _ids(data, "/Condition?_text=njursvikt") == set()
    assert _ids(data, "/Condition?_text=njursvikt&_contained=true") == {"e1"}
    assert _ids(data, "/Condition?_text=diabetes&_contained=both") == {"c1", "e1"}
    assert _ids(data, "/Condition?_text=diabetes&_contained=true&_containedType=contained") == {
        "dx"
    }


def test_last_updated_is_never_missing(data: TestClient) -> None:
    assert _ids(data, "/Condition?_lastUpdated:missing=false") == {"c1", "c2", "c3"}
    assert _ids(data, "/Condition?_lastUpdated:missing=true") == set()
    assert data.get("/Condition?_lastUpdated:missing=maybe").status_code == 400


def test_capability_statement_lists_the_new_parameters(client: TestClient) -> None:
    statement = client.get("/metadata").json()
    by_type = {r["type"]: r for r in statement["rest"][0]["resource"]}
    observation = {p["name"]: p for p in by_type["Observation"]["searchParam"]}
    assert observation["component-code-value-quantity"]["type"] == "composite"
    assert observation["_text"]["type"] == "string"
    assert "full text" in observation["_content"]["documentation"]
    assert "a$b" in observation["code-value-quantity"]["documentation"]
    documentation = statement["rest"][0]["documentation"]
    assert "_contained=false (the default), true or both" in documentation
    assert "_containedType=container" in documentation
    assert "only _contained=false" not in documentation
    said = statement["rest"][0]["documentation"]
    assert ":in and :not-in" in said and ":above and :below" in said
    assert "near" not in {p["name"] for p in by_type["Location"]["searchParam"]}
    group = {p["name"] for p in by_type["Group"]["searchParam"]}
    assert "characteristic-value" in group
