"""SQLite (one process) and PostgreSQL (`serve --workers 2`) side by side in one run:
create and read throughput with the CRUD benchmark's machinery (benchlib.crud_sequence:
wrk or the Python generator, the same checks), the `fhir-server import` rate of the
Synthea transaction Bundles, and the search benchmark's mix (bench/search.py: token,
reference+date, string, chained, _include, _has, _sort with paging) on the same data in
both stores: --search-resources Synthea copies with fresh ids (bench/synthea_copies.py),
imported with `fhir-server import`, each kind alone at one connection (latency), then all
mixed at --concurrency (throughput).

    python bench/postgres.py [--duration 10] [--concurrency 32] [--workers 2]
                             [--bundles PATH] [--generator auto|wrk|python]
                             [--search-resources 100000] [--search-duration 5]
                             [--phases crud,import,search]

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
from collections.abc import Callable
from pathlib import Path
from resource import RUSAGE_CHILDREN, getrusage
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(ROOT))

import benchlib  # noqa: E402
import orjson  # noqa: E402
import search as search_bench  # noqa: E402
import synthea_copies  # noqa: E402

from fhir_server.cli import serve_command  # noqa: E402
from tests.support import pg_cluster  # noqa: E402
from tests.support.postgres import fresh_database  # noqa: E402

SYNTHEA = ROOT.parent / "shared" / "fhir-data" / "synthea" / "synthea-r4-40-patients.tgz"
_RATE = re.compile(r"imported ([\d,]+) resources .* in ([\d.]+) s \(([\d,]+) resources/s\)")


# CPU seconds so far of the PostgreSQL cluster's processes (set once it runs)
database_cpu: Callable[[], float] | None = None


def cluster_cpu(cluster: pg_cluster.Cluster) -> Callable[[], float]:
    """The postmaster, its backends and helpers, and the ended ones it waited for."""
    postmaster = int((cluster.data / "postmaster.pid").read_text().split("\n", 1)[0])
    return lambda: benchlib.tree_cpu_seconds(postmaster)


def cpu_line(result: dict[str, Any], what: str = "request") -> str:
    """Where a phase's CPU went, per request: the server's processes and the database's."""
    line = f"   CPU per {what}: server {result['server_cpu_ms_per_request']:.3f} ms"
    if "database_cpu_ms_per_request" in result:
        line += f", database {result['database_cpu_ms_per_request']:.3f} ms"
    return line


def start_server(
    args: argparse.Namespace, store: str, work: Path, env: dict[str, str], log: str
) -> tuple[benchlib.Server, list[str]]:
    """A server on `store` (PostgreSQL with --workers processes) with `env` set for it."""
    port = benchlib.free_port()
    workers = args.workers if store == "postgres" else 1
    argv = serve_command(port, work / "data", workers=workers)
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        server = benchlib.Server(argv, port, work / log, "/metadata")
        if store == "postgres":
            server.database_cpu = database_cpu
        server.start(timeout=300)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return server, argv


def crud(
    args: argparse.Namespace, store: str, generator: str, work: Path, env: dict[str, str]
) -> dict[str, Any]:
    server, argv = start_server(args, store, work, env, "server.log")
    print(f"\n== {store}: {' '.join(argv[3:])}")
    try:
        print(benchlib.HEADER)
        seq = benchlib.crud_sequence(
            server, generator, args.duration, args.concurrency, work, warmup=args.warmup
        )
    finally:
        server.stop()
    for phase in seq["phases"]:
        print(f"{cpu_line(phase)} ({phase['phase']})")
    for problem in seq["problems"]:
        print(f"   PROBLEM: {problem}")
    return seq


