"""Loading Synthea copies into a data directory through the storage port, resumably.

Each unit (one Synthea bundle in one copy, ~260 resources) is one storage job: its
resources' index entries are computed first (`Storage.index`, as the REST layer does
before it submits a job), then `SqliteStorage.run` writes them atomically. A few jobs are
kept in flight so the writer thread groups their commits while the next unit is prepared.
A unit is stored whole or not at all, so a load that stopped (Ctrl-C, a killed process)
continues where it was: units whose Patient exists are skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sqlite3
import time
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import synthea_copies
from synthea_copies import Bundle

from fhir_server.definitions import load_definitions
from fhir_server.storage.port import RequestContext, Transaction
from fhir_server.storage.sqlite import SqliteStorage

DB_NAME = "fhir.sqlite3"  # Settings.sqlite_path
STATE_NAME = "bench-search-load.json"
IN_FLIGHT = 4


def db_path(data_dir: Path) -> Path:
    return data_dir / DB_NAME


def read_state(data_dir: Path) -> dict[str, Any]:
    try:
        state: dict[str, Any] = json.loads((data_dir / STATE_NAME).read_text())
        return state
    except (OSError, ValueError):
        return {"load_seconds": 0.0, "loaded_by_runs": 0}


def write_state(data_dir: Path, state: dict[str, Any]) -> None:
    tmp = data_dir / (STATE_NAME + ".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    tmp.replace(data_dir / STATE_NAME)


def stored_units(path: Path, wanted: list[tuple[int, Bundle]]) -> set[tuple[int, int]]:
    """The units of `wanted` already in the store (their Patient exists)."""
    if not path.exists():
        return set()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        found = set()
        for copy, bundle in wanted:
            pid = synthea_copies.new_id(copy, bundle.number, bundle.patient_id)
            row = conn.execute(
                "SELECT 1 FROM resource WHERE type = 'Patient' AND id = ?", (pid,)
            ).fetchone()
            if row is not None:
                found.add((copy, bundle.number))
        return found
    except sqlite3.OperationalError:  # no schema yet
        return set()
    finally:
        conn.close()


def resource_count(path: Path) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (n,) = conn.execute("SELECT count(*) FROM resource WHERE deleted = 0").fetchone()
        return int(n)
    finally:
        conn.close()


def _job(
    items: list[tuple[str, str, dict[str, Any], Any]],
) -> Callable[[Transaction], Awaitable[int]]:
    async def job(tx: Transaction) -> int:
        for rtype, rid, resource, index in items:
            await tx.write(rtype, rid, resource, "POST", index)
        return len(items)

    return job


async def load(data_dir: Path, resources: int, progress_every: float = 10.0) -> dict[str, Any]:
    """Stores units until at least `resources` resources are in; returns figures of this run."""
    data_dir.mkdir(parents=True, exist_ok=True)
    bundles = synthea_copies.read_bundles()
    wanted = list(synthea_copies.units(bundles, resources))
    done = stored_units(db_path(data_dir), wanted)
    todo = [(c, b) for c, b in wanted if (c, b.number) not in done]
    planned = sum(b.size for _, b in wanted)
    print(
        f"load: {len(wanted)} units ({len(bundles)} Synthea bundles x "
        f"{wanted[-1][0] + 1 if wanted else 0} copies, {planned} resources); "
        f"{len(done)} already stored, {len(todo)} to load",
        flush=True,
    )
    state = read_state(data_dir)
    if not todo:
        return {"units_loaded": 0, "resources_loaded": 0, "seconds": 0.0, "state": state}

    storage = SqliteStorage(db_path(data_dir), load_definitions())
    await storage.start()
    ctx = RequestContext(principal="bench/search_load.py")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    pending: deque[asyncio.Future[int]] = deque()
    stored = 0
    units_stored = 0
    started = time.monotonic()
    last_print, last_stored = started, 0
    prepare_s = 0.0

    async def settle(keep: int) -> None:
        nonlocal stored, units_stored
        while len(pending) > keep:
            stored += await pending.popleft()
            units_stored += 1

    try:
        for copy, bundle in todo:
            if stop.is_set():
                print("load: stopping after the units in flight (resume by running again)")
                break
            t0 = time.monotonic()
            items = []
            for resource in synthea_copies.copy_of(copy, bundle):
                index = storage.index(resource)
                items.append((resource["resourceType"], resource["id"], resource, index))
            prepare_s += time.monotonic() - t0
            pending.append(asyncio.ensure_future(storage.run(ctx, _job(items))))
            await settle(IN_FLIGHT - 1)
            now = time.monotonic()
            if now - last_print >= progress_every:
                have = len(done) + units_stored
                rate = (stored - last_stored) / (now - last_print)
                left = sum(b.size for c, b in todo[units_stored + len(pending) :])
                print(
                    f"load: {have}/{len(wanted)} units, +{stored} resources this run, "
                    f"{rate:.0f}/s now, {stored / (now - started):.0f}/s overall, "
                    f"~{left / max(rate, 1) / 60:.1f} min left",
                    flush=True,
                )
                last_print, last_stored = now, stored
        await settle(0)
    finally:
        for future in pending:
            with contextlib.suppress(Exception):
                stored += await future
                units_stored += 1
        seconds = time.monotonic() - started
        await storage.close()
        state["load_seconds"] = round(state.get("load_seconds", 0.0) + seconds, 1)
        state["loaded_by_runs"] = state.get("loaded_by_runs", 0) + stored
        write_state(data_dir, state)
    rate = stored / seconds if seconds else 0.0
    print(
        f"load: stored {stored} resources in {units_stored} units in {seconds:.0f} s: "
        f"{rate:.0f} resources/s (preparing copies and index entries: "
        f"{1e6 * prepare_s / max(stored, 1):.0f} us/resource on the loading thread)",
        flush=True,
    )
    return {
        "units_loaded": units_stored,
        "resources_loaded": stored,
        "seconds": round(seconds, 1),
        "resources_per_s": round(rate, 1),
        "prepare_us_per_resource": round(1e6 * prepare_s / max(stored, 1), 1),
        "interrupted": stop.is_set(),
        "state": state,
    }
