"""Two server processes on one PostgreSQL database: the guarantees of one process hold
across processes (If-Match, conditional create, transaction atomicity)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fhir_server.cli import serve_command
from tests.support.postgres import fresh_database
from tests.support.server_process import ServerProcess

N = 24


@pytest.fixture(scope="module")
def servers(
    postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[ServerProcess]]:
    url = fresh_database(postgres_url, "two_processes")
    base = tmp_path_factory.mktemp("two")
    # started at the same moment: both run the migrations' lock dance on an empty database
    pair = [ServerProcess(base / f"s{i}", FHIR_SERVER_DATABASE_URL=url) for i in range(2)]
    for server in pair:
        server.start_process()
    try:
        for server in pair:
            server.wait_ready()
        yield pair
    finally:
        for server in pair:
            server.stop()


def _patient(rid: str | None, family: str, system: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"system": system, "value": rid or family}],
        "name": [{"family": family}],
    }
    if rid:
        body["id"] = rid
    return body


async def _run(servers: list[ServerProcess], calls: Any) -> Any:
    async with (
        httpx.AsyncClient(base_url=servers[0].base, timeout=60) as one,
        httpx.AsyncClient(base_url=servers[1].base, timeout=60) as two,
    ):
        return await calls([one, two])


@pytest.mark.e2e
def test_if_match_one_winner_per_version_across_processes(servers: list[ServerProcess]) -> None:
    async def calls(http: list[httpx.AsyncClient]) -> None:
        first = await http[0].put("/Patient/race", json=_patient("race", "Start", "urn:t:race"))
        assert first.status_code == 201
        for version in range(1, 4):
            responses = await asyncio.gather(
                *(
                    http[i % 2].put(
                        "/Patient/race",
                        json=_patient("race", f"W{i}v{version}", "urn:t:race"),
                        headers={"If-Match": f'W/"{version}"'},
                    )
                    for i in range(N)
                )
            )
            codes = sorted(r.status_code for r in responses)
            assert codes.count(200) == 1 and codes.count(412) == N - 1, codes
        history = (await http[1].get("/Patient/race/_history")).json()
        assert history["total"] == 4
        assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == list("4321")

    asyncio.run(_run(servers, calls))


@pytest.mark.e2e
def test_conditional_create_exactly_one_across_processes(servers: list[ServerProcess]) -> None:
    async def calls(http: list[httpx.AsyncClient]) -> None:
        for round_ in range(3):
            value = f"same-{round_}"
            responses = await asyncio.gather(
                *(
                    http[i % 2].post(
                        "/Patient",
                        json=_patient(None, value, "urn:t:cc"),
                        headers={"If-None-Exist": f"identifier=urn:t:cc|{value}"},
                    )
                    for i in range(N)
                )
            )
            codes = sorted(r.status_code for r in responses)
            assert codes.count(201) == 1 and codes.count(200) == N - 1, codes
            assert len({r.json()["id"] for r in responses}) == 1
            found = await http[0].get("/Patient", params={"identifier": f"urn:t:cc|{value}"})
            assert found.json()["total"] == 1

    asyncio.run(_run(servers, calls))


@pytest.mark.e2e
def test_transactions_atomic_across_processes(servers: list[ServerProcess]) -> None:
    """Transactions racing on one version from both processes: exactly one lands, whole."""

    def bundle(i: int) -> dict[str, Any]:
        creates = [
            {
                "resource": _patient(None, f"tx{i}-{k}", "urn:t:atx"),
                "request": {"method": "POST", "url": "Patient"},
            }
            for k in range(5)
        ]
        shared = {
            "resource": _patient("shared", f"tx{i}", "urn:t:atx-shared"),
            "request": {"method": "PUT", "url": "Patient/shared", "ifMatch": 'W/"1"'},
        }
        return {"resourceType": "Bundle", "type": "transaction", "entry": [*creates, shared]}

    async def calls(http: list[httpx.AsyncClient]) -> None:
        await http[0].put("/Patient/shared", json=_patient("shared", "v1", "urn:t:atx-shared"))
        responses = await asyncio.gather(*(http[i % 2].post("/", json=bundle(i)) for i in range(N)))
        codes = sorted(r.status_code for r in responses)
        assert codes.count(200) == 1 and codes.count(412) == N - 1, codes
        stored = await http[1].get("/Patient", params={"identifier": "urn:t:atx|", "_count": 100})
        families = {e["resource"]["name"][0]["family"] for e in stored.json()["entry"]}
        assert len(families) == 5 and len({f.split("-")[0] for f in families}) == 1, families

    asyncio.run(_run(servers, calls))


@pytest.mark.e2e
def test_outbox_seen_whole_from_the_other_process(servers: list[ServerProcess]) -> None:
    """Every change made through either process is in the shared history once."""

    async def calls(http: list[httpx.AsyncClient]) -> None:
        before = (await http[0].get("/_history", params={"_count": 1})).json()["total"]
        responses = await asyncio.gather(
            *(
                http[i % 2].post("/Patient", json=_patient(None, f"o{i}", "urn:t:ob"))
                for i in range(40)
            )
        )
        assert all(r.status_code == 201 for r in responses)
        after = (await http[1].get("/_history", params={"_count": 1})).json()["total"]
        assert after - before == 40

    asyncio.run(_run(servers, calls))


@pytest.mark.e2e
def test_workers_option_serves_on_postgres_and_refuses_sqlite(
    postgres_url: str, tmp_path: Path
) -> None:
    url = fresh_database(postgres_url, "workers")
    server = ServerProcess(tmp_path / "w", workers=2, FHIR_SERVER_DATABASE_URL=url).start()
    try:
        created = httpx.post(f"{server.base}/Patient", json=_patient(None, "W", "urn:t:w"))
        assert created.status_code == 201
        ids = {
            httpx.get(f"{server.base}/Patient/{created.json()['id']}").status_code for _ in range(8)
        }
        assert ids == {200}
    finally:
        server.stop()
    refused = subprocess.run(
        [*serve_command(8, tmp_path / "sqlite", workers=2)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)},
    )
    assert refused.returncode != 0
    assert "--workers above 1 needs PostgreSQL" in refused.stderr
