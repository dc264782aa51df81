"""SQLite (one process) and PostgreSQL (`serve --workers 2`) side by side in one run:
create and read throughput with the CRUD benchmark's machinery (benchlib.crud_sequence:
wrk or the Python generator, the same checks), and the `fhir-server import` rate of the
Synthea transaction Bundles.

    python bench/postgres.py [--duration 10] [--concurrency 32] [--workers 2]
                             [--bundles PATH] [--generator auto|wrk|python]

PostgreSQL runs in a throw-away cluster on 127.0.0.1 in a temp dir (tests/support/
pg_cluster.py), durable as in production (fsync and synchronous_commit on); SQLite runs
as `serve` does by default (WAL, synchronous=NORMAL). Figures go to
bench/results/postgres-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(ROOT))

import benchlib  # noqa: E402

from fhir_server.cli import serve_command  # noqa: E402
from tests.support import pg_cluster  # noqa: E402
from tests.support.postgres import fresh_database  # noqa: E402

SYNTHEA = ROOT.parent / "shared" / "fhir-data" / "synthea" / "synthea-r4-40-patients.tgz"
_RATE = re.compile(r"imported ([\d,]+) resources .* in ([\d.]+) s \(([\d,]+) resources/s\)")


def crud(
    args: argparse.Namespace, store: str, generator: str, work: Path, env: dict[str, str]
) -> dict[str, Any]:
    port = benchlib.free_port()
    workers = args.workers if store == "postgres" else 1
    argv = serve_command(port, work / "data", workers=workers)
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        server = benchlib.Server(argv, port, work / "server.log", "/metadata")
        server.start(timeout=120)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    print(f"\n== {store}: {' '.join(argv[3:])}")
    try:
        print(benchlib.HEADER)
        seq = benchlib.crud_sequence(
            server, generator, args.duration, args.concurrency, work, warmup=args.warmup
        )
    finally:
        server.stop()
    for problem in seq["problems"]:
        print(f"   PROBLEM: {problem}")
    return seq


def import_rate(store_options: list[str], bundles: Path, workers: int) -> dict[str, Any]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "fhir_server", "import", str(bundles), *store_options,
         "--workers", str(workers)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    wall = time.monotonic() - started
    found = _RATE.search(done.stdout)
    if done.returncode != 0 or found is None:
        return {"error": (done.stdout + done.stderr)[-2000:], "wall_s": wall}
    resources = int(found.group(1).replace(",", ""))
    return {
        "resources": resources,
        "load_s": float(found.group(2)),
        "rate": int(found.group(3).replace(",", "")),
        "wall_s": round(wall, 2),  # with start-up: definitions, workers, migrations
        "rate_wall": round(resources / wall),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--workers", type=int, default=2, help="PostgreSQL server processes")
    ap.add_argument("--import-workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--bundles", type=Path, default=SYNTHEA)
    ap.add_argument("--generator", default="auto")
    args = ap.parse_args()
    generator = benchlib.choose_generator(args.generator)
    facts = benchlib.machine_facts(generator)
    benchlib.print_facts(facts)
    results: dict[str, Any] = {"facts": facts, "args": vars(args) | {"bundles": str(args.bundles)}}
    with tempfile.TemporaryDirectory(prefix="fhir-bench-pg-") as temp:
        base = Path(temp)
        cluster = pg_cluster.Cluster(base / "pg", durable=True).start()
        try:
            for store in ("sqlite", "postgres"):
                work = base / store
                work.mkdir()
                env = {}
                if store == "postgres":
                    env["FHIR_SERVER_DATABASE_URL"] = fresh_database(cluster.url, "bench_crud")
                results[f"{store}_crud"] = crud(args, store, generator, work, env)
            print("\n== import of", args.bundles)
            for store in ("sqlite", "postgres"):
                if store == "sqlite":
                    options = ["--data-dir", str(base / "import-sqlite")]
                else:
                    options = ["--database-url", fresh_database(cluster.url, "bench_import")]
                figures = import_rate(options, args.bundles, args.import_workers)
                results[f"{store}_import"] = figures
                print(f"   {store:<9} {figures}")
        finally:
            cluster.remove()
    print("\n== summary (req/s; import resources/s while loading, and with start-up)")
    print(f"   {'':<9} {'create':>8} {'read':>8} {'import':>8} {'import+start':>13}")
    for store in ("sqlite", "postgres"):
        phases = {p["phase"]: p for p in results[f"{store}_crud"]["phases"]}
        imp = results[f"{store}_import"]
        print(
            f"   {store:<9} {phases['create']['throughput_rps']:>8.0f}"
            f" {phases['read']['throughput_rps']:>8.0f}"
            f" {imp.get('rate', 0):>8} {imp.get('rate_wall', 0):>13}"
        )
    path = benchlib.write_results("postgres", results)
    print(f"\nresults: {path}")
    problems = [p for s in ("sqlite", "postgres") for p in results[f"{s}_crud"]["problems"]]
    return (
        1
        if problems or any("error" in results[f"{s}_import"] for s in ("sqlite", "postgres"))
        else 0
    )


if __name__ == "__main__":
    sys.exit(main())
