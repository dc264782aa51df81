"""Topic-based rest-hook subscriptions delivered to a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.subscriptions.receiver import Receiver, event_numbers, status_of
from tests.subscriptions.topics import (
    COMMUNICATION_TOPIC,
    communication,
    subscription,
)


def _subscribe(client: TestClient, body: dict) -> str:
    response = client.post("/Subscription", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_handshake_then_id_only_events_in_order(client: TestClient, hook: Receiver) -> None:
    sid = _subscribe(
        client,
        subscription(
            COMMUNICATION_TOPIC,
            hook.url,
            "id-only",
            filters=("Communication?recipient=Organization/kommun-0880",),
            headers=("Authorization: Bearer abc",),
        ),
    )
    hook.wait_for(lambda r: len(r.bundles()) >= 1, what="handshake")
    handshake = hook.bundles()[0]
    assert handshake["type"] == "history"
    assert status_of(handshake)["type"] == "handshake"
    assert status_of(handshake)["events-since-subscription-start"] == "0"
    assert hook.received[0].headers["Authorization"] == "Bearer abc"
    assert hook.received[0].headers["Content-Type"].startswith("application/fhir+json")
    ids = []
    for i in range(5):
        ids.append(
            client.post(
                "/Communication", json=communication("Organization/kommun-0880", f"m{i}")
            ).json()["id"]
        )
        client.post("/Communication", json=communication("Organization/kommun-0999"))
    hook.wait_for(lambda r: len(r.events()) >= 5, what="5 events")
    assert hook.events() == [1, 2, 3, 4, 5]
    bundles = [b for b in hook.bundles() if event_numbers(b)]
    focus = [
        next(p for p in status_of(b)["notification-event"][0] if p["name"] == "focus")
        for b in bundles
    ]
    assert [f["valueReference"]["reference"] for f in focus] == [
        f"http://fhir.test/fhir/Communication/{rid}" for rid in ids
    ]
    assert all(len(b["entry"]) == 1 for b in bundles)  # id-only: no resources
    status = status_of(bundles[-1])
    assert status["status"] == "active"
    assert status["events-since-subscription-start"] == "5"
    assert status["subscription"]["reference"] == f"http://fhir.test/fhir/Subscription/{sid}"
    assert status["topic"] == COMMUNICATION_TOPIC
    # the subscription shows it is active
    assert client.get(f"/Subscription/{sid}").json()["status"] == "active"
