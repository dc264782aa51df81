"""Shared plumbing for the benchmarks: server processes, generators, figures.

Nothing here imports fhir_server: the server under test always runs in its own
process, and so does the load generator (wrk, or bench/loadgen.py as fallback).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WRK_DIR = BENCH / "wrk"
RESULTS = BENCH / "results"

WRK_INSTALL_HINT = "apt-get update && apt-get install -y wrk   (Debian/Ubuntu package 'wrk')"


# ---------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One server process on loopback, its log in a file, stopped on exit."""

    def __init__(
        self,
        argv: list[str],
        port: int,
        log_path: Path,
        ready_path: str,
        env: dict[str, str] | None = None,
    ) -> None:
        self.argv = argv
        # security off unless asked for (bench/auth.py measures it on)
        self.env = {"FHIR_SERVER_INSECURE_NO_AUTH": "true", **(env or {})}
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.ready_path = ready_path
        self.proc: subprocess.Popen[bytes] | None = None
        # CPU seconds so far of the database server the server uses, when it has one of its
        # own processes (PostgreSQL): measured phases then report it apart
        self.database_cpu: Callable[[], float] | None = None

    def start(self, timeout: float = 60.0) -> None:
        log = open(self.log_path, "wb")  # noqa: SIM115 - kept open for the child's life
        env = dict(os.environ, PYTHONUNBUFFERED="1", **self.env)
        self.proc = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.proc.returncode} before answering "
                    f"{self.ready_path}; log tail:\n{self.log_tail()}"
                )
            try:
                status, _ = http_request("GET", self.base + self.ready_path, timeout=2)
                if status == 200:
                    return
                last = f"status {status}"
            except OSError as exc:
                last = str(exc)
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            f"server did not answer {self.ready_path} with 200 in {timeout:.0f}s ({last}); "
            f"log tail:\n{self.log_tail()}"
        )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def peak_rss_kb(self) -> int | None:
        return proc_status_kb(self.pid, "VmHWM")

    def rss_kb(self) -> int | None:
        return proc_status_kb(self.pid, "VmRSS")

    def cpu_seconds(self) -> float:
        """user+system CPU so far of the server's processes: the one started, and those it
        started (uvicorn workers, the subscription worker), all their threads."""
        return tree_cpu_seconds(self.pid)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def proc_status_kb(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def http_request(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def get_json(url: str) -> tuple[int, Any]:
    status, body = http_request("GET", url, headers={"Accept": "application/fhir+json"})
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode("utf-8", "replace")


# ---------------------------------------------------------------- generators


def wrk_path() -> str | None:
    return shutil.which("wrk")


def choose_generator(wanted: str) -> str:
    if wanted == "wrk":
        if not wrk_path():
            sys.exit(f"wrk is not installed; install it with:\n  {WRK_INSTALL_HINT}")
        return "wrk"
    if wanted == "python":
        return "python"
    if wrk_path():
        return "wrk"
    print(
        "NOTE: wrk not found, falling back to the pure-Python generator bench/loadgen.py,\n"
        "      which costs more CPU on this machine. For the real figures install wrk:\n"
        f"      {WRK_INSTALL_HINT}",
        file=sys.stderr,
    )
    return "python"


def generator_version(generator: str) -> str:
    if generator == "wrk":
        out = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
        text = (out.stdout + out.stderr).strip().splitlines()
        return text[0] if text else "wrk"
    return f"bench/loadgen.py (asyncio streams, Python {platform.python_version()})"


def run_phase(
    generator: str,
    base: str,
    phase: str,
    duration: float,
    concurrency: int,
    ids_in: Path | None = None,
    ids_out: Path | None = None,
    wrk_threads: int = 1,
    loadgen_processes: int = 1,
) -> dict[str, Any]:
    """Run one phase from a separate generator process; a uniform result dict."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    if generator == "wrk":
        result = _run_wrk(base, phase, duration, concurrency, ids_in, ids_out, wrk_threads)
    else:
        result = _run_loadgen(
            base, phase, duration, concurrency, ids_in, ids_out, loadgen_processes
        )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    gen_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result["generator"] = generator
    result["generator_cpu_s"] = round(gen_cpu, 3)
    return _normalise(result, concurrency)


def _run_wrk(
    base: str,
    phase: str,
    duration: float,
    concurrency: int,
    ids_in: Path | None,
    ids_out: Path | None,
    threads: int,
) -> dict[str, Any]:
    threads = max(1, min(threads, concurrency))
    argv = [
        "wrk",
        f"-t{threads}",
        f"-c{concurrency}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "30s",
        "--latency",
        "-s",
        str(WRK_DIR / f"{phase}.lua"),
        base,
    ]
    if ids_in is not None:
        argv += ["--", str(ids_in)]
    env = dict(os.environ)
    env["BENCH_IDS_OUT"] = str(ids_out) if ids_out is not None else ""
    out = subprocess.run(argv, capture_output=True, text=True, env=env)
    match = re.search(r"^BENCH_RESULT (\{.*\})\s*$", out.stdout, re.M)
    if out.returncode != 0 or not match:
        raise RuntimeError(
            f"wrk failed ({out.returncode}): {' '.join(argv)}\n{out.stdout}\n{out.stderr}"
        )
    result = json.loads(match.group(1))
    result["raw"] = out.stdout
    result["argv"] = argv
    return result


def _run_loadgen(
    base: str,
    phase: str,
    duration: float,
    concurrency: int,
    ids_in: Path | None,
    ids_out: Path | None,
    processes: int,
) -> dict[str, Any]:
    json_out = RESULTS / f".loadgen-{os.getpid()}-{phase}.json"
    RESULTS.mkdir(exist_ok=True)
    argv = [
        sys.executable,
        str(BENCH / "loadgen.py"),
        "--url",
        base,
        "--phase",
        phase,
        "--duration",
        str(duration),
        "--concurrency",
        str(concurrency),
        "--processes",
        str(processes),
        "--json-out",
        str(json_out),
    ]
    if ids_in is not None:
        argv += ["--ids-file", str(ids_in)]
    if ids_out is not None:
        argv += ["--ids-out", str(ids_out)]
    out = subprocess.run(argv, capture_output=True, text=True)
    if out.returncode != 0 or not json_out.exists():
        raise RuntimeError(f"loadgen failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    result = json.loads(json_out.read_text())
    json_out.unlink()
    result["argv"] = argv
    return result


def _normalise(r: dict[str, Any], concurrency: int) -> dict[str, Any]:
    seconds = r["duration_us"] / 1e6
    lat = r["latency_us"]
    sock = r.get("socket_errors", {})
    socket_errs = sum(v for k, v in sock.items() if k != "status")
    statuses = {int(k): v for k, v in r.get("statuses", {}).items()}
    ok = sum(v for k, v in statuses.items() if 200 <= k <= 299)
    return {
        "phase": r["phase"],
        "generator": r["generator"],
        "concurrency": concurrency,
        "requests": r["requests"],
        "ok_2xx": ok,
        "errors": r["non_2xx"] + socket_errs,
        "non_2xx": r["non_2xx"],
        "socket_errors": sock,
        "statuses": statuses,
        "duration_s": round(seconds, 3),
        "throughput_rps": round(r["requests"] / seconds, 1) if seconds else 0.0,
        "p50_ms": round(lat["p50"] / 1000, 3),
        "p90_ms": round(lat["p90"] / 1000, 3),
        "p95_ms": round(lat["p95"] / 1000, 3) if "p95" in lat else None,
        "p99_ms": round(lat["p99"] / 1000, 3),
        "p999_ms": round(lat["p999"] / 1000, 3),
        "mean_ms": round(lat["mean"] / 1000, 3),
        "max_ms": round(lat["max"] / 1000, 3),
        "mb_received": round(r.get("bytes", 0) / 1e6, 2),
        "ids_written": r.get("ids_written", 0),
        "first_error": r.get("first_error"),
        "generator_cpu_s": r.get("generator_cpu_s"),
        "argv": r.get("argv"),
    }


# ---------------------------------------------------------------- reporting


def machine_facts(generator: str) -> dict[str, Any]:
    cpu_model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    mem_kb = proc_meminfo_kb("MemTotal")
    facts: dict[str, Any] = {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "mem_total_gib": round(mem_kb / 1024 / 1024, 1) if mem_kb else None,
        "python": platform.python_version(),
        "python_impl": platform.python_implementation(),
        "kernel": platform.release(),
        "generator": generator_version(generator),
    }
    for mod in ("uvicorn", "uvloop", "httptools", "fastapi", "starlette", "orjson"):
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            facts[mod] = version(mod)
    with contextlib.suppress(Exception):
        facts["sqlite"] = __import__("sqlite3").sqlite_version
    facts["fhir_server_digest"] = source_digest()
    with contextlib.suppress(Exception):
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        facts["git_head"] = out.stdout.strip() or None
    return facts


def source_digest() -> str:
    """sha256 (12 hex) over fhir_server/**/*.py: which code the figures belong to, also
    for a working tree with uncommitted changes."""
    import hashlib

    h = hashlib.sha256()
    for path in sorted((ROOT / "fhir_server").rglob("*.py")):
        h.update(str(path.relative_to(ROOT)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def proc_meminfo_kb(field: str) -> int | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def print_facts(facts: dict[str, Any]) -> None:
    print(
        f"machine: nproc={facts['nproc']} ({facts['cpu_model'] or 'cpu'}), "
        f"{facts['mem_total_gib']} GiB, Linux {facts['kernel']}"
    )
    print(
        f"python {facts['python']}  uvicorn {facts.get('uvicorn')}  uvloop {facts.get('uvloop')}"
        f"  httptools {facts.get('httptools')}  fastapi {facts.get('fastapi')}"
        f"  sqlite {facts.get('sqlite')}"
    )
    print(f"load generator: {facts['generator']}")
    print(
        f"code: git {facts.get('git_head') or '(no commit)'}, "
        f"fhir_server sources sha256 {facts['fhir_server_digest']}"
    )


HEADER = (
    f"{'phase':<10}{'conc':>5}{'requests':>10}{'errors':>8}{'req/s':>10}"
    f"{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'srv CPU':>9}{'gen CPU':>9}{'other':>7}"
)


def format_row(r: dict[str, Any], label: str | None = None) -> str:
    srv = r.get("server_cpu_pct")
    gen = r.get("generator_cpu_pct")
    other = r.get("other_cpu_pct")
    return (
        f"{(label or r['phase']):<10}{r['concurrency']:>5}{r['requests']:>10}{r['errors']:>8}"
        f"{r['throughput_rps']:>10.1f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{r['max_ms']:>9.1f}"
        f"{(f'{srv:.0f}%' if srv is not None else '-'):>9}"
        f"{(f'{gen:.0f}%' if gen is not None else '-'):>9}"
        f"{(f'{other:.0f}%' if other is not None else '-'):>7}"
        + ("  <- machine busy" if other is not None and other > 15 else "")
    )


def _start_py_spy(pid: int, duration: float, out: Path) -> tuple[subprocess.Popen[bytes], Path]:
    out.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        "py-spy",
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, round(duration))),
        "--rate",
        "200",
        "--format",
        "raw",
        "--nonblocking",
        *(["--gil"] if os.environ.get("BENCH_PYSPY_GIL") else []),
        "--threads",
        "-o",
        str(out),
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    return proc, out


def _finish_py_spy(proc: subprocess.Popen[bytes], out: Path) -> dict[str, Any]:
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if not out.exists():
        return {"file": None}
    return {"file": str(out), **top_frames(out)}


def top_frames(path: Path, n: int = 15) -> dict[str, Any]:
    """Share of samples per thread, and the frames with the most self and inclusive
    samples, from py-spy's raw (collapsed) output."""
    import collections

    threads: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        k = int(count)
        total += k
        frames = [
            re.sub(r"\(/\S*/(site-packages|lib/python3\.\d+)/", "(", f) for f in stack.split(";")
        ]
        frames = [re.sub(r"\(" + re.escape(str(ROOT)) + "/", "(", f) for f in frames]
        threads[frames[0]] += k
        own[frames[-1]] += k
        for f in set(frames[1:]):
            incl[f] += k

    def pct(counter: collections.Counter[str]) -> list[tuple[float, str]]:
        return [(round(100 * v / total, 1), f) for f, v in counter.most_common(n)] if total else []

    return {
        "samples": total,
        "threads": pct(threads),
        "self": pct(own),
        "inclusive": [
            (round(100 * v / total, 1), f)
            for f, v in incl.most_common()
            if "fhir_server" in f and not re.search(r"fhir_server/(cli|__main__)\.py", f)
        ][:n],
    }


def machine_busy_seconds() -> float:
    """CPU seconds all cores have spent busy since boot (/proc/stat, not idle/iowait)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return float("nan")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def other_load(seconds: float = 1.0, exclude_pids: tuple[int, ...] = ()) -> float:
    """Cores kept busy by everything else over `seconds` (100% = one core)."""

    def own() -> float:
        return sum(proc_cpu_seconds(pid) for pid in exclude_pids)

    b0, o0, t0 = machine_busy_seconds(), own(), time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - t0
    return 100 * ((machine_busy_seconds() - b0) - (own() - o0)) / wall


def proc_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def wait_quiet(limit_pct: float, max_wait: float, exclude_pids: tuple[int, ...] = ()) -> float:
    """Wait (at most max_wait s) until other processes use < limit_pct of a core."""
    deadline = time.monotonic() + max_wait
    load = other_load(1.0, exclude_pids)
    warned = False
    while load >= limit_pct and time.monotonic() < deadline:
        if not warned:
            print(
                f"   machine busy: other processes use {load:.0f}% of a core; waiting up to "
                f"{max_wait:.0f}s for < {limit_pct:.0f}% (--quiet-wait)",
                flush=True,
            )
            warned = True
        load = other_load(2.0, exclude_pids)
    return load


def measured_phase(
    server: Server,
    generator: str,
    phase: str,
    duration: float,
    concurrency: int,
    quiet: tuple[float, float] | None = None,
    profile: Path | None = None,
    **kw: Any,
) -> dict[str, Any]:
    """run_phase plus the CPU the server, the generator and everything else used during it
    (100% = one core). `other_cpu_pct` is load from processes outside the benchmark: on a
    2-core machine anything above a few % makes the figures too low.
    quiet=(limit %, max wait s): first wait for other load to drop below limit.
    profile=DIR: sample the server with py-spy during the phase (slows it down) and
    write DIR/<phase>-c<concurrency>.pyspy.txt (collapsed stacks)."""
    if quiet is not None:
        wait_quiet(quiet[0], quiet[1], (server.pid,))
    spy = None
    if profile is not None:
        spy = _start_py_spy(server.pid, duration, profile / f"{phase}-c{concurrency}.pyspy.txt")
    database = server.database_cpu
    cpu0 = server.cpu_seconds()
    db0 = database() if database is not None else 0.0
    busy0 = machine_busy_seconds()
    t0 = time.monotonic()
    result = run_phase(generator, server.base, phase, duration, concurrency, **kw)
    wall = time.monotonic() - t0
    if spy is not None:
        result["profile"] = _finish_py_spy(*spy)
    server_cpu = server.cpu_seconds() - cpu0
    db_cpu = database() - db0 if database is not None else 0.0
    busy = machine_busy_seconds() - busy0
    result["server_cpu_pct"] = round(100 * server_cpu / wall, 1)
    requests = max(1, int(result.get("requests") or 0))
    result["server_cpu_ms_per_request"] = round(1000 * server_cpu / requests, 3)
    if database is not None:
        result["database_cpu_pct"] = round(100 * db_cpu / wall, 1)
        result["database_cpu_ms_per_request"] = round(1000 * db_cpu / requests, 3)
    gen_cpu = result.get("generator_cpu_s") or 0.0
    result["generator_cpu_pct"] = round(100 * gen_cpu / wall, 1)
    other = busy - server_cpu - db_cpu - gen_cpu
    result["other_cpu_pct"] = round(max(0.0, 100 * other / wall), 1)
    result["server_rss_kb_after"] = server.rss_kb()
    return result


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def tree_cpu_seconds(root: int) -> float:
    """user+system CPU so far of a process and its descendants (living ones, and the ended
    ones it waited for, which the kernel adds to its children's time); NaN when it is gone."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None:
                parents[int(entry.name)] = int(fields[1])
    tree, grown = {root}, True
    while grown:
        found = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= found
        grown = bool(found)
    ticks = 0
    root_fields = _stat(root)
    if root_fields is None:
        return float("nan")
    ticks += int(root_fields[13]) + int(root_fields[14])  # waited-for children
    for pid in tree:
        fields = _stat(pid)
        if fields is not None:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def write_results(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = RESULTS / f"{name}-{stamp}.json"
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    return path


def parse_concurrency(text: str) -> list[int]:
    values = [int(v) for v in text.replace(" ", "").split(",") if v]
    if not values or any(v < 1 for v in values):
        raise ValueError(f"bad --concurrency {text!r}")
    return values


# ---------------------------------------------------------------- the CRUD sequence


def history_total(base: str, settle: float = 10.0) -> int | None:
    """Bundle.total of GET /Patient/_history?_count=1 (every Patient version), or None.

    A generator stops with requests still in flight, which the server goes on to store;
    so read until two answers 0.3 s apart agree (at most `settle` seconds)."""

    def once() -> int | None:
        status, body = get_json(base + "/Patient/_history?_count=1")
        if status == 200 and isinstance(body, dict) and isinstance(body.get("total"), int):
            return int(body["total"])
        return None

    deadline = time.monotonic() + settle
    last = once()
    while last is not None and time.monotonic() < deadline:
        time.sleep(0.3)
        now = once()
        if now == last:
            break
        last = now
    return last


def crud_sequence(
    server: Server,
    generator: str,
    duration: float,
    concurrency: int,
    workdir: Path,
    warmup: float = 2.0,
    verify: bool = True,
    wrk_threads: int = 1,
    loadgen_processes: int = 1,
    log: Any = print,
    quiet: tuple[float, float] | None = None,
    profile: Path | None = None,
) -> dict[str, Any]:
    """warm-up create, create, read, update against one running server.

    Returns {"phases": [...], "checks": {...}, "problems": [...]}.
    With verify, counts what the create and update phases stored through
    /Patient/_history totals and reads one created and one updated Patient back.
    """
    kw = {
        "wrk_threads": wrk_threads,
        "loadgen_processes": loadgen_processes,
        "quiet": quiet,
    }
    pkw = {"profile": profile}
    problems: list[str] = []
    checks: dict[str, Any] = {}
    phases: list[dict[str, Any]] = []
    ids_all = workdir / "ids.txt"
    ids_warm = workdir / "ids-warmup.txt"
    ids_new = workdir / "ids-create.txt"

    def note_errors(r: dict[str, Any]) -> None:
        if r["errors"]:
            msg = (
                f"{r['phase']}: {r['errors']} errors (non-2xx {r['non_2xx']}, "
                f"statuses {r['statuses']}, socket {r['socket_errors']})"
            )
            if r.get("first_error"):
                fe = r["first_error"]
                msg += f"\n    first error response: HTTP {fe['status']}: {fe['body'][:2000]}"
            problems.append(msg)

    if warmup > 0:
        w = measured_phase(server, generator, "create", warmup, concurrency, ids_out=ids_warm, **kw)
        w["phase"] = "warmup"
        log(
            f"  warm-up create {warmup:.0f}s: {w['requests']} requests, "
            f"{w['throughput_rps']:.0f} req/s, {w['errors']} errors"
        )
        note_errors(w)
        checks["warmup"] = {"requests": w["requests"], "errors": w["errors"]}

    before = history_total(server.base) if verify else None
    create = measured_phase(
        server, generator, "create", duration, concurrency, ids_out=ids_new, **kw, **pkw
    )
    phases.append(create)
    log(format_row(create))
    note_errors(create)
    after = history_total(server.base) if verify else None
    created_201 = create["statuses"].get(201, 0)
    new_ids = _read_ids(ids_new)
    checks["create"] = {
        "responses_201": created_201,
        "ids_from_location": len(new_ids),
        "patient_history_total_before": before,
        "patient_history_total_after": after,
    }
    if len(new_ids) != created_201:
        problems.append(
            f"create: {created_201} responses were 201 but {len(new_ids)} "
            "Location headers named a Patient id"
        )
    if verify:
        if before is not None and after is not None:
            checks["create"]["stored"] = after - before
            _check_stored(
                "create", created_201, after - before, concurrency, checks["create"], problems
            )
        else:
            problems.append(
                "create: GET /Patient/_history?_count=1 gave no Bundle.total; "
                "counted the 201 responses only"
            )
    ids = _read_ids(ids_warm) + new_ids
    ids_all.write_text("".join(i + "\n" for i in ids))
    if not ids:
        problems.append("create: no ids to read or update; skipped read and update")
        return {"phases": phases, "checks": checks, "problems": problems}
    if verify:
        checks["read_back"] = _check_read_back(
            server.base, new_ids[-1] if new_ids else ids[0], problems
        )

    read = measured_phase(
        server, generator, "read", duration, concurrency, ids_in=ids_all, **kw, **pkw
    )
    phases.append(read)
    log(format_row(read))
    note_errors(read)

    before = history_total(server.base) if verify else None
    update = measured_phase(
        server, generator, "update", duration, concurrency, ids_in=ids_all, **kw, **pkw
    )
    phases.append(update)
    log(format_row(update))
    note_errors(update)
    if verify:
        after = history_total(server.base)
        ok = update["statuses"].get(200, 0) + update["statuses"].get(201, 0)
        checks["update"] = {
            "responses_2xx": ok,
            "patient_history_total_before": before,
            "patient_history_total_after": after,
        }
        if before is not None and after is not None:
            checks["update"]["stored"] = after - before
            _check_stored("update", ok, after - before, concurrency, checks["update"], problems)
        checks["updated_read_back"] = _check_updated(server.base, ids, problems)
    return {"phases": phases, "checks": checks, "problems": problems}


def _check_stored(
    phase: str,
    acknowledged: int,
    stored: int,
    concurrency: int,
    check: dict[str, Any],
    problems: list[str],
) -> None:
    """Every acknowledged write must be stored. A generator stops at its deadline with up
    to one request in flight per connection: the server completes those, nobody counts
    their responses, so up to `concurrency` more versions than 2xx responses is right."""
    extra = stored - acknowledged
    check["in_flight_at_cutoff"] = extra
    if not 0 <= extra <= concurrency:
        problems.append(
            f"{phase}: {acknowledged} acknowledged (2xx) but /Patient/_history total "
            f"grew by {stored}: {'lost writes' if extra < 0 else 'unexplained extra'}"
        )


def _read_ids(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


PERSONNUMMER = "http://electronichealth.se/identifier/personnummer"


def _check_read_back(base: str, rid: str, problems: list[str]) -> dict[str, Any]:
    status, body = get_json(f"{base}/Patient/{rid}")
    ok = (
        status == 200
        and isinstance(body, dict)
        and body.get("id") == rid
        and body.get("resourceType") == "Patient"
        and any(i.get("system") == PERSONNUMMER for i in body.get("identifier", []))
        and bool(body.get("name"))
    )
    if not ok:
        problems.append(f"read-back of Patient/{rid}: HTTP {status}: {str(body)[:1000]}")
    return {
        "id": rid,
        "status": status,
        "ok": ok,
        "versionId": body.get("meta", {}).get("versionId") if isinstance(body, dict) else None,
    }


def _check_updated(base: str, ids: list[str], problems: list[str]) -> dict[str, Any]:
    """Some of the ids must now be past version 1 (updates pick ids at random)."""
    seen = []
    for rid in ids[:50]:
        status, body = get_json(f"{base}/Patient/{rid}")
        if status != 200 or not isinstance(body, dict):
            problems.append(
                f"read-back after update of Patient/{rid}: HTTP {status}: {str(body)[:1000]}"
            )
            return {"ok": False}
        seen.append(body.get("meta", {}).get("versionId"))
        if body.get("id") != rid:
            problems.append(f"Patient/{rid} read back with id {body.get('id')!r}")
    bumped = sum(1 for v in seen if v not in (None, "1"))
    if bumped == 0:
        problems.append("after the update phase none of the first 50 ids is past version 1")
    return {"checked": len(seen), "past_version_1": bumped, "ok": bumped > 0}
