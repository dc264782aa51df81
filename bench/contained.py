"""What searching contained resources costs the ordinary search: a type's own search
(`Observation?code=…`, with and without Bundle.total) on a store of a few thousand
resources, timed in-process through the storage port (no HTTP), on SQLite and optionally
PostgreSQL.

    python bench/contained.py [--resources 5000] [--repeat 300] [--with-contained 0]
                              [--postgres URL]

`--with-contained N`: that many of the Observations are MedicationRequests with a
contained Medication and a contained Observation of the same code instead (what the
contained search indexes), to see the cost when the store holds contained resources.
Prints the writes per second of loading them (create, then update) and the median and mean
milliseconds per search. No thresholds.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the fhir_server package

from fhir_server.definitions import load_definitions
from fhir_server.storage.port import RequestContext, Storage, Transaction
from fhir_server.storage.sqlite import SqliteStorage

CODES = [f"code-{n}" for n in range(50)]
SYSTEM = "http://loinc.org"


def _observation(n: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"o{n}",
        "status": "final",
        "code": {"coding": [{"system": SYSTEM, "code": CODES[n % len(CODES)]}]},
        "subject": {"reference": f"Patient/p{n % 500}"},
        "effectiveDateTime": f"2024-01-{1 + n % 28:02d}",
        "valueQuantity": {"value": n % 100, "unit": "mg", "system": "http://unitsofmeasure.org"},
    }


def _container(n: int) -> dict[str, Any]:
    contained = _observation(n)
    contained["id"] = "obs"
    return {
        "resourceType": "MedicationRequest",
        "id": f"mr{n}",
        "status": "active",
        "intent": "order",
        "subject": {"reference": f"Patient/p{n % 500}"},
        "contained": [
            {"resourceType": "Medication", "id": "med", "code": {"text": "x"}},
            contained,
        ],
        "medicationReference": {"reference": "#med"},
        "supportingInformation": [{"reference": "#obs"}],
    }


async def _load(store: Storage, resources: int, with_contained: int) -> None:
    ctx = RequestContext()
    items = [_container(n) if n < with_contained else _observation(n) for n in range(resources)]
    for start in range(0, len(items), 500):
        batch = items[start : start + 500]

        async def job(tx: Transaction, batch: list[dict[str, Any]] = batch) -> None:
            for item in batch:
                await tx.write(item["resourceType"], item["id"], item, "PUT")

        await store.run(ctx, job)


async def _time(store: Storage, repeat: int, total: bool, **scope: Any) -> list[float]:
    ctx = RequestContext()
    out = []
    for n in range(repeat):
        criteria = [("code", f"{SYSTEM}|{CODES[n % len(CODES)]}")]
        started = time.perf_counter()
        found = await store.search(ctx, "Observation", criteria, count=20, total=total, **scope)
        out.append((time.perf_counter() - started) * 1000)
        assert found.versions
    return out


async def _run(store: Storage, args: argparse.Namespace, label: str) -> None:
    await store.start()
    try:
        for what in ("create", "update"):
            started = time.perf_counter()
            await _load(store, args.resources, args.with_contained)
            seconds = time.perf_counter() - started
            print(f"{label}: {what} {args.resources} resources: {args.resources / seconds:.0f}/s")
        await _time(store, 20, True)  # warm caches
        for total in (False, True):
            times = await _time(store, args.repeat, total)
            print(
                f"{label}: Observation?code=… ({args.resources} resources, total={total}):"
                f" median {statistics.median(times):.3f} ms, mean {statistics.mean(times):.3f} ms"
            )
        if args.with_contained:
            # the contained search itself (only with this branch's storage port)
            from fhir_server.search.contained import ContainedScope

            for returns in ("container", "contained"):
                scope = {"contained": ContainedScope("true", returns)}
                times = await _time(store, args.repeat, True, **scope)
                print(
                    f"{label}: Observation?code=…&_contained=true&_containedType={returns}"
                    f" (total=True): median {statistics.median(times):.3f} ms,"
                    f" mean {statistics.mean(times):.3f} ms"
                )
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resources", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--with-contained", type=int, default=0)
    parser.add_argument("--postgres", default=None, help="an empty database's URL")
    args = parser.parse_args()
    definitions = load_definitions()
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = SqliteStorage(Path(tmp) / "bench.sqlite3", definitions)
        asyncio.run(_run(sqlite, args, "sqlite"))
    if args.postgres:
        from fhir_server.storage.postgres import PostgresStorage

        asyncio.run(_run(PostgresStorage(args.postgres, definitions), args, "postgres"))


if __name__ == "__main__":
    main()
