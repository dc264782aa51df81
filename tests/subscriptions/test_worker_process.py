"""The rest-hook delivery worker process on the SQLite store (subscriptions/worker.py), with
real server processes and a real receiver: it delivers, it is replaced when killed, it
leaves when its server is killed, and nothing is lost or reordered meanwhile."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from tests.subscriptions.receiver import Receiver, event_numbers, receiver, status_of
from tests.subscriptions.sockets import binding
from tests.subscriptions.topics import (
    COMMUNICATION_TOPIC,
    communication,
    communication_topic,
    subscription,
)
from tests.support.server_process import ServerProcess

# the worker process is the SQLite store's: the PostgreSQL pass leaves these out
pytestmark = [pytest.mark.e2e, pytest.mark.sqlite_only]

ENV = {
    "FHIR_SERVER_SUBSCRIPTION_ENDPOINT_HOSTS": '["127.0.0.1"]',
    "FHIR_SERVER_SUBSCRIPTION_RETRY_BASE": "0.05",
    "FHIR_SERVER_SUBSCRIPTION_RETRY_MAX": "0.5",
    "FHIR_SERVER_SUBSCRIPTION_LEASE_SECONDS": "2",
    "FHIR_SERVER_SUBSCRIPTION_PROCESS": "true",
}
EVENTS = 40


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


def _ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def workers_of(server: ServerProcess) -> list[int]:
    """Live `subscriptions-worker` processes the server started."""
    assert server.proc is not None
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or _ppid(int(entry.name)) != server.proc.pid:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"subscriptions-worker" in cmdline and _alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def worker_of(server: ServerProcess, timeout: float = 30.0, other_than: int = 0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = [pid for pid in workers_of(server) if pid != other_than]
        if len(pids) == 1:
            return pids[0]
        time.sleep(0.05)
    raise AssertionError(f"no single worker process of {server.proc}: {workers_of(server)}")


def lease_holder(data_dir: Path, sid: str) -> int | None:
    """The pid of the process holding the subscription's delivery lease (host:pid:nonce)."""
    with sqlite3.connect(f"file:{data_dir / 'fhir.sqlite3'}?mode=ro", uri=True) as conn:
        conn.execute("PRAGMA busy_timeout=5000")
        row = conn.execute(
            "SELECT owner FROM subscription_lease WHERE id = ? AND until > ?", (sid, time.time())
        ).fetchone()
    return None if row is None else int(row[0].split(":")[-2])


def _setup(http: httpx.Client, hook: Receiver) -> str:
    topic = {**communication_topic(), "id": "test-communication"}
    assert http.put("/Basic/test-communication", json=topic).is_success
    response = http.post(
        "/Subscription", json=subscription(COMMUNICATION_TOPIC, hook.url, "id-only")
    )
    assert response.status_code == 201, response.text
    hook.wait_for(lambda r: len(r.bundles()) >= 1, what="handshake", timeout=60)
    return str(response.json()["id"])


def _write(http: httpx.Client, count: int) -> list[str]:
    written = []
    for i in range(count):
        response = http.post("/Communication", json=communication("Organization/x", f"{i}"))
        assert response.status_code == 201, response.text
        written.append(response.json()["id"])
    return written


def _assert_all_in_order(hook: Receiver, written: list[str]) -> None:
    received = hook.events()
    first_seen = list(dict.fromkeys(received))
    assert first_seen == list(range(1, len(written) + 1)), received  # no gap, in order
    focus = {}
    for bundle in hook.bundles():
        for number, parts in zip(
            event_numbers(bundle), status_of(bundle).get("notification-event", []), strict=True
        ):
            focus[number] = parts[2]["valueReference"]["reference"].rsplit("/", 1)[1]
    assert [focus[n] for n in range(1, len(written) + 1)] == written


