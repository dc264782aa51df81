"""The ceiling: a trivial FastAPI app under the same uvicorn settings as the server.

    python bench/baseline_trivial.py [--duration 10] [--concurrency 32[,64...]]

Starts ONE process (`python bench/baseline_trivial.py serve --port P`) run exactly
like `fhir_server serve` runs uvicorn (uvloop, httptools, access_log off, one worker)
and measures it with the same load generator as bench/crud.py:

  trivial       GET /ping -> Response(b'{"ok":true}'): routing + response, nothing else
  trivial_dict  GET /ping-dict -> {"ok": True} through FastAPI's response serialisation
  create    POST /Patient: read body, orjson parse, add id/meta, serialise, keep in a dict
  read      GET /Patient/{id}: the stored bytes
  update    PUT /Patient/{id}: as create, id checked against the URL

The stub CRUD has no validation, no storage, no FHIR rules: it is what FastAPI +
uvicorn cost for the same traffic, i.e. an upper bound for bench/crud.py's figures.

`--floor validate` makes the stub's create and update also check the resource as the
server does on every write (fhir_server/interactions/incoming.py: the R4 JSON schema with
jsonschema-rs, the rules the schema misses, profiles on write); `--floor index` also
extracts its search index entries (fhir_server/search/indexer.py, every R4 parameter and
full text), which every write stores. Still no storage, no FHIR REST: the throughput no
implementation of the server's writes can pass in one process on this machine.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))


FLOORS = ("none", "validate", "index")


def _write_work(floor: str) -> Any:
    """What the stub does with a resource besides keeping it: the server's checks, and its
    index extraction (see the module docstring)."""
    if floor == "none":
        return lambda resource: None
    from fhir_server.app import build_runtime
    from fhir_server.config import Settings
    from fhir_server.interactions.incoming import check_resource
    from fhir_server.search.indexer import Indexer

    runtime = build_runtime(Settings(data_dir=Path(tempfile.mkdtemp()), insecure_no_auth=True))
    indexer = Indexer(runtime.definitions)

    def work(resource: dict[str, Any]) -> None:
        check_resource(runtime, resource, "Patient")
        if floor == "index":
            indexer.extract(resource)

    return work


def make_app(floor: str = "none") -> Any:
    import uuid

    import orjson
    from fastapi import FastAPI, Request, Response

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    write_work = _write_work(floor)
    store: dict[str, bytes] = {}
    versions: dict[str, int] = {}
    media = "application/fhir+json; charset=utf-8"

    @app.get("/ping")
    async def ping() -> Response:
        # a Response, as the FHIR server's routes return
        return Response(b'{"ok":true}', media_type="application/json")

    @app.get("/ping-dict")
    async def ping_dict() -> dict[str, bool]:
        # the idiomatic FastAPI endpoint: the dict goes through FastAPI's serialisation
        return {"ok": True}

    @app.get("/metadata")
    async def metadata() -> Response:
        return Response(
            b'{"resourceType":"CapabilityStatement","status":"active"}', media_type=media
        )

    def stamp(resource: dict[str, Any], rid: str) -> bytes:
        version = versions.get(rid, 0) + 1
        versions[rid] = version
        resource["id"] = rid
        resource["meta"] = {
            "versionId": str(version),
            "lastUpdated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        data = orjson.dumps(resource)
        store[rid] = data
        return data

    @app.post("/Patient")
    async def create(request: Request) -> Response:
        resource = orjson.loads(await request.body())
        if resource.get("resourceType") != "Patient":
            return Response(b'{"resourceType":"OperationOutcome"}', 400, media_type=media)
        write_work(resource)
        rid = str(uuid.uuid4())
        data = stamp(resource, rid)
        base = str(request.base_url).rstrip("/")
        return Response(
            data,
            201,
            media_type=media,
            headers={
                "Location": f"{base}/Patient/{rid}/_history/{versions[rid]}",
                "ETag": f'W/"{versions[rid]}"',
            },
        )

    @app.get("/Patient/{rid}")
    async def read(rid: str) -> Response:
        data = store.get(rid)
        if data is None:
            return Response(b'{"resourceType":"OperationOutcome"}', 404, media_type=media)
        return Response(data, media_type=media, headers={"ETag": f'W/"{versions[rid]}"'})

    @app.put("/Patient/{rid}")
    async def update(rid: str, request: Request) -> Response:
        resource = orjson.loads(await request.body())
        if resource.get("id") != rid:
            return Response(b'{"resourceType":"OperationOutcome"}', 400, media_type=media)
        write_work(resource)
        data = stamp(resource, rid)
        return Response(data, media_type=media, headers={"ETag": f'W/"{versions[rid]}"'})

    return app


def serve(port: int, floor: str = "none") -> None:
    import uvicorn

    # the same settings as fhir_server/cli.py
    uvicorn.run(
        make_app(floor),
        host="127.0.0.1",
        port=port,
        log_level="info",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


def run_baseline(
    generator: str,
    duration: float,
    concurrencies: list[int],
    warmup: float,
    wrk_threads: int = 1,
    loadgen_processes: int = 1,
    log: Any = print,
    quiet: tuple[float, float] | None = None,
    floor: str = "none",
) -> list[dict[str, Any]]:
    """The trivial endpoint and the stub CRUD at each concurrency; one result per phase."""
    import benchlib

    results: list[dict[str, Any]] = []
    for conc in concurrencies:
        port = benchlib.free_port()
        with tempfile.TemporaryDirectory(prefix="bench-baseline-") as tmp:
            work = Path(tmp)
            server = benchlib.Server(
                [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "serve",
                    "--port",
                    str(port),
                    "--floor",
                    floor,
                ],
                port,
                work / "server.log",
                "/metadata",
            )
            with server:
                kw = {
                    "wrk_threads": wrk_threads,
                    "loadgen_processes": loadgen_processes,
                    "quiet": quiet,
                }
                if warmup > 0:
                    benchlib.measured_phase(server, generator, "trivial", warmup, conc, **kw)
                trivial = benchlib.measured_phase(
                    server, generator, "trivial", duration, conc, **kw
                )
                log(benchlib.format_row(trivial))
                trivial_dict = benchlib.measured_phase(
                    server, generator, "trivial_dict", duration, conc, **kw
                )
                log(benchlib.format_row(trivial_dict, "triv_dict"))
                seq = benchlib.crud_sequence(
                    server,
                    generator,
                    duration,
                    conc,
                    work,
                    warmup=warmup,
                    verify=False,
                    log=log,
                    **kw,
                )
                rss = server.peak_rss_kb()
            for r in [trivial, trivial_dict, *seq["phases"]]:
                r["server"] = "baseline_trivial"
                r["floor"] = floor
                r["server_peak_rss_kb"] = rss
                results.append(r)
            for p in seq["problems"]:
                if not p.startswith("create: GET /Patient/_history"):
                    log(f"  PROBLEM: {p}")
    return results


def main() -> None:
    import benchlib

    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        ap = argparse.ArgumentParser()
        ap.add_argument("serve")
        ap.add_argument("--port", type=int, required=True)
        ap.add_argument("--floor", choices=FLOORS, default="none")
        served = ap.parse_args()
        serve(served.port, served.floor)
        return
    ap = argparse.ArgumentParser(description="trivial FastAPI baseline (the ceiling)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    ap.add_argument("--concurrency", default="32", help="connections; a list like 16,32,64")
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto")
    ap.add_argument("--wrk-threads", type=int, default=1)
    ap.add_argument("--loadgen-processes", type=int, default=1)
    ap.add_argument("--quiet-limit", type=float, default=15.0)
    ap.add_argument("--quiet-wait", type=float, default=60.0)
    ap.add_argument(
        "--floor",
        choices=FLOORS,
        default="none",
        help="the stub's writes also validate (validate), and extract index entries (index)",
    )
    args = ap.parse_args()
    generator = benchlib.choose_generator(args.generator)
    facts = benchlib.machine_facts(generator)
    benchlib.print_facts(facts)
    print(
        f"baseline: trivial FastAPI app, one uvicorn process, {args.duration:.0f}s per phase,"
        f" writes: {args.floor if args.floor != 'none' else 'parse and keep'}"
    )
    print(benchlib.HEADER)
    results = run_baseline(
        generator,
        args.duration,
        benchlib.parse_concurrency(args.concurrency),
        args.warmup,
        args.wrk_threads,
        args.loadgen_processes,
        quiet=(args.quiet_limit, args.quiet_wait) if args.quiet_wait > 0 else None,
        floor=args.floor,
    )
    path = benchlib.write_results(
        "baseline", {"machine": facts, "results": results, "duration_s": args.duration}
    )
    print(f"figures written to {path.relative_to(benchlib.ROOT)}")


if __name__ == "__main__":
    main()
