"""PostgreSQL restarts (as after a crash) while clients write: requests in flight fail
with a 503 OperationOutcome, nothing is half-written, and the same server process serves
again once the database is back."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import pg_cluster
from tests.support.server_process import ServerProcess

TX_SIZE = 10


def _transaction(writer: int, n: int) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [{"system": "urn:t:restart-tx", "value": f"{writer}-{n}"}],
                    "name": [{"family": f"T{writer}-{n}-{k}"}],
                },
                "request": {"method": "POST", "url": "Patient"},
            }
            for k in range(TX_SIZE)
        ],
    }


@pytest.mark.e2e
def test_database_restart_under_write_load(tmp_path: Path) -> None:
    if pg_cluster.bin_dir() is None:
        pytest.skip("PostgreSQL is not installed")
    cluster = pg_cluster.Cluster(tmp_path / "pg").start()
    server = ServerProcess(tmp_path / "server", FHIR_SERVER_DATABASE_URL=cluster.url).start()
    stop = threading.Event()
    results: list[tuple[float, str, int, Any]] = []  # (when, what, status, detail)
    lock = threading.Lock()

    def writer(number: int) -> None:
        with httpx.Client(base_url=server.base, timeout=30) as http:
            for n in range(100_000):
                if stop.is_set():
                    return
                if n % 2:
                    response = http.post("/", json=_transaction(number, n))
                    what = f"tx {number}-{n}"
                else:
                    response = http.put(
                        f"/Patient/w{number}-{n}",
                        json={"resourceType": "Patient", "id": f"w{number}-{n}"},
                    )
                    what = f"put w{number}-{n}"
                detail: Any = None
                if response.status_code == 503:
                    detail = (response.headers.get("Retry-After"), response.json())
                with lock:
                    results.append((time.monotonic(), what, response.status_code, detail))

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(3)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        restarted_at = time.monotonic()
        cluster.restart("immediate")  # every connection cut, crash recovery on start
        back_at = time.monotonic()
        time.sleep(3.0)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)

        statuses = {status for _, _, status, _ in results}
        assert statuses <= {200, 201, 503}, statuses
        failed = [r for r in results if r[2] == 503]
        assert failed, "no request met the restart"
        for _, _, _, (retry_after, outcome) in failed:
            assert retry_after == "1"
            assert outcome["resourceType"] == "OperationOutcome"
            assert outcome["issue"][0]["code"] == "transient"
        # the same server process serves again once the database is back
        assert any(r[0] > back_at and r[2] in (200, 201) for r in results)
        assert any(r[0] < restarted_at and r[2] in (200, 201) for r in results)

        with httpx.Client(base_url=server.base, timeout=30) as http:
            for _, what, status, _ in results:
                kind, _, key = what.partition(" ")
                if kind == "put":
                    got = http.get(f"/Patient/{key}").status_code
                    if status in (200, 201):
                        assert got == 200, what  # acknowledged: stored
                else:
                    found = http.get(
                        "/Patient", params={"identifier": f"urn:t:restart-tx|{key}"}
                    ).json()["total"]
                    # a transaction is there whole or not at all; acknowledged: whole
                    assert found in (0, TX_SIZE), (what, found)
                    if status == 200:
                        assert found == TX_SIZE, what
    finally:
        stop.set()
        server.stop()
        cluster.remove()
