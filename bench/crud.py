"""Create / read / update throughput and latency of the FHIR server.

    python bench/crud.py [--duration 10] [--concurrency 32] [--data-dir DIR]
                         [--concurrency 16,32,64] [--baseline] [--generator auto|wrk|python]

Starts ONE real server process,
    python -m fhir_server serve --host 127.0.0.1 --port <free> --data-dir <temp dir>
waits for GET /metadata, then drives it from a separate load-generator process
(wrk with bench/wrk/*.lua; bench/loadgen.py when wrk is missing) over loopback:

  warm-up  POST /Patient for --warmup seconds (not reported; its ids join the pool)
  create   POST /Patient, a different ~1.8-2.6 KB Swedish Patient per request
  read     GET /Patient/{id}, ids drawn at random from all created
  update   PUT /Patient/{id}, a full replacement whose id is the URL id

Per phase: requests, errors (non-2xx and socket errors), req/s, p50/p99 latency,
and the CPU the server and the generator used (100% = one core). At the end the
server's peak RSS (VmHWM). With several concurrencies each gets a fresh server and
data directory. Figures go to bench/results/crud-<timestamp>.json.

The run is checked: every 201 must have stored a Patient (GET /Patient/_history
Bundle.total grows by the number of 201s), a created Patient reads back, updates
bump versions; any error prints the first error response. Exit status 1 then.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # the fhir_server package

import benchlib

from fhir_server.cli import serve_command

TARGETS = {"create": 1500.0, "read": 4000.0}


def run_server_sequence(
    args: argparse.Namespace, generator: str, conc: int, data_dir: Path, work: Path
) -> dict[str, Any]:
    port = args.port or benchlib.free_port()
    argv = serve_command(port, data_dir)
    server = benchlib.Server(argv, port, work / "server.log", "/metadata")
    print(f"\n== concurrency {conc}: {' '.join(argv[1:])}  (pid follows)")
    server.start(timeout=args.start_timeout)
    print(f"   server pid {server.pid}, ready; RSS {server.rss_kb()} kB")
    try:
        print(benchlib.HEADER)
        seq = benchlib.crud_sequence(
            server,
            generator,
            args.duration,
            conc,
            work,
            warmup=args.warmup,
            verify=True,
            wrk_threads=args.wrk_threads,
            loadgen_processes=args.loadgen_processes,
            quiet=(args.quiet_limit, args.quiet_wait) if args.quiet_wait > 0 else None,
            profile=args.profile_dir,
        )
        seq["server_peak_rss_kb"] = server.peak_rss_kb()
        seq["server_rss_kb_end"] = server.rss_kb()
        files = {
            p.name: p.stat().st_size for p in sorted(data_dir.glob("fhir.sqlite3*")) if p.is_file()
        }
        seq["db_files"] = files
        seq["db_bytes"] = sum(files.values()) if files else None
        alive = server.proc is not None and server.proc.poll() is None
        if not alive:
            seq["problems"].append(f"server died during the run; log tail:\n{server.log_tail()}")
    finally:
        server.stop()
    seq["server_argv"] = argv
    seq["server_log_tail"] = server.log_tail(40)
    seq["concurrency"] = conc
    rss = seq["server_peak_rss_kb"]
    files = ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in seq.get("db_files", {}).items())
    print(
        f"   server peak RSS (VmHWM): {rss / 1024:.1f} MiB" if rss else "   peak RSS: n/a",
        f"; database files: {files}" if files else "",
    )
    for name, check in seq["checks"].items():
        print(f"   check {name}: {check}")
    for p in seq["problems"]:
        print(f"   PROBLEM: {p}")
    for r in seq["phases"]:
        prof = r.get("profile")
        if prof and prof.get("samples"):
            print(f"   profile of {r['phase']} ({prof['samples']} samples, {prof['file']}):")
            print("     threads: " + ", ".join(f"{t} {p}%" for p, t in prof["threads"]))
            for label in ("self", "inclusive"):
                print(f"     top {label}:")
                for p, frame in prof[label][:12]:
                    print(f"       {p:5.1f}%  {frame[:110]}")
    if "Traceback" in seq["server_log_tail"] or " ERROR " in seq["server_log_tail"]:
        print("   server log shows errors; tail:\n" + seq["server_log_tail"])
    return seq


def main() -> int:
    ap = argparse.ArgumentParser(
        description="FHIR server CRUD benchmark",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per phase (10)")
    ap.add_argument(
        "--concurrency",
        default="32",
        help="keep-alive connections; a list like 16,32,64 runs each (32)",
    )
    ap.add_argument(
        "--data-dir",
        type=Path,
        help="server data directory (default: a temporary one, removed after)",
    )
    ap.add_argument("--port", type=int, help="server port (default: a free one)")
    ap.add_argument("--warmup", type=float, default=2.0, help="warm-up create seconds (2)")
    ap.add_argument(
        "--generator",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="auto: wrk when installed, else bench/loadgen.py",
    )
    ap.add_argument(
        "--wrk-threads",
        type=int,
        default=1,
        help="wrk threads (1 is plenty on 2 cores and leaves the other to the server)",
    )
    ap.add_argument(
        "--loadgen-processes", type=int, default=1, help="processes for the Python generator"
    )
    ap.add_argument(
        "--baseline",
        action="store_true",
        help="also run bench/baseline_trivial.py at the same concurrencies",
    )
    ap.add_argument(
        "--quiet-limit",
        type=float,
        default=15.0,
        help="before each phase wait until other processes use < this %% of a core",
    )
    ap.add_argument(
        "--quiet-wait",
        type=float,
        default=60.0,
        help="longest wait for a quiet machine per phase, s (0: don't wait)",
    )
    ap.add_argument(
        "--profile",
        action="store_true",
        help="sample the server with py-spy during each phase (lowers the figures; "
        "pip install py-spy) and print where its time goes",
    )
    ap.add_argument("--start-timeout", type=float, default=90.0)
    args = ap.parse_args()
    concurrencies = benchlib.parse_concurrency(args.concurrency)
    args.profile_dir = None
    if args.profile:
        if not shutil.which("py-spy"):
            sys.exit("--profile needs py-spy: pip install py-spy")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        args.profile_dir = benchlib.RESULTS / f"profile-{stamp}"

    generator = benchlib.choose_generator(args.generator)
    facts = benchlib.machine_facts(generator)
    benchlib.print_facts(facts)
    print(
        f"phases: {args.duration:.0f}s each after a {args.warmup:.0f}s warm-up; "
        f"concurrency {', '.join(map(str, concurrencies))}; "
        f"{'wrk -t' + str(args.wrk_threads) if generator == 'wrk' else 'loadgen.py'}"
    )

    runs: list[dict[str, Any]] = []
    tmp_root = Path(tempfile.mkdtemp(prefix="bench-crud-"))
    try:
        for conc in concurrencies:
            work = tmp_root / f"c{conc}"
            work.mkdir()
            if args.data_dir is None:
                data_dir = work / "data"
            elif len(concurrencies) > 1:
                data_dir = args.data_dir / f"c{conc}"
            else:
                data_dir = args.data_dir
            try:
                runs.append(run_server_sequence(args, generator, conc, data_dir, work))
            except RuntimeError as exc:
                print(f"   FAILED: {exc}")
                runs.append(
                    {"concurrency": conc, "phases": [], "checks": {}, "problems": [str(exc)]}
                )
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)

    baseline: list[dict[str, Any]] = []
    if args.baseline:
        from baseline_trivial import run_baseline

        print("\n== baseline: trivial FastAPI app, same uvicorn settings, same generator")
        print(benchlib.HEADER)
        try:
            baseline = run_baseline(
                generator,
                args.duration,
                concurrencies,
                args.warmup,
                args.wrk_threads,
                args.loadgen_processes,
                quiet=(args.quiet_limit, args.quiet_wait) if args.quiet_wait > 0 else None,
            )
        except Exception as exc:  # the CRUD figures are still worth writing
            print(f"   baseline FAILED: {exc!r}")

    summary = summarise(runs, baseline)
    payload = {
        "machine": facts,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "concurrency": concurrencies,
        "generator": generator,
        "targets": TARGETS,
        "summary": summary,
        "runs": runs,
        "baseline": baseline,
    }
    path = benchlib.write_results("crud", payload)
    print(f"\nfigures written to {path.relative_to(benchlib.ROOT)}")
    problems = [p for r in runs for p in r["problems"]]
    if problems:
        print(f"{len(problems)} problem(s), see above")
        return 1
    return 0


def summarise(runs: list[dict[str, Any]], baseline: list[dict[str, Any]]) -> dict[str, Any]:
    """Best throughput per phase over the concurrencies, beside the baseline."""
    best: dict[str, Any] = {}
    for run in runs:
        for r in run["phases"]:
            if r["errors"]:
                continue
            cur = best.get(r["phase"])
            if cur is None or r["throughput_rps"] > cur["throughput_rps"]:
                best[r["phase"]] = dict(r, server_peak_rss_kb=run.get("server_peak_rss_kb"))
    base_best: dict[str, Any] = {}
    for r in baseline:
        cur = base_best.get(r["phase"])
        if not r["errors"] and (cur is None or r["throughput_rps"] > cur["throughput_rps"]):
            base_best[r["phase"]] = r
    print("\n== summary: best of each phase (FHIR server | trivial FastAPI baseline)")
    print(
        f"{'phase':<14}{'conc':>5}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'target':>9}"
        f"{'':>4}{'base req/s':>11}{'p50 ms':>9}{'p99 ms':>9}"
    )
    for phase in ("create", "read", "update", "trivial", "trivial_dict"):
        r, b = best.get(phase), base_best.get(phase)
        if r is None and b is None:
            continue
        target = TARGETS.get(phase)
        left = (
            f"{r['concurrency']:>5}{r['throughput_rps']:>10.0f}{r['p50_ms']:>9.2f}"
            f"{r['p99_ms']:>9.2f}"
            if r
            else f"{'':>5}{'-':>10}{'':>9}{'':>9}"
        )
        mark = ""
        if r and target:
            mark = f"{target:>9.0f}{' ok' if r['throughput_rps'] >= target else ' MISS':>4}"
        else:
            mark = f"{'':>13}"
        right = f"{b['throughput_rps']:>11.0f}{b['p50_ms']:>9.2f}{b['p99_ms']:>9.2f}" if b else ""
        print(f"{phase:<14}{left}{mark}{right}")
    peaks = [run.get("server_peak_rss_kb") for run in runs if run.get("server_peak_rss_kb")]
    if peaks:
        print(f"server peak RSS: {max(peaks) / 1024:.1f} MiB (max over runs)")
    return {
        "best": best,
        "baseline_best": base_best,
        "server_peak_rss_kb": max(peaks) if peaks else None,
    }


if __name__ == "__main__":
    sys.exit(main())
