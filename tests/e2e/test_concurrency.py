"""Concurrent clients: one If-Match winner per version, one resource per conditional create."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.support.server_process import ServerProcess

N = 24


def _patient(rid: str | None, family: str, system: str = "urn:test:conc") -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"system": system, "value": rid or family}],
        "name": [{"family": family}],
    }
    if rid:
        body["id"] = rid
    return body


async def _gather(calls: list[Any]) -> list[httpx.Response]:
    return list(await asyncio.gather(*calls))


@pytest.mark.e2e
def test_if_match_exactly_one_winner_per_version(server: ServerProcess) -> None:
    async def run() -> None:
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
            first = await http.put("/Patient/race", json=_patient("race", "Start"))
            assert first.status_code == 201
            for version in range(1, 4):
                responses = await _gather(
                    [
                        http.put(
                            "/Patient/race",
                            json=_patient("race", f"Writer{i}v{version}"),
                            headers={"If-Match": f'W/"{version}"'},
                        )
                        for i in range(N)
                    ]
                )
                codes = sorted(r.status_code for r in responses)
                assert codes.count(200) == 1, codes
                assert codes.count(412) == N - 1, codes
            history = (await http.get("/Patient/race/_history")).json()
            assert history["total"] == 4

    asyncio.run(run())


@pytest.mark.e2e
def test_conditional_create_creates_exactly_one(server: ServerProcess) -> None:
    async def run() -> None:
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
            for round_ in range(3):
                value = f"same-person-{round_}"
                criteria = f"identifier=urn:test:cc|{value}"
                responses = await _gather(
                    [
                        http.post(
                            "/Patient",
                            json=_patient(None, value, "urn:test:cc"),
                            headers={"If-None-Exist": criteria},
                        )
                        for _ in range(N)
                    ]
                )
                codes = sorted(r.status_code for r in responses)
                assert codes.count(201) == 1, codes
                assert codes.count(200) == N - 1, codes
                ids = {r.json()["id"] for r in responses}
                assert len(ids) == 1

    asyncio.run(run())


@pytest.mark.e2e
def test_concurrent_transactions_are_atomic(server: ServerProcess) -> None:
    """Transactions that conflict on a version: each lands whole or not at all."""

    def bundle(i: int) -> dict[str, Any]:
        return {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {
                    "resource": _patient(None, f"tx{i}-{k}", "urn:test:atx"),
                    "request": {"method": "POST", "url": "Patient"},
                }
                for k in range(5)
            ]
            + [
                {
                    "resource": _patient("shared", f"tx{i}", "urn:test:atx-shared"),
                    "request": {"method": "PUT", "url": "Patient/shared", "ifMatch": 'W/"1"'},
                }
            ],
        }

    async def run() -> None:
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
            await http.put("/Patient/shared", json=_patient("shared", "v1", "urn:test:atx-shared"))
            responses = await _gather([http.post("/", json=bundle(i)) for i in range(N)])
            codes = sorted(r.status_code for r in responses)
            assert codes.count(200) == 1 and codes.count(412) == N - 1, codes
            winner = next(r for r in responses if r.status_code == 200).json()
            created = [e["response"]["location"] for e in winner["entry"][:5]]
            for location in created:
                assert (await http.get("/" + location)).status_code == 200
            history = (await http.get("/Patient/_history", params={"_count": 1000})).json()
            families = {
                e["resource"]["name"][0]["family"]
                for e in history.get("entry", [])
                if "resource" in e
                and e["resource"].get("identifier", [{}])[0].get("system") == "urn:test:atx"
            }
            winners = {f.split("-")[0] for f in families}
            assert len(winners) == 1 and len(families) == 5, families

    asyncio.run(run())
