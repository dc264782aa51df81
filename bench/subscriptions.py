"""Subscription delivery: notification latency and what subscriptions cost writes.

    python bench/subscriptions.py [--duration 10] [--subscriptions 100] [--rate 200]
                                  [--concurrency 16] [--rounds 3]
                                  [--subscription-process on|off]

Starts one real server process (deliveries allowed to 127.0.0.1) and one receiver
process (a threaded HTTP server that notes when each notification arrived), then:

  1. writes  POST /Communication as fast as --concurrency connections go, no subscriptions
  2. writes  the same with --subscriptions active topic-based rest-hook subscriptions
             (id-only, each filtered on its own recipient municipality; every write
             matches exactly one subscription)
  3. paced   POST /Communication at --rate writes/s with the subscriptions active

1 and 2 alternate, --rounds times 2, 1 first and last (1 2 1 2 1 2 1: the subscriptions
are created before each 2, and deleted after it once its notifications arrived). Each 2
is set against the mean of the two 1s either side, and the median of those changes is
the figure: this machine's speed drifts by more than the effect between two phases.

It prints write throughput for 1 and 2, and for 3 the delivered notifications/s and the
latency from commit to receipt (p50/p99): receipt time at the receiver minus the event's
timestamp in the notification (the instant the version was stored, taken inside the
write's transaction, on the same machine's clock). Notifications still arriving after
the load stops are waited for (up to 30 s) and counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # the fhir_server package

import benchlib
import httpx
import loadgen
import orjson

from fhir_server.cli import serve_command

TOPIC = "http://example.org/fhir/SubscriptionTopic/bench-communication"
R5 = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic."
R4B = "http://hl7.org/fhir/4.3/StructureDefinition/extension-SubscriptionTopic."
BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"


# the receiver process ---------------------------------------------------------------------


def run_receiver(port: int, out: Path) -> None:
    """An aiohttp server on uvloop: receiving must cost the shared 2 cores little, so
    that the figures are the FHIR server's and not the receiver's."""
    import uvloop
    from aiohttp import web

    sink = open(out, "a", buffering=1)  # noqa: SIM115 - open for the process's life

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        now = time.time()
        try:
            parameters = json.loads(body)["entry"][0]["resource"]["parameter"]
        except (ValueError, KeyError, IndexError):
            return web.Response()
        kind = next(p["valueCode"] for p in parameters if p["name"] == "type")
        sub = next(
            p["valueReference"]["reference"] for p in parameters if p["name"] == "subscription"
        )
        for p in parameters:
            if p["name"] == "notification-event" and kind == "event-notification":
                at = next(x["valueInstant"] for x in p["part"] if x["name"] == "timestamp")
                number = next(x["valueString"] for x in p["part"] if x["name"] == "event-number")
                sink.write(f"{now} {at} {sub}#{number}\n")
        return web.Response()

    app = web.Application()
    app.router.add_post("/{tail:.*}", hook)
    uvloop.install()
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# load -----------------------------------------------------------------------------------


def topic() -> dict[str, Any]:
    return {
        "resourceType": "Basic",
        "id": "bench-communication",
        "modifierExtension": [{"url": R5 + "status", "valueCode": "active"}],
        "extension": [
            {"url": R5 + "url", "valueUri": TOPIC},
            {
                "url": R4B + "resourceTrigger",
                "extension": [
                    {"url": "resource", "valueUri": "Communication"},
                    {"url": "supportedInteraction", "valueCode": "create"},
                    {"url": "supportedInteraction", "valueCode": "update"},
                ],
            },
            {
                "url": R4B + "canFilterBy",
                "extension": [
                    {"url": "resource", "valueUri": "Communication"},
                    {"url": "filterParameter", "valueString": "recipient"},
                ],
            },
        ],
        "code": {
            "coding": [{"system": "http://hl7.org/fhir/fhir-types", "code": "SubscriptionTopic"}]
        },
    }


def subscription(endpoint: str, kommun: str) -> dict[str, Any]:
    return {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "bench",
        "criteria": TOPIC,
        "_criteria": {
            "extension": [
                {
                    "url": BACKPORT + "backport-filter-criteria",
                    "valueString": f"Communication?recipient=Organization/{kommun}",
                }
            ]
        },
        "channel": {
            "type": "rest-hook",
            "endpoint": endpoint,
            "payload": "application/fhir+json",
            "_payload": {
                "extension": [
                    {"url": BACKPORT + "backport-payload-content", "valueCode": "id-only"}
                ]
            },
        },
    }


def communication(i: int, recipients: int) -> dict[str, Any]:
    return {
        "resourceType": "Communication",
        "status": "completed",
        "category": [
            {"coding": [{"system": "http://example.org/lus", "code": "inskrivningsmeddelande"}]}
        ],
        "recipient": [{"reference": f"Organization/kommun-{i % max(recipients, 1):04d}"}],
        "payload": [{"contentString": f"Meddelande {i}"}],
    }


async def write_load(
    base: str, duration: float, concurrency: int, recipients: int, rate: float | None
) -> tuple[int, int, float]:
    """Writes for `duration` seconds; paced to `rate` per second when given.

    Raw keep-alive HTTP/1.1 (loadgen.py's): an httpx client cost this process so much CPU
    per request that, beside the server on 2 cores, it fell behind a 200/s pace (160-170
    writes/s were sent)."""
    counter = 0  # writes begun (a paced worker past the end takes a number, sends none)
    sent = 0
    errors = 0
    start = time.monotonic()
    end = start + duration
    parts = urlsplit(base)
    host = parts.netloc

    async def worker() -> None:
        nonlocal counter, sent, errors
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            while True:
                now = time.monotonic()
                if now >= end:
                    return
                i = counter
                counter += 1
                if rate is not None:
                    due = start + i / rate
                    if due > now:
                        await asyncio.sleep(due - now)
                    if due >= end:
                        return
                body = orjson.dumps(communication(i, recipients))
                writer.write(loadgen.request_bytes("POST", "/Communication", host, body))
                status, _, _ = await asyncio.wait_for(loadgen.read_response(reader), 30)
                sent += 1
                if status != 201:
                    errors += 1
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return sent - errors, errors, time.monotonic() - start


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--subscriptions", type=int, default=100)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--rounds", type=int, default=3, help="phases 2, each between two phases 1 (1 2 1 2 … 1)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="sample the server with py-spy in phases 1 and 2"
    )
    parser.add_argument(
        "--subscription-process",
        choices=("on", "off"),
        default="on",
        help="rest-hook delivery in the server's worker process (FHIR_SERVER_SUBSCRIPTION_PROCESS;"
        " on: the server's default on SQLite)",
    )
    parser.add_argument("--receiver", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--receiver-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        run_receiver(args.receiver, args.receiver_out)
        return

    work = Path(tempfile.mkdtemp(prefix="bench-subs-"))
    receipts = work / "receipts.txt"
    receipts.touch()
    receiver_port = benchlib.free_port()
    receiver = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--receiver",
            str(receiver_port),
            "--receiver-out",
            str(receipts),
        ]
    )
    os.environ["FHIR_SERVER_SUBSCRIPTION_ENDPOINT_HOSTS"] = '["127.0.0.1"]'
    os.environ["FHIR_SERVER_LOG_LEVEL"] = "warning"
    os.environ["FHIR_SERVER_SUBSCRIPTION_PROCESS"] = str(args.subscription_process == "on").lower()
    port = benchlib.free_port()
    server = benchlib.Server(
        serve_command(port, work / "data"), port, work / "server.log", "/metadata"
    )
    server.start()
    try:
        base = server.base
        print(f"server {base}, receiver :{receiver_port}, data in {work}")
        with httpx.Client(base_url=base, timeout=30) as http:
            assert http.put("/Basic/bench-communication", json=topic()).is_success
        endpoint = f"http://127.0.0.1:{receiver_port}/hook"
        # phases 1 and 2 alternate, 1 first and last: each 2 is set against the mean of the
        # 1s either side of it, so that the machine drifting (other load, CPU clocks)
        # between two phases does not pass for what the subscriptions cost
        without: list[float] = []
        with_subs: list[float] = []
        ok = 0
        for round_ in range(args.rounds + 1):
            time.sleep(_SETTLE_SECONDS)
            ok, errors, took = _phase(args, server, work, "no-subscriptions")
            without.append(ok / took)
            print(
                f"1. writes, no subscriptions:        {without[-1]:8.1f} writes/s ({errors} errors)"
            )
            if round_ == args.rounds:
                break
            sids = _subscribe(base, endpoint, args.subscriptions)
            mark = _count(receipts)
            time.sleep(_SETTLE_SECONDS)
            ok, errors, took = _phase(args, server, work, "subscriptions")
            with_subs.append(ok / took)
            change = with_subs[-1] / without[-1] - 1
            print(
                f"2. writes, {args.subscriptions} subscriptions:      {with_subs[-1]:8.1f} writes/s"
                f" ({errors} errors; {100 * change:+.1f} % against the 1 before)"
            )
            _drain(receipts, mark + ok, timeout=120)  # its notifications, before the next 1
            _unsubscribe(base, sids)
        changes = [b / ((without[n] + without[n + 1]) / 2) - 1 for n, b in enumerate(with_subs)]
        print(
            f"   with {args.subscriptions} subscriptions, throughput changed by"
            f" {', '.join(f'{100 * c:+.1f}' for c in changes)} % (each against the mean of the"
            f" 1s either side); median {100 * statistics.median(changes):+.1f} %"
        )
        _subscribe(base, endpoint, args.subscriptions)
        repeated = _repeats(receipts)
        if repeated:
            print(f"   {repeated} notifications of phase 2 repeated an event (at least once)")
        mark, mark_lines = _count(receipts), len(_lines(receipts))
        ok, errors, took = asyncio.run(
            write_load(base, args.duration, args.concurrency, args.subscriptions, args.rate)
        )
        got = _drain(receipts, mark + ok, timeout=30) - mark
        latencies = _latencies(receipts, mark_lines)
        first, last = _span(receipts, mark_lines)
        print(
            f"3. paced {ok / took:6.1f} writes/s, {args.subscriptions} subscriptions:"
            f" {got} of {ok} notified, {got / max(last - first, 1e-9):.1f} notifications/s,"
            f" latency commit→receipt p50 {1000 * percentile(latencies, 50):.1f} ms"
            f" p99 {1000 * percentile(latencies, 99):.1f} ms"
            f" max {1000 * max(latencies, default=0):.1f} ms"
        )
        if _repeats(receipts) > repeated:
            print(f"   {_repeats(receipts) - repeated} notifications of phase 3 repeated an event")
    finally:
        server.stop()
        receiver.terminate()
        receiver.wait(timeout=10)


# before each phase: what the one before left to do (log checkpoints, the deleted
# subscriptions' events) is done by then, not charged to the next
_SETTLE_SECONDS = 3.0


def _subscribe(base: str, endpoint: str, count: int) -> list[str]:
    """`count` subscriptions, each on its own municipality; their ids once all are active."""
    sids = []
    with httpx.Client(base_url=base, timeout=30) as http:
        for k in range(count):
            response = http.post("/Subscription", json=subscription(endpoint, f"kommun-{k:04d}"))
            assert response.status_code == 201, response.text
            sids.append(response.json()["id"])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # every handshake done
            bundle = http.get("/Subscription/$status", params={"status": "active"}).json()
            if bundle.get("total") == count:
                return sids
            time.sleep(0.2)
    raise SystemExit("subscriptions did not all become active")


def _unsubscribe(base: str, sids: list[str]) -> None:
    with httpx.Client(base_url=base, timeout=30) as http:
        for sid in sids:
            assert http.delete(f"/Subscription/{sid}").status_code in (200, 204)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the server has stopped them
            bundle = http.get("/Subscription/$status", params={"status": "active"}).json()
            if not bundle.get("total"):
                return
            time.sleep(0.2)
    raise SystemExit("subscriptions deleted did not stop")


def _phase(
    args: argparse.Namespace, server: benchlib.Server, work: Path, name: str
) -> tuple[int, int, float]:
    """Writes as fast as the connections go; with --profile, the server sampled meanwhile."""
    spy = None
    if args.profile:
        spy = benchlib._start_py_spy(server.pid, args.duration, work / f"{name}.pyspy.txt")
    cpu = server.cpu_seconds()
    worker_cpu = _worker_cpu_seconds(server.pid)
    busy = benchlib.machine_busy_seconds()
    if benchlib.wrk_path() is not None:  # a generator in C: the server is what is measured
        os.environ["BENCH_RECIPIENTS"] = str(args.subscriptions)
        r = benchlib.run_phase("wrk", server.base, "communication", args.duration, args.concurrency)
        result = (r["ok_2xx"], r["errors"], r["duration_s"])
    else:
        result = asyncio.run(
            write_load(server.base, args.duration, args.concurrency, args.subscriptions, None)
        )
    cpu = server.cpu_seconds() - cpu
    worker_cpu = _worker_cpu_seconds(server.pid) - worker_cpu
    busy = benchlib.machine_busy_seconds() - busy
    print(
        f"   server CPU {1000 * cpu / max(result[0], 1):.2f} ms per write ({name});"
        f" server {100 * cpu / result[2]:.0f} %, machine {100 * busy / result[2]:.0f} %"
        f" of one core ({os.cpu_count()} cores)"
    )
    if worker_cpu:
        print(
            f"   subscription worker process CPU {1000 * worker_cpu / max(result[0], 1):.2f} ms"
            f" per write ({100 * worker_cpu / result[2]:.0f} % of one core)"
        )
    if spy is not None:
        prof = benchlib._finish_py_spy(*spy)
        print(f"   profile of {name} ({prof.get('samples')} samples, {prof.get('file')}):")
        for share, frame in prof.get("inclusive", []):
            print(f"     {share:5.1f}%  {frame}")
    return result


def _worker_cpu_seconds(server_pid: int) -> float:
    """user+system CPU so far of the server's subscriptions-worker processes (0: none)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) != server_pid:
                continue
            if b"subscriptions-worker" not in (entry / "cmdline").read_bytes():
                continue
            total += (int(fields[11]) + int(fields[12])) / ticks
        except (OSError, IndexError, ValueError):
            continue
    return total


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _count(path: Path) -> int:
    """Events received, each once (a repeat, which at-least-once allows, counts once)."""
    return len({line.rsplit(" ", 1)[1] for line in _lines(path)})


def _repeats(path: Path) -> int:
    """Notifications of an event received before."""
    lines = _lines(path)
    return len(lines) - len({line.rsplit(" ", 1)[1] for line in lines})


def _drain(path: Path, wanted: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    count = _count(path)
    while count < wanted and time.monotonic() < deadline:
        time.sleep(0.2)
        count = _count(path)
    return count


def _parsed(path: Path, skip: int) -> list[tuple[float, float]]:
    out = []
    for line in _lines(path)[skip:]:
        received, at, _ = line.split(" ")
        stamp = datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()
        out.append((float(received), stamp))
    return out


def _latencies(path: Path, skip: int) -> list[float]:
    return [received - at for received, at in _parsed(path, skip)]


def _span(path: Path, skip: int) -> tuple[float, float]:
    times = [received for received, _ in _parsed(path, skip)]
    return (min(times), max(times)) if times else (0.0, 0.0)


if __name__ == "__main__":
    main()
