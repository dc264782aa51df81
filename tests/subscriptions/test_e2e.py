"""Real server processes: kill -9 mid-delivery loses nothing; websocket apps get notified."""

from __future__ import annotations

import json
from collections.abc import Iterator
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

ENV = {
    "FHIR_SERVER_SUBSCRIPTION_ENDPOINT_HOSTS": '["127.0.0.1"]',
    "FHIR_SERVER_SUBSCRIPTION_RETRY_BASE": "0.05",
    "FHIR_SERVER_SUBSCRIPTION_RETRY_MAX": "0.5",
    # a killed server's delivery leases lapse after this: its successor then delivers
    "FHIR_SERVER_SUBSCRIPTION_LEASE_SECONDS": "2",
}


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


def _setup(http: httpx.Client, body: dict) -> str:
    topic = {**communication_topic(), "id": "test-communication"}
    assert http.put("/Basic/test-communication", json=topic).is_success
    response = http.post("/Subscription", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.mark.e2e
def test_kill_9_mid_delivery_then_restart_delivers_every_event(
    tmp_path: Path, hook: Receiver
) -> None:
    server = ServerProcess(tmp_path / "data", **ENV).start()
    written: list[str] = []
    try:
        with httpx.Client(base_url=server.base, timeout=10) as http:
            _setup(http, subscription(COMMUNICATION_TOPIC, hook.url, "id-only"))
            hook.wait_for(lambda r: len(r.bundles()) >= 1, what="handshake")
            hook.delay = 0.05  # a slow receiver: events queue up behind it
            for i in range(40):
                response = http.post("/Communication", json=communication("Organization/x", f"{i}"))
                assert response.status_code == 201
                written.append(response.json()["id"])
            hook.wait_for(lambda r: len(r.events()) >= 5, what="some events")
    finally:
        server.kill()
    before = len(hook.events())
    assert before < 40, "the kill came too late to test anything"
    hook.delay = 0.0
    restarted = ServerProcess(tmp_path / "data", **ENV).start()
    try:
        hook.wait_for(lambda r: len(set(r.events())) >= 40, what="all 40 events", timeout=30)
    finally:
        restarted.stop()
    received = hook.events()
    first_seen = list(dict.fromkeys(received))
    assert first_seen == list(range(1, 41)), received  # no gap, first deliveries in order
    focus = {}
    for bundle in hook.bundles():
        for number, parts in zip(
            event_numbers(bundle), status_of(bundle).get("notification-event", []), strict=True
        ):
            focus[number] = parts[2]["valueReference"]["reference"].rsplit("/", 1)[1]
    assert [focus[n] for n in range(1, 41)] == written


@pytest.mark.e2e
@pytest.mark.parametrize(
    "worker_process",
    # beside a rest-hook worker process, the server matches for its websocket subscriptions
    ["false", pytest.param("true", marks=pytest.mark.sqlite_only)],
)
def test_websocket_app_binds_and_receives_notifications(
    tmp_path: Path, worker_process: str
) -> None:
    env = {**ENV, "FHIR_SERVER_SUBSCRIPTION_PROCESS": worker_process}
    server = ServerProcess(tmp_path / "data", **env).start()
    try:
        with httpx.Client(base_url=server.base, timeout=10) as http:
            body = subscription(COMMUNICATION_TOPIC, "", "full-resource", channel="websocket")
            body["channel"].pop("endpoint")
            sid = _setup(http, body)
            # an event before any app is bound waits for one
            early = http.post("/Communication", json=communication("Organization/x", "early"))
            url, value = binding(http, sid)
            assert url == f"ws://127.0.0.1:{server.port}/websocket"
            with connect(url, open_timeout=5) as socket:
                socket.send("bind-with-token: nonsense")
                assert socket.recv(timeout=5).startswith("error")
                socket.send(f"bind-with-token: {value}")
                handshake = json.loads(socket.recv(timeout=5))
                assert status_of(handshake)["type"] == "handshake"
                first = json.loads(socket.recv(timeout=5))
                assert event_numbers(first) == [1]
                assert first["entry"][1]["resource"]["id"] == early.json()["id"]
                later = http.post("/Communication", json=communication("Organization/x", "late"))
                second = json.loads(socket.recv(timeout=5))
                assert event_numbers(second) == [2]
                assert second["entry"][1]["resource"]["id"] == later.json()["id"]
                socket.send("ping")
                assert socket.recv(timeout=5) == "pong"
            # the token was used up
            with connect(url, open_timeout=5) as socket:
                socket.send(f"bind-with-token: {value}")
                assert socket.recv(timeout=5).startswith("error")
    finally:
        server.stop()
