"""The cost of security per request: token verification, scope checks and the PDL audit.

    python bench/auth.py [--duration 10] [--concurrency 32] [--patients 500]

Three real server processes in turn, each on a fresh data directory, each seeded with the
same number of Patients, then read with wrk (GET /Patient/{id}, random ids, keep-alive):

  off     FHIR_SERVER_INSECURE_NO_AUTH=true (no token, no audit)
  tokens  security on, audit off (FHIR_SERVER_AUDIT_ENABLED=false): a Bearer token on
          every request (minted with `fhir-server token`, system/*.cruds, no organisation)
  audit   security on with the audit trail: every read also queues an AuditEvent, written
          in batches by the server

Per configuration: req/s, p50/p99 and the server's CPU per request (µs; CPU time is the
robust figure on a shared machine). The cost of security is the difference in CPU per
request against `off`. Before that, in process: verifying one token (RSA, uncached), a
repeat of it (the verifier's cache), and building one AuditEvent.

Then an organisation-scoped search, in process on the secured embedded store
(`--org-resources`, default 10 000: Patients, one stay each, Observations; `--org-visible`,
default 5 %, of the patients have their stay at the caller's ward): the first page
(`_count=50`, with total) of Encounter, Observation and Patient for a token of that ward,
p50/p95 over `--org-rounds`, with the entries and the total it answered. `--org-only` runs
just this part (bench/README.md: how to compare with an older commit).
Figures go to bench/results/auth-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

import benchlib
import patients

from fhir_server.cli import serve_command

CONFIGS: dict[str, dict[str, str]] = {
    "off": {"FHIR_SERVER_INSECURE_NO_AUTH": "true"},
    "tokens": {"FHIR_SERVER_INSECURE_NO_AUTH": "false", "FHIR_SERVER_AUDIT_ENABLED": "false"},
    "audit": {"FHIR_SERVER_INSECURE_NO_AUTH": "false", "FHIR_SERVER_AUDIT_ENABLED": "true"},
}


def in_process_figures(rounds: int = 2000) -> dict[str, float]:
    from fhir_server.audit.events import Access, audit_event
    from fhir_server.auth.keys import load_or_create
    from fhir_server.auth.tokens import Verifier, mint
    from fhir_server.storage.port import RequestContext

    with tempfile.TemporaryDirectory() as tmp:
        key = load_or_create(Path(tmp) / "key.json")
    base = "http://127.0.0.1:8080"
    tokens = [mint(key, base, "bench", ["system/*.cruds"], "0180", 300) for _ in range(rounds)]
    verifier = Verifier(key, [], [], "organisation")
    t0 = time.perf_counter()
    for token in tokens:
        verifier.verify(token, base)
    uncached = (time.perf_counter() - t0) / rounds * 1e6
    t0 = time.perf_counter()
    for token in tokens:
        verifier.verify(token, base)
    cached = (time.perf_counter() - t0) / rounds * 1e6
    ctx = RequestContext(
        principal="bench", organisation="0180", client_ip="127.0.0.1", enforced=True,
        interaction="read", target="/Patient/abc",
    )  # fmt: skip
    access = Access(["Patient/abc/_history/1"], {"abc"})
    t0 = time.perf_counter()
    for _ in range(rounds):
        audit_event(ctx, access)
    event = (time.perf_counter() - t0) / rounds * 1e6
    return {"verify_uncached_us": uncached, "verify_cached_us": cached, "audit_event_us": event}


def org_search_figures(resources: int, visible_share: float, rounds: int) -> dict[str, Any]:
    """Organisation-scoped searches in process (see the module's docstring)."""
    import asyncio

    return asyncio.run(_org_search(resources, visible_share, rounds))


async def _org_search(resources: int, visible_share: float, rounds: int) -> dict[str, Any]:
    from fhir_server.auth.storage import SecuredStorage
    from fhir_server.config import Settings
    from fhir_server.definitions.loader import load_definitions
    from fhir_server.storage.configured import storage_for
    from fhir_server.storage.port import NewVersion, RequestContext

    hsa = "urn:oid:1.2.752.29.4.19"
    observations_each = 8  # a patient, its stay, its observations
    patients_count = max(1, resources // (2 + observations_each))
    rng = random.Random(11)
    with tempfile.TemporaryDirectory(prefix="bench-org-") as tmp:
        definitions = load_definitions()
        inner = storage_for(Settings(data_dir=Path(tmp), insecure_no_auth=False), definitions)
        storage = SecuredStorage(inner, definitions, audit=False)
        await storage.start()
        try:
            items: list[NewVersion] = []

            def add(resource: dict[str, Any]) -> None:
                rid = resource["id"]
                resource_type = resource["resourceType"]
                items.append(NewVersion(resource_type, rid, resource, "PUT", inner.index(resource)))

            for org in ("ward", "other"):
                value = "SE-BENCH-WARD" if org == "ward" else "SE-BENCH-OTHER"
                add({"resourceType": "Organization", "id": org,
                     "identifier": [{"system": hsa, "value": value}]})  # fmt: skip
            visible = set(rng.sample(range(patients_count), int(patients_count * visible_share)))
            for n in range(patients_count):
                add({"resourceType": "Patient", "id": f"p{n}", "name": [{"family": f"F{n}"}]})
                provider = "ward" if n in visible else "other"
                add({"resourceType": "Encounter", "id": f"e{n}", "status": "finished",
                     "class": {"code": "IMP"}, "subject": {"reference": f"Patient/p{n}"},
                     "serviceProvider": {"reference": f"Organization/{provider}"}})  # fmt: skip
                for k in range(observations_each):
                    add({"resourceType": "Observation", "id": f"o{n}-{k}", "status": "final",
                         "code": {"text": "Vikt"},
                         "subject": {"reference": f"Patient/p{n}"}})  # fmt: skip
            await inner.load(RequestContext(), items)
            ctx = RequestContext(
                principal="bench", organisation="SE-BENCH-WARD", enforced=True,
                scopes=frozenset({"system/*.rs"}), interaction="search-type",
            )  # fmt: skip
            out: dict[str, Any] = {
                "resources": len(items),
                "visible_patients": len(visible),
                "patients": patients_count,
            }
            for resource_type in ("Encounter", "Observation", "Patient"):
                times = []
                found = None
                for _ in range(rounds):
                    t0 = time.perf_counter()
                    found = await storage.search(ctx, resource_type, [], count=50)
                    times.append((time.perf_counter() - t0) * 1000)
                assert found is not None
                times.sort()
                out[resource_type] = {
                    "p50_ms": round(times[len(times) // 2], 2),
                    "p95_ms": round(times[min(len(times) - 1, int(len(times) * 0.95))], 2),
                    "entries": len(found.versions),
                    "total": found.total,
                }
            return out
        finally:
            await storage.close()


def print_org_search(figures: dict[str, Any]) -> None:
    print(
        f"organisation-scoped search, {figures['resources']} resources, "
        f"{figures['visible_patients']} of {figures['patients']} patients visible "
        "(first page, _count=50):"
    )
    print(f"  {'type':12} {'p50 ms':>8} {'p95 ms':>8} {'entries':>8} {'total':>6}")
    for resource_type in ("Encounter", "Observation", "Patient"):
        r = figures[resource_type]
        print(
            f"  {resource_type:12} {r['p50_ms']:8.2f} {r['p95_ms']:8.2f} {r['entries']:8d}"
            f" {r['total'] if r['total'] is not None else '-':>6}"
        )


def seed(base: str, count: int, token: str | None) -> list[str]:
    rng = random.Random(7)
    headers = {"Content-Type": "application/fhir+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    ids = []
    for seq in range(count):
        status, body = benchlib.http_request(
            "POST", f"{base}/Patient", patients.patient_bytes(rng, seq), headers
        )
        if status != 201:
            raise RuntimeError(f"seeding: HTTP {status}: {body[:500]!r}")
        ids.append(json.loads(body)["id"])
    return ids


def mint_token(data_dir: Path, base: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "fhir_server", "token", "--subject", "bench",
         "--scope", "system/*.cruds", "--base-url", base, "--data-dir", str(data_dir),
         "--lifetime", "3600"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out.stdout.strip()


def run_config(name: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    port = benchlib.free_port()
    data_dir = work / name / "data"
    data_dir.mkdir(parents=True)
    base = f"http://127.0.0.1:{port}"
    token = None
    if name != "off":
        # a token without organisation: measures tokens and audit, not the org policy
        token = mint_token(data_dir, base)
    server = benchlib.Server(
        serve_command(port, data_dir), port, work / f"{name}.log", "/metadata", CONFIGS[name]
    )
    server.start()
    try:
        ids = seed(base, args.patients, token)
        ids_file = work / f"{name}-ids.txt"
        ids_file.write_text("".join(i + "\n" for i in ids))
        os.environ["BENCH_TOKEN"] = token or ""
        benchlib.measured_phase(server, "wrk", "read_auth", 2, args.concurrency, ids_in=ids_file)
        result = benchlib.measured_phase(
            server, "wrk", "read_auth", args.duration, args.concurrency, ids_in=ids_file,
            quiet=(15.0, 30.0),
        )  # fmt: skip
    finally:
        server.stop()
    cpu_us = result["server_cpu_pct"] / 100 * result["duration_s"] / max(1, result["requests"])
    result["server_cpu_us_per_request"] = round(cpu_us * 1e6, 1)
    result["config"] = name
    return result


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--patients", type=int, default=500)
    ap.add_argument("--org-resources", type=int, default=10_000)
    ap.add_argument("--org-visible", type=float, default=0.05)
    ap.add_argument("--org-rounds", type=int, default=40)
    ap.add_argument("--org-only", action="store_true", help="only the organisation search")
    args = ap.parse_args()
    org = org_search_figures(args.org_resources, args.org_visible, args.org_rounds)
    print_org_search(org)
    if args.org_only:
        path = benchlib.write_results("auth", {"org_search": org})
        print(f"figures written to {path.relative_to(benchlib.ROOT)}")
        return 0
    benchlib.choose_generator("wrk")
    figures = in_process_figures()
    print(
        f"in process: verify a token {figures['verify_uncached_us']:.0f} µs (RSA), "
        f"again {figures['verify_cached_us']:.1f} µs (cached); "
        f"build an AuditEvent {figures['audit_event_us']:.0f} µs"
    )
    print(f"{'config':8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU µs/req':>11} {'errors':>7}")
    work = Path(tempfile.mkdtemp(prefix="bench-auth-"))
    results = []
    try:
        for name in CONFIGS:
            r = run_config(name, args, work)
            results.append(r)
            print(
                f"{name:8} {r['throughput_rps']:8.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
                f"{r['server_cpu_us_per_request']:11.0f} {r['errors']:7d}"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    off = results[0]["server_cpu_us_per_request"]
    for r in results[1:]:
        extra = r["server_cpu_us_per_request"] - off
        print(f"cost of {r['config']}: {extra:+.0f} µs CPU per request")
    path = benchlib.write_results(
        "auth", {"in_process": figures, "runs": results, "org_search": org}
    )
    print(f"figures written to {path.relative_to(benchlib.ROOT)}")
    return 1 if any(r["errors"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