def test_the_worker_process_delivers_rest_hooks(
    tmp_path: Path, hook: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without FHIR_SERVER_SUBSCRIPTION_PROCESS (the default on SQLite), as a fresh
    install runs: the server starts the worker and the worker sends."""
    monkeypatch.delenv("FHIR_SERVER_SUBSCRIPTION_PROCESS", raising=False)
    default = {k: v for k, v in ENV.items() if k != "FHIR_SERVER_SUBSCRIPTION_PROCESS"}
    server = ServerProcess(tmp_path / "data", **default).start()
    try:
        worker = worker_of(server)
        assert server.proc is not None and worker != server.proc.pid
        with httpx.Client(base_url=server.base, timeout=10) as http:
            sid = _setup(http, hook)
            written = _write(http, 10)
            hook.wait_for(lambda r: len(set(r.events())) >= 10, what="10 events", timeout=30)
            # the sender is the process holding the delivery lease: the worker, not the server
            assert lease_holder(server.data_dir, sid) == worker
            assert http.get(f"/Subscription/{sid}").json()["status"] == "active"
        _assert_all_in_order(hook, written)
    finally:
        server.stop()
    assert not _alive(worker), "the worker outlived its server's stop"


def test_kill_9_of_the_worker_mid_delivery_loses_nothing(tmp_path: Path, hook: Receiver) -> None:
    # leases far longer than the test waits: the server releases the dead worker's leases,
    # the next worker does not wait for them to run out
    env = {**ENV, "FHIR_SERVER_SUBSCRIPTION_LEASE_SECONDS": "60"}
    server = ServerProcess(tmp_path / "data", **env).start()
    try:
        first = worker_of(server)
        with httpx.Client(base_url=server.base, timeout=10) as http:
            sid = _setup(http, hook)
            hook.delay = 0.05  # a slow receiver: events queue up behind it
            written = _write(http, EVENTS)
            hook.wait_for(lambda r: len(r.events()) >= 5, what="some events")
            os.kill(first, signal.SIGKILL)
            before = len(set(hook.events()))
            assert before < EVENTS, "the kill came too late to test anything"
            second = worker_of(server, other_than=first)  # the server started another
            hook.delay = 0.0
            hook.wait_for(lambda r: len(set(r.events())) >= EVENTS, what="all events", timeout=40)
            assert lease_holder(server.data_dir, sid) == second
        _assert_all_in_order(hook, written)
    finally:
        server.stop()


def test_kill_9_of_the_server_ends_its_worker_and_a_restart_delivers_the_rest(
    tmp_path: Path, hook: Receiver
) -> None:
    server = ServerProcess(tmp_path / "data", **ENV).start()
    try:
        worker = worker_of(server)
        with httpx.Client(base_url=server.base, timeout=10) as http:
            _setup(http, hook)
            hook.delay = 0.05
            written = _write(http, EVENTS)
            hook.wait_for(lambda r: len(r.events()) >= 5, what="some events")
    finally:
        server.kill()
    deadline = time.monotonic() + 15
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(worker), "the worker outlived its killed server"
    assert len(set(hook.events())) < EVENTS, "the kill came too late to test anything"
    hook.delay = 0.0
    restarted = ServerProcess(tmp_path / "data", **ENV).start()
    try:
        hook.wait_for(lambda r: len(set(r.events())) >= EVENTS, what="all events", timeout=60)
    finally:
        restarted.stop()
    _assert_all_in_order(hook, written)


def test_a_write_burst_while_the_worker_writes_gets_no_errors(
    tmp_path: Path, hook: Receiver
) -> None:
    """The worker writes too (numbers, delivered marks, leases, the status it shows on the
    Subscription while the receiver fails and recovers): the server's writes wait for the
    store's lock, and no client sees a 500 or 503."""
    server = ServerProcess(tmp_path / "data", **ENV).start()
    try:
        with httpx.Client(base_url=server.base, timeout=30) as http:
            _setup(http, hook)
            hook.fail_next = 8  # failures (error after 5): the worker writes statuses, retries
            writes = 400

            def post(i: int) -> int:
                body = communication("Organization/x", f"burst {i}")
                return http.post("/Communication", json=body).status_code

            with ThreadPoolExecutor(8) as pool:
                codes = list(pool.map(post, range(writes)))
            assert codes == [201] * writes, {c: codes.count(c) for c in set(codes)}
            hook.wait_for(lambda r: len(set(r.events())) >= writes, what="all", timeout=90)
            assert list(dict.fromkeys(hook.events())) == list(range(1, writes + 1))
    finally:
        server.stop()


def test_websocket_notifications_go_on_while_the_worker_is_stopped(tmp_path: Path) -> None:
    """The server leaves numbering to its worker; a worker that stops keeping up (here:
    SIGSTOP) leaves it to the server after a second, and once it runs again it numbers
    nothing twice."""
    server = ServerProcess(tmp_path / "data", **ENV).start()
    worker = 0
    try:
        with httpx.Client(base_url=server.base, timeout=10) as http:
            topic = {**communication_topic(), "id": "test-communication"}
            assert http.put("/Basic/test-communication", json=topic).is_success
            body = subscription(COMMUNICATION_TOPIC, "", "id-only", channel="websocket")
            body["channel"].pop("endpoint")
            response = http.post("/Subscription", json=body)
            assert response.status_code == 201, response.text
            url, token = binding(http, response.json()["id"])
            with connect(url, open_timeout=5) as socket:
                socket.send(f"bind-with-token: {token}")
                assert status_of(json.loads(socket.recv(timeout=5)))["type"] == "handshake"
                numbers = []

                def notified(text: str) -> None:
                    response = http.post(
                        "/Communication", json=communication("Organization/x", text)
                    )
                    assert response.status_code == 201
                    numbers.extend(event_numbers(json.loads(socket.recv(timeout=10))))

                notified("while the worker runs")
                worker = worker_of(server)
                os.kill(worker, signal.SIGSTOP)
                started = time.monotonic()
                notified("while it is stopped")
                assert time.monotonic() - started < 5
                os.kill(worker, signal.SIGCONT)
                worker = 0
                notified("once it runs again")
                notified("and after")
                with pytest.raises(TimeoutError):
                    socket.recv(timeout=1.5)  # nothing numbered twice comes
                assert numbers == [1, 2, 3, 4]
    finally:
        if worker:
            os.kill(worker, signal.SIGCONT)
        server.stop()
