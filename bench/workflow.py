"""What the LUS workflow costs a notice: latency and throughput of posting notices.

    python bench/workflow.py [--stays 300] [--concurrency 8]

Starts one real server process (embedded store, security off, LUS profiles checked on
write as by default) with a ward, a municipality and a primary-care unit, admits --stays
patients (Patient + Encounter in one transaction each), then, each phase over the stays:

  plain     POST /Communication of an ordinary (non-LUS) message about the stay: the
            baseline of a Communication write
  admission POST /Communication of the inskrivningsmeddelande: receivers found, 5 Tasks
            made, the stay's state written, every LUS resource validated against its profile
  ready     POST /Communication of the utskrivningsklar notice: 2 kvittera Tasks and a
            kalla-till-sip Task, the state and clock written

and prints requests/s and latency p50/p95/p99 for each, sequential (one connection) and with
--concurrency connections, plus the resources written per notice.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # the fhir_server package

import benchlib
import httpx

from fhir_server.cli import serve_command
from fhir_server.transitions import codes as c
from tests.support import lus

WARD, KOMMUN, VC = "Organization/ward", "Organization/kommun", "Organization/vc"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _phase(
    http: httpx.AsyncClient, bodies: list[dict[str, Any]], concurrency: int
) -> dict[str, float]:
    latencies: list[float] = []
    queue = list(bodies)

    async def worker() -> None:
        while queue:
            body = queue.pop()
            started = time.perf_counter()
            answer = await http.post("/Communication", json=body)
            latencies.append(time.perf_counter() - started)
            if answer.status_code != 201:
                raise RuntimeError(f"{answer.status_code}: {answer.text[:500]}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {
        "rps": len(bodies) / elapsed,
        "p50": _percentile(latencies, 0.50) * 1000,
        "p95": _percentile(latencies, 0.95) * 1000,
        "p99": _percentile(latencies, 0.99) * 1000,
        "mean": statistics.fmean(latencies) * 1000,
    }


def _plain(stay: str, patient: str) -> dict[str, Any]:
    return {
        "resourceType": "Communication",
        "status": "completed",
        "subject": {"reference": patient},
        "encounter": {"reference": stay},
        "sent": "2026-11-20T10:00:00+01:00",
        "recipient": [{"reference": KOMMUN}],
        "payload": [{"contentString": "Hej"}],
    }


async def run(stays: int, concurrency: int) -> None:
    port = benchlib.free_port()
    with tempfile.TemporaryDirectory(prefix="bench-workflow-") as tmp:
        data = Path(tmp)
        server = benchlib.Server(
            serve_command(port, data / "data"),
            port,
            data / "server.log",
            "/metadata",
            env={
                "FHIR_SERVER_PUBLISH_DEFINITIONS": "false",
                "FHIR_SERVER_LUS_CLOCK_INTERVAL": "3600",
            },
        )
        with server:
            async with httpx.AsyncClient(base_url=server.base, timeout=60) as http:
                await _measure(http, stays, concurrency)


async def _measure(http: httpx.AsyncClient, stays: int, concurrency: int) -> None:
    parties = lus.transaction(
        lus.organization("ward", "slutenvard", hsa_id="SE2321000081-S000000012345"),
        lus.organization("kommun", "kommun", kommunkod="0880"),
        lus.organization("vc", "primarvard", hsa_id="SE2321000081-P000000067890"),
    )
    (await http.post("/", json=parties)).raise_for_status()
    for n in range(stays):
        bundle = lus.transaction(
            lus.patient(f"p{n}", "191212121212", kommunkod="0880", listed_at=VC),
            lus.encounter(f"s{n}", f"Patient/p{n}", ward=WARD),
        )
        (await http.post("/", json=bundle)).raise_for_status()
    half = stays // 2
    rows = []
    for label, chunk, conc in (
        ("sequential", range(half), 1),
        (f"{concurrency} connections", range(half, stays), concurrency),
    ):
        refs = [(f"Encounter/s{n}", f"Patient/p{n}") for n in chunk]
        plain = [_plain(s, p) for s, p in refs]
        admission = [
            lus.notice(
                c.INSKRIVNINGSMEDDELANDE,
                s,
                "2026-11-20T10:00:00+01:00",
                patient=p,
                recipients=(KOMMUN,),
            )
            for s, p in refs
        ]
        ready = [
            lus.notice(c.UTSKRIVNINGSKLAR, s, "2026-11-22T10:00:00+01:00", patient=p)
            for s, p in refs
        ]
        for name, bodies in (("plain", plain), ("admission", admission), ("ready", ready)):
            rows.append((label, name, await _phase(http, bodies, conc)))
    tasks = (await http.get("/Task?_summary=count")).json()["total"]
    print(f"stays: {stays}; Tasks made: {tasks} ({tasks / stays:.1f} per stay)")
    print(f"{'':16} {'notice':10} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for label, name, r in rows:
        print(
            f"{label:16} {name:10} {r['rps']:8.1f} {r['p50']:8.1f} {r['p95']:8.1f} {r['p99']:8.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stays", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    benchlib.print_facts(benchlib.machine_facts("httpx"))
    asyncio.run(run(args.stays, args.concurrency))


if __name__ == "__main__":
    main()