def import_rate(store_options: list[str], bundles: Path, workers: int) -> dict[str, Any]:
    """The import's rate, and its CPU (all its processes, start-up included; the
    database's apart) per resource."""
    started = time.monotonic()
    children0 = getrusage(RUSAGE_CHILDREN)
    db0 = database_cpu() if database_cpu is not None and "--database-url" in store_options else None
    done = subprocess.run(
        [sys.executable, "-m", "fhir_server", "import", str(bundles), *store_options,
         "--workers", str(workers)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    wall = time.monotonic() - started
    found = _RATE.search(done.stdout)
    if done.returncode != 0 or found is None:
        return {"error": (done.stdout + done.stderr)[-2000:], "wall_s": wall}
    children = getrusage(RUSAGE_CHILDREN)
    cpu = (children.ru_utime - children0.ru_utime) + (children.ru_stime - children0.ru_stime)
    resources = int(found.group(1).replace(",", ""))
    figures = {
        "resources": resources,
        "load_s": float(found.group(2)),
        "rate": int(found.group(3).replace(",", "")),
        "wall_s": round(wall, 2),  # with start-up: definitions, workers, migrations
        "rate_wall": round(resources / wall),
        "import_cpu_ms_per_resource": round(1000 * cpu / max(1, resources), 3),
    }
    if db0 is not None and database_cpu is not None:
        db = database_cpu() - db0
        figures["database_cpu_ms_per_resource"] = round(1000 * db / max(1, resources), 3)
    return figures


def write_copies(path: Path, resources: int) -> int:
    """NDJSON of Synthea copies (ids and references already final): what both stores load."""
    count = 0
    with open(path, "wb") as out:
        bundles = synthea_copies.read_bundles()
        for copy, bundle in synthea_copies.units(bundles, resources):
            for resource in synthea_copies.copy_of(copy, bundle):
                out.write(orjson.dumps(resource) + b"\n")
                count += 1
    return count


def search_mix(
    args: argparse.Namespace, store: str, urls: dict[str, list[str]], work: Path,
    env: dict[str, str],
) -> dict[str, Any]:  # fmt: skip
    """The search benchmark's kinds against one store's server: latency, then the mix."""
    server, argv = start_server(args, store, work, env, "search-server.log")
    out: dict[str, Any] = {"latency": {}, "problems": []}
    print(f"\n== search, {store}: {' '.join(argv[3:])}")
    try:
        urls = {kind: list(paths) for kind, paths in urls.items()}
        facts = search_bench.fetch_all(server.base, urls, args.search_pages)
        out["problems"] += facts["failures"]
        print(search_bench.ROW)
        for kind in search_bench.KINDS:
            if not urls.get(kind):
                continue
            file = search_bench.write_urls(work / f"urls-{kind}.txt", urls[kind])
            r = benchlib.measured_phase(
                server, "wrk", "search", args.search_duration, 1, ids_in=file
            )
            out["latency"][kind] = r
            print(search_bench.format_row(kind, r, facts.get(kind)), flush=True)
            print(cpu_line(r, "search"))
        file = search_bench.write_urls(work / "urls-mix.txt", search_bench.interleave(urls))
        mix = benchlib.measured_phase(
            server, "wrk", "search", args.search_duration, args.concurrency, ids_in=file
        )
        out["mix"] = mix
        print(search_bench.format_row("mix", mix, None), flush=True)
        print(cpu_line(mix, "search"))
        for kind, r in [*out["latency"].items(), ("mix", mix)]:
            if r["errors"]:
                out["problems"].append(f"{store} {kind}: {r['errors']} errors: {r['first_error']}")
    finally:
        server.stop()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--workers", type=int, default=2, help="PostgreSQL server processes")
    ap.add_argument("--import-workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--bundles", type=Path, default=SYNTHEA)
    ap.add_argument("--generator", default="auto")
    ap.add_argument("--search-resources", type=int, default=100_000, help="0: no search phase")
    ap.add_argument("--search-duration", type=float, default=5.0, help="seconds per kind")
    ap.add_argument("--search-pages", type=int, default=3, help="pages of _sort to follow")
    ap.add_argument("--urls-per-kind", type=int, default=40)
    ap.add_argument(
        "--phases",
        default="crud,import,search",
        help="which to run (comma-separated): crud, import, search",
    )
    args = ap.parse_args()
    phases = set(args.phases.split(","))
    generator = benchlib.choose_generator(args.generator)
    facts = benchlib.machine_facts(generator)
    benchlib.print_facts(facts)
    results: dict[str, Any] = {"facts": facts, "args": vars(args) | {"bundles": str(args.bundles)}}
    with tempfile.TemporaryDirectory(prefix="fhir-bench-pg-") as temp:
        base = Path(temp)
        cluster = pg_cluster.Cluster(base / "pg", durable=True).start()
        global database_cpu
        database_cpu = cluster_cpu(cluster)
        try:
            for store in ("sqlite", "postgres") if "crud" in phases else ():
                work = base / store
                work.mkdir()
                env = {}
                if store == "postgres":
                    env["FHIR_SERVER_DATABASE_URL"] = fresh_database(cluster.url, "bench_crud")
                results[f"{store}_crud"] = crud(args, store, generator, work, env)
            if "import" in phases:
                print("\n== import of", args.bundles)
            for store in ("sqlite", "postgres") if "import" in phases else ():
                if store == "sqlite":
                    options = ["--data-dir", str(base / "import-sqlite")]
                else:
                    options = ["--database-url", fresh_database(cluster.url, "bench_import")]
                figures = import_rate(options, args.bundles, args.import_workers)
                results[f"{store}_import"] = figures
                print(f"   {store:<9} {figures}")
            if args.search_resources > 0 and "search" in phases:
                copies = base / "copies.ndjson"
                count = write_copies(copies, args.search_resources)
                urls = search_bench.plan_urls(args.search_resources, args.urls_per_kind)
                print(f"\n== search data: {count} resources (Synthea copies), both stores")
                for store in ("sqlite", "postgres"):
                    work = base / f"search-{store}"
                    work.mkdir()
                    env = {}
                    if store == "sqlite":
                        options = ["--data-dir", str(work / "data")]
                    else:
                        env["FHIR_SERVER_DATABASE_URL"] = fresh_database(cluster.url, "bench_s")
                        options = ["--database-url", env["FHIR_SERVER_DATABASE_URL"]]
                    loaded = import_rate(options, copies, args.import_workers)
                    print(f"   {store:<9} loaded: {loaded}")
                    if "error" in loaded:
                        results[f"{store}_search"] = {"problems": [loaded["error"]]}
                        continue
                    results[f"{store}_search"] = search_mix(args, store, urls, work, env)
                    results[f"{store}_search"]["loaded"] = loaded
        finally:
            cluster.remove()
    print("\n== summary (req/s; import resources/s while loading, and with start-up)")
    print(f"   {'':<9} {'create':>8} {'read':>8} {'import':>8} {'import+start':>13}")
    for store in ("sqlite", "postgres"):
        crud_phases = {p["phase"]: p for p in results.get(f"{store}_crud", {}).get("phases", [])}
        imp = results.get(f"{store}_import", {})
        rates = [crud_phases.get(name, {}).get("throughput_rps", 0) for name in ("create", "read")]
        print(
            f"   {store:<9} {rates[0]:>8.0f} {rates[1]:>8.0f}"
            f" {imp.get('rate', 0):>8} {imp.get('rate_wall', 0):>13}"
        )
    if args.search_resources > 0 and "search" in phases:
        print(f"\n== search at {args.search_resources} resources: p50 / p95 ms at one connection")
        print(f"   {'kind':<16} {'sqlite':>16} {'postgres':>16}")
        for kind in [*search_bench.KINDS, "mix"]:
            cells = []
            for store in ("sqlite", "postgres"):
                found = results.get(f"{store}_search", {})
                r = found.get("mix") if kind == "mix" else found.get("latency", {}).get(kind)
                if r is None:
                    cells.append(f"{'-':>16}")
                elif kind == "mix":
                    cells.append(f"{r['throughput_rps']:>11.0f} r/s")
                else:
                    cells.append(f"{r['p50_ms']:>7.1f} /{(r.get('p95_ms') or 0):>7.1f}")
            print(f"   {kind:<16} {cells[0]} {cells[1]}")
    path = benchlib.write_results("postgres", results)
    print(f"\nresults: {path}")
    problems = [
        p for s in ("sqlite", "postgres") for p in results.get(f"{s}_crud", {}).get("problems", [])
    ]
    problems += [
        p
        for s in ("sqlite", "postgres")
        for p in results.get(f"{s}_search", {}).get("problems", [])
    ]
    return (
        1
        if problems
        or any("error" in results.get(f"{s}_import", {}) for s in ("sqlite", "postgres"))
        else 0
    )


if __name__ == "__main__":
    sys.exit(main())
