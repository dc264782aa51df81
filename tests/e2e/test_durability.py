"""Committed writes survive kill -9; a transaction is never half visible after restart."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server_process import ServerProcess


def _patient(i: int) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": f"k{i}", "name": [{"family": f"Öberg{i}"}]}


def _transaction(n: int) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {
                    "resourceType": "Patient",
                    "name": [{"family": f"T{n}"}],
                    "identifier": [{"system": "urn:test:tx", "value": str(n)}],
                },
                "request": {"method": "POST", "url": "Patient"},
            }
            for _ in range(20)
        ],
    }


@pytest.mark.e2e
def test_kill_9_loses_no_acknowledged_write(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data").start()
    acknowledged: list[str] = []
    transactions_done: list[int] = []
    stop = threading.Event()

    def writer(offset: int) -> None:
        with httpx.Client(base_url=server.base, timeout=10) as http:
            i = offset
            while not stop.is_set() and i < offset + 100_000:
                try:
                    response = http.put(f"/Patient/k{i}", json=_patient(i))
                except httpx.HTTPError:
                    return
                if response.status_code == 201:
                    acknowledged.append(f"k{i}")
                i += 1

    def transactor() -> None:
        with httpx.Client(base_url=server.base, timeout=10) as http:
            n = 0
            while not stop.is_set() and n < 10_000:
                try:
                    response = http.post("/", json=_transaction(n))
                except httpx.HTTPError:
                    return
                if response.status_code == 200:
                    transactions_done.append(n)
                n += 1

    threads = [threading.Thread(target=writer, args=(k * 1_000_000,)) for k in range(3)]
    threads.append(threading.Thread(target=transactor))
    for thread in threads:
        thread.start()
    try:
        # let the writers get going, then pull the plug mid-write
        deadline = threading.Event()
        for _ in range(200):
            if len(acknowledged) >= 300 and len(transactions_done) >= 5:
                break
            deadline.wait(0.05)
        server.kill()
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert len(acknowledged) >= 300

    restarted = ServerProcess(tmp_path / "data").start()
    try:
        with httpx.Client(base_url=restarted.base, timeout=30) as http:
            missing = [
                rid for rid in acknowledged if http.get(f"/Patient/{rid}").status_code != 200
            ]
            assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {missing[:5]}"
            # every transaction is all or nothing: 0 or 20 patients per identifier
            history = http.get("/Patient/_history", params={"_count": 1000})
            assert history.status_code == 200
            counts: dict[str, int] = {}
            url: str | None = "/Patient/_history?_count=1000"
            while url:
                page = http.get(url).json()
                for entry in page.get("entry", []):
                    for ident in entry.get("resource", {}).get("identifier", []):
                        counts[ident["value"]] = counts.get(ident["value"], 0) + 1
                url = next((x["url"] for x in page["link"] if x["relation"] == "next"), None)
            partial = {k: v for k, v in counts.items() if v != 20}
            assert not partial, f"partially visible transactions: {partial}"
            for n in transactions_done:
                assert counts.get(str(n)) == 20, f"acknowledged transaction {n} lost"
    finally:
        restarted.stop()
