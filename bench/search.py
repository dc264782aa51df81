"""Search latency and throughput at ~1 000 000 resources, index size, create throughput.

    python bench/search.py --data-dir DIR [--resources 1000000] [--duration 10]
                           [--concurrency 8] [--phases load,size,search,create] [--explain]

1. load    Synthea bundles repeated with fresh ids (bench/synthea_copies.py) into DIR
           through the storage port (bench/search_load.py), until ~--resources are
           stored. Resumable: a stopped load continues; a loaded DIR is reused as it is.
2. size    database and WAL files, and per table its B-tree bytes and those of its
           indexes (SQLite's dbstat), rows per table.
3. search  starts `python -m fhir_server serve --data-dir DIR`, prepares request URLs
           from the loaded data (patients, codes and names that exist), fetches each once
           (rows returned, totals, next links for paging), then drives the server with wrk
           (bench/wrk/search.lua): each query kind alone at concurrency 1 (latency), then
           all kinds mixed at --concurrency (throughput).
4. create  POST /Patient against the same server at that scale (bench/crud.py's create
           phase, wrk/create.lua): throughput with full indexing. The Patients stay in DIR.

--explain  prints, for the first URL of each kind, the SQL the store runs, SQLite's
           EXPLAIN QUERY PLAN, and the time of the page query and of the count(*) total
           (in this process, on DIR, no server).

Figures go to bench/results/search-<timestamp>.json. No thresholds: exit status 1 only
when a request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # the fhir_server package

import benchlib
import orjson
import search_load
import synthea_copies

from fhir_server.cli import serve_command

PHASES = ("load", "size", "search", "create")
# the order kinds are measured and printed in
KINDS = (
    "token",
    "reference+date",
    "string",
    "chained",
    "include",
    "has",
    "sort",
    "sort-next",
)
TARGETS = {"token": 50.0, "reference+date": 50.0}  # p95 ms at 1 M resources (issue 3)
CREATE_TARGET = 1200.0  # creates/s with full indexing


# ---------------------------------------------------------------- sizes


def db_sizes(path: Path) -> dict[str, Any]:
    """Bytes of every table with its indexes (dbstat), rows per table, file sizes."""
    files = {
        p.name: p.stat().st_size for p in sorted(path.parent.glob(path.name + "*")) if p.is_file()
    }
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        owner = {
            name: table
            for name, table in conn.execute(
                "SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')"
            )
        }
        (page_size,) = conn.execute("PRAGMA page_size").fetchone()
        (page_count,) = conn.execute("PRAGMA page_count").fetchone()
        try:
            stats = conn.execute(
                "SELECT name, pgsize FROM dbstat WHERE aggregate = TRUE"
            ).fetchall()
            method = "dbstat"
        except sqlite3.OperationalError:  # SQLite built without dbstat: pages are unknown
            stats = []
            method = "unavailable"
        tables: dict[str, dict[str, Any]] = {}
        for name, size in stats:
            table = owner.get(name, name)
            entry = tables.setdefault(table, {"table_bytes": 0, "index_bytes": 0, "indexes": {}})
            if name == table:
                entry["table_bytes"] += size
            else:
                entry["index_bytes"] += size
                entry["indexes"][name] = size
        for table, entry in tables.items():
            if table.startswith("sqlite_"):
                continue
            (entry["rows"],) = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()
    finally:
        conn.close()
    return {
        "files": files,
        "page_size": page_size,
        "pages": page_count,
        "method": method,
        "tables": tables,
    }


def print_sizes(sizes: dict[str, Any]) -> None:
    files = ", ".join(f"{k} {v / 1e6:,.0f} MB" for k, v in sizes["files"].items())
    print(f"database files: {files}")
    tables = sizes["tables"]
    if not tables:
        print(f"   per-table sizes: dbstat {sizes['method']}; pages {sizes['pages']}")
        return
    print(f"{'table':<16}{'rows':>12}{'table MB':>10}{'indexes MB':>12}  indexes")
    index_total = 0
    search_total = 0
    for table, e in sorted(tables.items(), key=lambda kv: -(kv[1]["table_bytes"])):
        names = ", ".join(f"{n} {b / 1e6:.0f}" for n, b in e["indexes"].items())
        print(
            f"{table:<16}{e.get('rows', 0):>12,}{e['table_bytes'] / 1e6:>10.0f}"
            f"{e['index_bytes'] / 1e6:>12.0f}  {names}"
        )
        index_total += e["index_bytes"]
        if table.startswith("idx_"):
            search_total += e["table_bytes"] + e["index_bytes"]
    all_bytes = sum(e["table_bytes"] + e["index_bytes"] for e in tables.values())
    print(
        f"total {all_bytes / 1e6:,.0f} MB; search index tables (idx_*) with their indexes "
        f"{search_total / 1e6:,.0f} MB; secondary indexes of all tables {index_total / 1e6:,.0f} MB"
    )


# ---------------------------------------------------------------- the URLs


def _q(value: str) -> str:
    return quote(value, safe="")


def observation_codes(bundles: list[synthea_copies.Bundle]) -> list[tuple[str, int]]:
    """system|code of Observation codes, most frequent first, with their count per copy."""
    counts: collections.Counter[str] = collections.Counter()
    for bundle in bundles:
        for entry in orjson.loads(bundle.text)["entry"]:
            resource = entry["resource"]
            if resource["resourceType"] == "Observation":
                for coding in resource.get("code", {}).get("coding", []):
                    counts[f"{coding['system']}|{coding['code']}"] += 1
    return counts.most_common()


def spread(items: list[Any], n: int) -> list[Any]:
    """n items evenly over the list (most to least frequent)."""
    if len(items) <= n:
        return list(items)
    return [items[round(i * (len(items) - 1) / (n - 1))] for i in range(n)]


def plan_urls(resources: int, per_kind: int, seed: int = 7) -> dict[str, list[str]]:
    """Request paths per kind, from what the load stored (ids, codes, names that exist)."""
    bundles = synthea_copies.read_bundles()
    units = list(synthea_copies.units(bundles, resources))
    rng = random.Random(seed)
    picked = rng.sample(units, min(per_kind, len(units)))
    families = {}
    for bundle in bundles:
        for entry in orjson.loads(bundle.text)["entry"]:
            if entry["resource"]["resourceType"] == "Patient":
                families[bundle.number] = entry["resource"]["name"][0]["family"]
    patients = [
        (
            synthea_copies.new_id(copy, bundle.number, bundle.patient_id),
            synthea_copies.family_name(copy, bundle.number, families[bundle.number]),
        )
        for copy, bundle in picked
    ]
    codes = [code for code, _ in spread(observation_codes(bundles), 12)]
    urls: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for n, (pid, family) in enumerate(patients):
        code = codes[n % len(codes)]
        urls["token"].append(f"/Observation?code={_q(code)}")
        urls["reference+date"].append(f"/Observation?patient={pid}&date=ge2019-01-01")
        urls["string"].append(f"/Patient?family={_q(family)}")
        urls["chained"].append(f"/Observation?patient.name={_q(family)}")
        urls["include"].append(f"/Encounter?patient={pid}&_include=Encounter:patient")
        urls["has"].append(f"/Patient?_has:Observation:patient:code={_q(code)}")
        urls["sort"].append(f"/Observation?patient={pid}&_sort=-date&_count=20")
    return urls


def fetch_all(base: str, urls: dict[str, list[str]], pages: int) -> dict[str, Any]:
    """GET every URL once: rows per page, Bundle.total, time; follows `next` of the sort
    kind up to `pages` pages (those become the sort-next kind). Warms the server too."""
    facts: dict[str, Any] = {}
    failures: list[str] = []
    nexts: list[str] = []
    for kind in KINDS:
        matches, includes, totals, millis = [], [], [], []
        for path in urls[kind]:
            url = base + path
            for page in range(pages if kind == "sort" else 1):
                t0 = time.perf_counter()
                status, body = benchlib.get_json(url)
                millis.append(1000 * (time.perf_counter() - t0))
                if status != 200 or not isinstance(body, dict):
                    failures.append(f"{kind}: GET {url}: HTTP {status}: {str(body)[:500]}")
                    break
                entries = body.get("entry", [])
                modes = collections.Counter(e.get("search", {}).get("mode") for e in entries)
                matches.append(modes["match"])
                includes.append(modes["include"])
                if isinstance(body.get("total"), int):
                    totals.append(body["total"])
                following = next(
                    (lk["url"] for lk in body.get("link", []) if lk["relation"] == "next"), None
                )
                if following is None:
                    break
                parts = urlsplit(following)
                url = base + parts.path + "?" + parts.query
                if kind == "sort" and page + 1 < pages:
                    nexts.append(parts.path + "?" + parts.query)
            if kind == "sort":
                urls["sort-next"] = nexts
        facts[kind] = {
            "urls": len(urls[kind]),
            "rows_mean": round(sum(matches) / len(matches), 1) if matches else 0,
            "rows_max": max(matches, default=0),
            "included_mean": round(sum(includes) / len(includes), 1) if includes else 0,
            "total_mean": round(sum(totals) / len(totals), 1) if totals else None,
            "total_max": max(totals, default=None),
            "first_fetch_ms_mean": round(sum(millis) / len(millis), 1) if millis else None,
        }
    facts["failures"] = failures
    return facts


# ---------------------------------------------------------------- runs


ROW = (
    f"{'kind':<16}{'conc':>5}{'requests':>9}{'errors':>7}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}"
    f"{'p99 ms':>9}{'max ms':>9}{'rows':>7}{'total':>9}{'srv CPU':>8}{'other':>7}"
)


def format_row(kind: str, r: dict[str, Any], facts: dict[str, Any] | None) -> str:
    rows = f"{facts['rows_mean']:.0f}" if facts else "-"
    total = facts.get("total_mean") if facts else None
    target = TARGETS.get(kind)
    mark = ""
    if target is not None and r["concurrency"] == 1 and r.get("p95_ms") is not None:
        mark = f"  (target p95 < {target:.0f}: {'ok' if r['p95_ms'] < target else 'MISS'})"
    return (
        f"{kind:<16}{r['concurrency']:>5}{r['requests']:>9}{r['errors']:>7}"
        f"{r['throughput_rps']:>8.1f}{r['p50_ms']:>9.1f}{(r.get('p95_ms') or 0):>9.1f}"
        f"{r['p99_ms']:>9.1f}{r['max_ms']:>9.1f}{rows:>7}"
        f"{(f'{total:.0f}' if total is not None else '-'):>9}"
        f"{r.get('server_cpu_pct', 0):>7.0f}%{r.get('other_cpu_pct', 0):>6.0f}%" + mark
    )


def write_urls(path: Path, paths: list[str]) -> Path:
    path.write_text("".join(p + "\n" for p in paths))
    return path


def interleave(urls: dict[str, list[str]]) -> list[str]:
    out = []
    longest = max(len(v) for v in urls.values())
    for i in range(longest):
        for kind in urls:
            if i < len(urls[kind]):
                out.append(urls[kind][i])
    return out


def run_search(args: argparse.Namespace, work: Path, payload: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    port = args.port or benchlib.free_port()
    argv = serve_command(port, args.data_dir)
    server = benchlib.Server(argv, port, work / "server.log", "/metadata")
    print(f"\n== server: {' '.join(argv[1:])}")
    server.start(timeout=args.start_timeout)
    print(f"   pid {server.pid}, ready; RSS {server.rss_kb()} kB")
    quiet = (args.quiet_limit, args.quiet_wait) if args.quiet_wait > 0 else None
    try:
        if "search" in args.phases:
            urls = plan_urls(args.resources, args.urls_per_kind)
            t0 = time.monotonic()
            facts = fetch_all(server.base, urls, args.pages)
            print(
                f"   prepared {sum(len(v) for v in urls.values())} URLs in {len(KINDS)} kinds, "
                f"each fetched once in {time.monotonic() - t0:.0f} s"
            )
            payload["urls"] = urls
            payload["url_facts"] = facts
            problems += facts["failures"]
            for failure in facts["failures"][:5]:
                print(f"   PROBLEM: {failure}")
            print("\n== latency: each kind alone, one connection")
            print(ROW)
            latency = []
            for kind in KINDS:
                if not urls[kind] or kind not in args.kinds:
                    continue
                file = write_urls(work / f"urls-{kind}.txt", urls[kind])
                r = benchlib.measured_phase(
                    server, "wrk", "search", args.duration, 1, quiet=quiet, ids_in=file
                )
                r["kind"] = kind
                latency.append(r)
                print(format_row(kind, r, facts[kind]), flush=True)
                if r["errors"]:
                    problems.append(f"{kind}: {r['errors']} errors; first: {r['first_error']}")
            payload["latency"] = latency
            print(f"\n== throughput: all kinds mixed, {args.concurrency} connections")
            print(ROW)
            mixed = {kind: paths for kind, paths in urls.items() if kind in args.kinds}
            file = write_urls(work / "urls-mix.txt", interleave(mixed))
            mix = benchlib.measured_phase(
                server, "wrk", "search", args.duration, args.concurrency, quiet=quiet, ids_in=file
            )
            mix["kind"] = "mix"
            print(format_row("mix", mix, None))
            if mix["errors"]:
                problems.append(f"mix: {mix['errors']} errors; first: {mix['first_error']}")
            payload["throughput"] = mix
        if "create" in args.phases:
            print(f"\n== create: POST /Patient, {args.create_concurrency} connections")
            print(benchlib.HEADER)
            r = benchlib.measured_phase(
                server,
                "wrk",
                "create",
                args.duration,
                args.create_concurrency,
                quiet=quiet,
                ids_out=work / "created.txt",
            )
            print(
                benchlib.format_row(r)
                + f"   (target >= {CREATE_TARGET:.0f}/s: "
                + ("ok)" if r["throughput_rps"] >= CREATE_TARGET else "MISS)")
            )
            if r["errors"]:
                problems.append(f"create: {r['errors']} errors; first: {r['first_error']}")
            payload["create"] = r
        payload["server_peak_rss_kb"] = server.peak_rss_kb()
        print(f"\n   server peak RSS (VmHWM): {(server.peak_rss_kb() or 0) / 1024:.0f} MiB")
    finally:
        server.stop()
    tail = server.log_tail(40)
    if "Traceback" in tail:
        print("   server log shows errors; tail:\n" + tail)
    return problems


# ---------------------------------------------------------------- explain


def explain(args: argparse.Namespace) -> None:
    """SQL, query plans and timings of the first URL of each kind, in this process."""
    from explain_search import explain_url

    urls = plan_urls(args.resources, args.urls_per_kind)
    for kind in KINDS:
        if kind == "sort-next" or not urls[kind]:
            continue
        print(f"\n== {kind}: {urls[kind][0]}")
        explain_url(search_load.db_path(args.data_dir), urls[kind][0])


# ---------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(
        description="FHIR search benchmark at ~1 M resources",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    ap.add_argument("--data-dir", type=Path, required=True, help="kept between runs")
    ap.add_argument("--resources", type=int, default=1_000_000, help="resources to load (1e6)")
    ap.add_argument("--phases", default=",".join(PHASES), help="of " + ",".join(PHASES))
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per run (10)")
    ap.add_argument("--concurrency", type=int, default=8, help="connections of the mixed run")
    ap.add_argument("--create-concurrency", type=int, default=32)
    ap.add_argument("--kinds", default=",".join(KINDS), help="query kinds to run (all)")
    ap.add_argument("--urls-per-kind", type=int, default=50)
    ap.add_argument("--pages", type=int, default=3, help="pages followed per _sort URL")
    ap.add_argument("--port", type=int)
    ap.add_argument("--start-timeout", type=float, default=300.0)
    ap.add_argument("--quiet-limit", type=float, default=15.0)
    ap.add_argument("--quiet-wait", type=float, default=30.0)
    ap.add_argument("--explain", action="store_true", help="print SQL, plans and timings only")
    args = ap.parse_args()
    args.phases = [p for p in args.phases.split(",") if p]
    unknown = set(args.phases) - set(PHASES)
    if unknown:
        ap.error(f"unknown phases {sorted(unknown)}")
    args.kinds = [k for k in args.kinds.split(",") if k]
    if set(args.kinds) - set(KINDS):
        ap.error(f"unknown kinds {sorted(set(args.kinds) - set(KINDS))}; kinds: {', '.join(KINDS)}")
    if args.explain:
        explain(args)
        return 0

    needs_wrk = {"search", "create"} & set(args.phases)
    if needs_wrk and not benchlib.wrk_path():
        sys.exit(f"the search benchmark drives the server with wrk:\n  {benchlib.WRK_INSTALL_HINT}")
    facts = benchlib.machine_facts("wrk")
    benchlib.print_facts(facts)
    payload: dict[str, Any] = {"machine": facts, "args": {k: str(v) for k, v in vars(args).items()}}
    problems: list[str] = []

    if "load" in args.phases:
        payload["load"] = asyncio.run(search_load.load(args.data_dir, args.resources))
        state = payload["load"]["state"]
        if state.get("load_seconds"):
            print(
                f"load over all runs: {state['loaded_by_runs']} resources in "
                f"{state['load_seconds']:.0f} s: "
                f"{state['loaded_by_runs'] / state['load_seconds']:.0f} resources/s"
            )
        if payload["load"].get("interrupted"):
            return 1
    db = search_load.db_path(args.data_dir)
    if not db.exists():
        sys.exit(f"no database in {args.data_dir}: run the load phase first")
    payload["resources"] = search_load.resource_count(db)
    print(f"resources in the store: {payload['resources']:,}")
    if "size" in args.phases:
        print("\n== size on disk")
        payload["sizes"] = db_sizes(db)
        print_sizes(payload["sizes"])

    if needs_wrk:
        with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
            problems += run_search(args, Path(tmp), payload)

    path = benchlib.write_results("search", payload)
    print(f"\nfigures written to {path.relative_to(benchlib.ROOT)}")
    if problems:
        print(f"{len(problems)} problem(s), see above")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
