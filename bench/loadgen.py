"""Pure-Python fallback load generator (used by bench/crud.py when wrk is absent).

asyncio (uvloop when installed) with raw keep-alive HTTP/1.1 over asyncio streams:
CONCURRENCY connections, each sending its next request as soon as the previous
response is read (closed loop, like wrk). Optionally spread over several processes.
Prints one line `BENCH_RESULT {json}` in the same shape as bench/wrk/common.lua's
done(), and writes it to --json-out.

    python bench/loadgen.py --url http://127.0.0.1:8099 --phase read \
        --ids-file ids.txt --duration 10 --concurrency 32

It costs far more CPU per request than wrk: on a 2-core machine it competes with
the server for CPU, so prefer wrk for figures and treat these as a lower bound.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing as mp
import random
import sys
import time
from array import array
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import patients

PHASES = ("create", "read", "update", "trivial", "trivial_dict")


class Stats:
    def __init__(self) -> None:
        self.latencies = array("d")  # microseconds
        self.statuses: dict[str, int] = {}
        self.non_2xx = 0
        self.first_error: dict[str, Any] | None = None
        self.created: list[str] = []
        self.bytes = 0
        self.socket_errors = {"connect": 0, "read": 0, "write": 0, "timeout": 0, "status": 0}


def request_bytes(method: str, path: str, host: str, body: bytes | None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Accept: application/fhir+json"]
    if body is not None:
        lines.append("Content-Type: application/fhir+json")
        lines.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
    return head + body if body is not None else head


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[bytes, bytes], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, _, rest = head.partition(b"\r\n")
    status = int(status_line.split(b" ", 2)[1])
    headers: dict[bytes, bytes] = {}
    for line in rest.split(b"\r\n"):
        if line:
            k, _, v = line.partition(b":")
            headers[k.strip().lower()] = v.strip()
    if b"content-length" in headers:
        body = await reader.readexactly(int(headers[b"content-length"]))
    elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        body = b"".join(parts)
    elif status in (204, 304) or 100 <= status < 200:
        body = b""
    else:
        body = await reader.read()
    return status, headers, body


async def _connection(
    url: str, phase: str, deadline: float, ids: list[str], stats: Stats, seed: int
) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    hostport = f"{host}:{port}"
    rng = random.Random(seed)
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        stats.socket_errors["connect"] += 1
        return
    seq = 0
    perf = time.perf_counter
    try:
        while perf() < deadline:
            seq += 1
            if phase == "create":
                req = request_bytes("POST", "/Patient", hostport, patients.patient_bytes(rng, seq))
            elif phase == "read":
                req = request_bytes("GET", f"/Patient/{rng.choice(ids)}", hostport, None)
            elif phase == "update":
                rid = rng.choice(ids)
                req = request_bytes(
                    "PUT", f"/Patient/{rid}", hostport, patients.updated_bytes(rng, rid, seq)
                )
            elif phase == "trivial":
                req = request_bytes("GET", "/ping", hostport, None)
            else:
                req = request_bytes("GET", "/ping-dict", hostport, None)
            t0 = perf()
            try:
                writer.write(req)
                status, headers, body = await read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                stats.socket_errors["read"] += 1
                break
            stats.latencies.append((perf() - t0) * 1e6)
            stats.bytes += len(body)
            key = str(status)
            stats.statuses[key] = stats.statuses.get(key, 0) + 1
            if not 200 <= status <= 299:
                stats.non_2xx += 1
                if stats.first_error is None:
                    stats.first_error = {
                        "status": status,
                        "body": body[:4000].decode("utf-8", "replace"),
                    }
            elif phase == "create" and status == 201:
                loc = headers.get(b"location", b"").decode()
                if "/Patient/" in loc:
                    stats.created.append(loc.split("/Patient/", 1)[1].split("/", 1)[0])
    finally:
        writer.close()


def _worker(
    url: str, phase: str, duration: float, conns: int, ids: list[str], seed: int, start_at: float
) -> dict[str, Any]:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    stats = Stats()

    async def main() -> float:
        # start together: wait for the shared wall-clock start
        delay = start_at - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        t0 = time.perf_counter()
        deadline = t0 + duration
        await asyncio.gather(
            *(_connection(url, phase, deadline, ids, stats, seed * 1000 + i) for i in range(conns))
        )
        return time.perf_counter() - t0

    elapsed = asyncio.run(main())
    return {
        "latencies": stats.latencies.tobytes(),
        "statuses": stats.statuses,
        "non_2xx": stats.non_2xx,
        "first_error": stats.first_error,
        "created": stats.created,
        "bytes": stats.bytes,
        "socket_errors": stats.socket_errors,
        "elapsed": elapsed,
    }


def _worker_entry(args: tuple[Any, ...], queue: Any) -> None:
    queue.put(_worker(*args))


def percentile(sorted_values: array, q: float) -> float:
    if not sorted_values:
        return 0.0
    k = max(0, min(len(sorted_values) - 1, math.ceil(q / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


def run(
    url: str, phase: str, duration: float, concurrency: int, ids: list[str], processes: int = 1
) -> tuple[dict[str, Any], list[str]]:
    processes = max(1, min(processes, concurrency))
    shares = [
        concurrency // processes + (1 if i < concurrency % processes else 0)
        for i in range(processes)
    ]
    start_at = time.time() + (0.5 if processes > 1 else 0.0)
    seed = random.randrange(1 << 30)
    if processes == 1:
        parts = [_worker(url, phase, duration, concurrency, ids, seed, start_at)]
    else:
        ctx = mp.get_context("fork")
        queue = ctx.Queue()
        procs = [
            ctx.Process(
                target=_worker_entry,
                args=((url, phase, duration, n, ids, seed + i, start_at), queue),
            )
            for i, n in enumerate(shares)
        ]
        for p in procs:
            p.start()
        parts = [queue.get() for _ in procs]
        for p in procs:
            p.join()
    lat = array("d")
    statuses: dict[str, int] = {}
    sock = {"connect": 0, "read": 0, "write": 0, "timeout": 0, "status": 0}
    non_2xx = 0
    first_error = None
    created: list[str] = []
    nbytes = 0
    for part in parts:
        chunk = array("d")
        chunk.frombytes(part["latencies"])
        lat.extend(chunk)
        for k, v in part["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
        for k, v in part["socket_errors"].items():
            sock[k] += v
        non_2xx += part["non_2xx"]
        first_error = first_error or part["first_error"]
        created.extend(part["created"])
        nbytes += part["bytes"]
    elapsed = max(p["elapsed"] for p in parts)
    ordered = array("d", sorted(lat))
    n = len(ordered)
    mean = sum(ordered) / n if n else 0.0
    stdev = math.sqrt(sum((x - mean) ** 2 for x in ordered) / n) if n else 0.0
    result: dict[str, Any] = {
        "phase": phase,
        "requests": n,
        "duration_us": int(elapsed * 1e6),
        "bytes": nbytes,
        "non_2xx": non_2xx,
        "socket_errors": sock,
        "statuses": statuses,
        "latency_us": {
            "min": ordered[0] if n else 0,
            "mean": mean,
            "stdev": stdev,
            "max": ordered[-1] if n else 0,
            "p50": percentile(ordered, 50),
            "p90": percentile(ordered, 90),
            "p99": percentile(ordered, 99),
            "p999": percentile(ordered, 99.9),
        },
        "ids_written": len(created),
        "processes": processes,
    }
    if first_error:
        result["first_error"] = first_error
    return result, created


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True, help="server base, e.g. http://127.0.0.1:8099")
    ap.add_argument("--phase", choices=PHASES, required=True)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--ids-file", type=Path, help="ids for read/update, one a line")
    ap.add_argument("--ids-out", type=Path, help="where create writes the created ids")
    ap.add_argument("--json-out", type=Path)
    args = ap.parse_args()
    ids: list[str] = []
    if args.phase in ("read", "update"):
        if not args.ids_file:
            ap.error(f"--phase {args.phase} needs --ids-file")
        ids = [line.strip() for line in args.ids_file.read_text().splitlines() if line.strip()]
        if not ids:
            ap.error(f"{args.ids_file} holds no ids")
    result, created = run(
        args.url, args.phase, args.duration, args.concurrency, ids, args.processes
    )
    if args.ids_out:
        args.ids_out.write_text("".join(i + "\n" for i in created))
    line = json.dumps(result, ensure_ascii=False)
    if args.json_out:
        args.json_out.write_text(line)
    print("BENCH_RESULT " + line)


if __name__ == "__main__":
    main()
