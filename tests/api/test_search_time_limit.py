"""Through HTTP: a search past the time limit is a 400 OperationOutcome (too-costly) and
the server goes on: writes, reads and searches within the limit work (the stopping itself,
mid-query in each store: tests/storage/test_search_time_limit.py)."""

from __future__ import annotations

from starlette.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.config import Settings


def test_a_search_past_the_limit_is_refused_and_the_server_goes_on(settings: Settings) -> None:
    with TestClient(create_app(settings), base_url="http://testserver") as within:
        pid = within.post("/Patient", json={"resourceType": "Patient"}).json()["id"]
        assert within.get("/Patient", params={"_id": pid}).json()["total"] == 1
    # no time at all: every search is past it
    hurried = settings.model_copy(update={"search_timeout_seconds": 1e-9})
    with TestClient(create_app(hurried), base_url="http://testserver") as client:
        for url in ("/Patient", f"/Patient?_id={pid}", "/Patient/_history"):
            response = client.get(url)
            assert response.status_code == 400, url
            outcome = response.json()
            assert outcome["resourceType"] == "OperationOutcome"
            assert [i["code"] for i in outcome["issue"]] == ["too-costly"]
            assert "took longer than the server allows" in outcome["issue"][0]["diagnostics"]
        # reads and writes are not searches
        assert client.get(f"/Patient/{pid}").status_code == 200
        assert client.post("/Patient", json={"resourceType": "Patient"}).status_code == 201
