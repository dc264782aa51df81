"""history at instance, type and system level, with _since, _at, _count and paging."""

from __future__ import annotations

import time

from starlette.testclient import TestClient

from tests.api.test_crud import patient


def _pages(client: TestClient, url: str) -> list[dict]:
    pages = []
    while url:
        page = client.get(url).json()
        pages.append(page)
        url = next((x["url"] for x in page["link"] if x["relation"] == "next"), "")
    return pages


def test_history_levels_and_paging(client: TestClient) -> None:
    for i in range(7):
        client.put(f"/Patient/p{i}", json=patient(id=f"p{i}"))
    client.put("/Patient/p0", json=patient(id="p0", gender="male"))
    client.post("/Organization", json={"resourceType": "Organization", "name": "Vårdcentralen"})
    assert client.get("/Patient/p0/_history").json()["total"] == 2
    assert client.get("/Patient/_history").json()["total"] == 8
    system = client.get("/_history").json()
    assert system["type"] == "history" and system["total"] == 9
    pages = _pages(client, "/Patient/_history?_count=3")
    assert [len(p.get("entry", [])) for p in pages] == [3, 3, 2]
    seen = [e["fullUrl"] + e["response"]["etag"] for p in pages for e in p["entry"]]
    assert len(seen) == len(set(seen)) == 8
    # newest first
    first = pages[0]["entry"][0]
    assert first["resource"]["id"] == "p0" and first["resource"]["meta"]["versionId"] == "2"
    assert first["request"] == {"method": "PUT", "url": "Patient/p0"}


def test_paging_stays_correct_while_others_write(client: TestClient) -> None:
    for i in range(6):
        client.put(f"/Patient/p{i}", json=patient(id=f"p{i}"))
    page1 = client.get("/Patient/_history?_count=3").json()
    client.put("/Patient/new", json=patient(id="new"))
    next_url = next(x["url"] for x in page1["link"] if x["relation"] == "next")
    page2 = client.get(next_url).json()
    ids1 = [e["resource"]["id"] for e in page1["entry"]]
    ids2 = [e["resource"]["id"] for e in page2["entry"]]
    assert sorted(ids1 + ids2) == [f"p{i}" for i in range(6)]


def test_since_and_at(client: TestClient) -> None:
    client.put("/Patient/p1", json=patient(id="p1"))
    time.sleep(0.01)
    middle = client.get("/Patient/p1").json()["meta"]["lastUpdated"]
    time.sleep(0.01)
    client.put("/Patient/p1", json=patient(id="p1", gender="male"))
    client.put("/Patient/p2", json=patient(id="p2"))
    since = client.get("/_history", params={"_since": middle}).json()
    # the version written at `middle` itself counts (at or after)
    assert since["total"] == 3
    later = client.get("/Patient/p1").json()["meta"]["lastUpdated"]
    since_later = client.get("/_history", params={"_since": later}).json()
    assert since_later["total"] == 2
    at = client.get("/Patient/p1/_history", params={"_at": middle}).json()
    assert at["total"] == 1
    assert at["entry"][0]["resource"]["meta"]["versionId"] == "1"
    assert client.get("/_history?_since=not-a-date").status_code == 400
    assert client.get("/_history?_count=-1").status_code == 400
