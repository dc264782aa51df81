"""Topic-based rest-hook subscriptions delivered to a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import itertools
import time
from concurrent.futures import ThreadPoolExecutor

from starlette.testclient import TestClient

from tests.subscriptions.receiver import Receiver, event_numbers, status_of
from tests.subscriptions.topics import (
    COMMUNICATION_TOPIC,
    FINISHED_TOPIC,
    classic_subscription,
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


def test_full_resource_and_empty_payloads(
    client: TestClient, hook: Receiver, hook2: Receiver
) -> None:
    full = _subscribe(client, subscription(COMMUNICATION_TOPIC, hook.url, "full-resource"))
    empty = _subscribe(client, subscription(COMMUNICATION_TOPIC, hook2.url, "empty"))
    hook.wait_for(lambda r: len(r.bundles()) >= 1, what="handshake")
    hook2.wait_for(lambda r: len(r.bundles()) >= 1, what="handshake")
    created = client.post("/Communication", json=communication("Organization/x", "first")).json()
    changed = {**created, "payload": [{"contentString": "second"}]}
    assert client.put(f"/Communication/{created['id']}", json=changed).status_code == 200
    hook.wait_for(lambda r: len(r.events()) >= 2, what="2 full-resource events")
    hook2.wait_for(lambda r: len(r.events()) >= 2, what="2 empty events")
    first, second = [b for b in hook.bundles() if event_numbers(b)]
    assert first["entry"][1]["resource"]["payload"][0]["contentString"] == "first"
    assert first["entry"][1]["request"] == {"method": "POST", "url": "Communication"}
    assert first["entry"][1]["response"]["status"] == "201"
    assert second["entry"][1]["resource"]["payload"][0]["contentString"] == "second"
    assert second["entry"][1]["resource"]["meta"]["versionId"] == "2"
    assert second["entry"][1]["fullUrl"] == f"http://fhir.test/fhir/Communication/{created['id']}"
    assert second["entry"][1]["request"]["method"] == "PUT"
    for bundle in [b for b in hook2.bundles() if event_numbers(b)]:
        assert len(bundle["entry"]) == 1
        parts = status_of(bundle)["notification-event"][0]
        assert [p["name"] for p in parts] == ["event-number", "timestamp"]  # no focus
    assert full != empty


def test_topic_query_criteria_previous_and_current(client: TestClient, hook: Receiver) -> None:
    """The finished-encounter topic fires on the change to finished, not on others."""
    _subscribe(client, subscription(FINISHED_TOPIC, hook.url, "id-only"))
    hook.wait_for(lambda r: len(r.bundles()) >= 1, what="handshake")
    encounter = {
        "resourceType": "Encounter",
        "status": "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
    }
    made = client.post("/Encounter", json=encounter).json()  # not finished: no event
    client.put(f"/Encounter/{made['id']}", json={**made, "status": "finished"})  # event 1
    client.put(
        f"/Encounter/{made['id']}",
        json={**made, "status": "finished", "id": made["id"], "priority": {"text": "x"}},
    )  # still: none
    born_finished = client.post("/Encounter", json={**encounter, "status": "finished"}).json()
    hook.wait_for(lambda r: len(r.events()) >= 2, what="2 events")
    time.sleep(0.3)
    bundles = [b for b in hook.bundles() if event_numbers(b)]
    focus = [
        status_of(b)["notification-event"][0][2]["valueReference"]["reference"] for b in bundles
    ]
    assert focus == [
        f"http://fhir.test/fhir/Encounter/{made['id']}",
        f"http://fhir.test/fhir/Encounter/{born_finished['id']}",
    ]


def test_receiver_failing_then_recovering_gets_every_event_in_order(
    client: TestClient, hook: Receiver
) -> None:
    sid = _subscribe(client, subscription(COMMUNICATION_TOPIC, hook.url, "id-only"))
    hook.wait_for(lambda r: len(r.bundles()) >= 1, what="handshake")
    hook.fail_next = 6  # more than error_after (3): the subscription goes to error
    for i in range(10):
        client.post("/Communication", json=communication("Organization/x", f"m{i}"))
    hook.wait_for(lambda r: r.refused >= 4, what="failures")
    _wait_status(client, sid, "error")
    status = _status(client, sid)
    assert status["status"] == "error" and status["error"]["text"]
    assert client.get(f"/Subscription/{sid}").json()["status"] == "error"
    hook.wait_for(lambda r: len(set(r.events())) >= 10, what="catch-up", timeout=20)
    received = hook.events()
    # in order, duplicates allowed, no gap
    assert sorted(set(received)) == list(range(1, 11))
    assert all(a <= b for a, b in itertools.pairwise(received))
    _wait_status(client, sid, "active")
    assert client.get(f"/Subscription/{sid}").json()["status"] == "active"


def _status(client: TestClient, sid: str) -> dict:
    response = client.get(f"/Subscription/{sid}/$status")
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["type"] == "searchset"
    return status_of({"entry": [bundle["entry"][0]]})


def _wait_status(client: TestClient, sid: str, wanted: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _status(client, sid)["status"] == wanted:
            return
        time.sleep(0.05)
    raise AssertionError(f"Subscription/{sid} not {wanted}: {_status(client, sid)}")


def test_status_and_events_replay(client: TestClient, hook: Receiver) -> None:
    sid = _subscribe(client, subscription(COMMUNICATION_TOPIC, hook.url, "id-only"))
    hook.wait_for(lambda r: len(r.bundles()) >= 1, what="handshake")
    ids = [
        client.post("/Communication", json=communication("Organization/x")).json()["id"]
        for _ in range(4)
    ]
    hook.wait_for(lambda r: len(r.events()) >= 4, what="4 events")
    status = _status(client, sid)
    assert status["type"] == "query-status"
    assert status["events-since-subscription-start"] == "4"
    assert status["topic"] == COMMUNICATION_TOPIC
    everyone = client.get("/Subscription/$status", params={"status": "active"}).json()
    assert everyone["total"] == 1
    replay = client.get(
        f"/Subscription/{sid}/$events",
        params={"eventsSinceNumber": "2", "eventsUntilNumber": "3", "content": "full-resource"},
    )
    assert replay.status_code == 200, replay.text
    bundle = replay.json()
    assert bundle["type"] == "history"
    replayed = status_of(bundle)
    assert replayed["type"] == "query-event"
    numbers = [p[0]["valueString"] for p in replayed["notification-event"]]
    assert numbers == ["2", "3"]
    assert [e["resource"]["id"] for e in bundle["entry"][1:]] == ids[1:3]
    post = client.post(
        f"/Subscription/{sid}/$events",
        json={
            "resourceType": "Parameters",
            "parameter": [{"name": "eventsSinceNumber", "valueString": "4"}],
        },
    ).json()
    assert [p[0]["valueString"] for p in status_of(post)["notification-event"]] == ["4"]
    bad = client.get(f"/Subscription/{sid}/$events", params={"eventsSinceNumber": "x"})
    assert bad.status_code == 400
    assert bad.json()["issue"][0]["expression"] == ["eventsSinceNumber"]
    assert client.get("/Subscription/nope/$status").status_code == 404


def test_heartbeat_at_the_requested_period(client: TestClient, hook: Receiver) -> None:
    _subscribe(client, subscription(COMMUNICATION_TOPIC, hook.url, "id-only", heartbeat=1))
    hook.wait_for(
        lambda r: sum(status_of(b)["type"] == "heartbeat" for b in r.bundles()) >= 2,
        what="2 heartbeats",
        timeout=5,
    )
    kinds = [status_of(b)["type"] for b in hook.bundles()]
    assert kinds[0] == "handshake"
    beats = [r.at for r in hook.received if status_of(r.json())["type"] == "heartbeat"]
    assert 0.7 <= beats[1] - beats[0] <= 2.0


def test_classic_criteria_subscription(client: TestClient, hook: Receiver, hook2: Receiver) -> None:
    """R4 criteria: matched as search matches; the resource is the payload, or an empty POST."""
    criteria = "Communication?recipient=Organization/kommun-0880&category=utskrivningsklar"
    _subscribe(client, classic_subscription(criteria, hook.url))
    _subscribe(client, classic_subscription(criteria, hook2.url, payload=None))
    client.post("/Communication", json=communication("Organization/kommun-0880", "no"))
    wanted = client.post(
        "/Communication",
        json=communication("Organization/kommun-0880", "yes", category="utskrivningsklar"),
    ).json()
    client.post(
        "/Communication",
        json=communication("Organization/kommun-0999", "no", category="utskrivningsklar"),
    )
    hook.wait_for(lambda r: len(r.received) >= 1, what="the matching resource")
    hook2.wait_for(lambda r: len(r.received) >= 1, what="an empty notification")
    time.sleep(0.3)
    assert [r.json()["id"] for r in hook.received] == [wanted["id"]]
    assert [r.body for r in hook2.received] == [b""]


def test_classic_criteria_with_chains_and_has(
    client: TestClient, hook: Receiver, hook2: Receiver
) -> None:
    """A chain is matched through the references of the version the event names, `_has`
    by who refers to the resource, both as the store's search finds them."""
    for oid, name, part_of in (
        ("region-x", "Region Halland", None),
        ("kommun-1384", "Kungsbacka kommun", "region-x"),
        ("kommun-1383", "Varbergs kommun", None),
    ):
        org: dict = {"resourceType": "Organization", "id": oid, "name": name}
        if part_of:
            org["partOf"] = {"reference": f"Organization/{part_of}"}
        assert client.put(f"/Organization/{oid}", json=org).is_success
    chained = "Communication?recipient:Organization.partof.name=region&category=utskrivningsklar"
    _subscribe(client, classic_subscription(chained, hook.url))
    patients = [
        client.post("/Patient", json={"resourceType": "Patient", "gender": g}).json()["id"]
        for g in ("female", "male")
    ]
    reverse = "Patient?_has:Communication:subject:category=utskrivningsklar"
    _subscribe(client, classic_subscription(reverse, hook2.url))
    wanted = client.post(
        "/Communication",
        json={
            **communication("Organization/kommun-1384", "ja", category="utskrivningsklar"),
            "subject": {"reference": f"Patient/{patients[0]}"},
        },
    ).json()
    for recipient, category in (
        ("Organization/kommun-1384", "inskrivningsmeddelande"),  # the chain, not the category
        ("Organization/kommun-1383", "utskrivningsklar"),  # not part of Region Halland
        ("Organization/no-such", "utskrivningsklar"),  # nothing to chain to
    ):
        client.post("/Communication", json=communication(recipient, "nej", category=category))
    for pid in patients:  # only the first has a utskrivningsklar Communication about it
        body = client.get(f"/Patient/{pid}").json()
        assert client.put(f"/Patient/{pid}", json={**body, "active": True}).is_success
    hook.wait_for(lambda r: len(r.received) >= 1, what="the Communication through the chain")
    hook2.wait_for(lambda r: len(r.received) >= 1, what="the Patient by _has")
    time.sleep(0.5)
    assert [r.json()["id"] for r in hook.received] == [wanted["id"]]
    assert [r.json()["id"] for r in hook2.received] == [patients[0]]


def test_a_topic_filter_cannot_chain(client: TestClient, hook: Receiver) -> None:
    body = subscription(
        COMMUNICATION_TOPIC,
        hook.url,
        filters=("Communication?recipient:Organization.name=kungsbacka",),
    )
    sid = _subscribe(client, body)
    _wait_status(client, sid, "error")
    assert "a filter cannot chain" in _status(client, sid)["error"]["text"]


def test_unusable_subscription_goes_to_error(client: TestClient, hook: Receiver) -> None:
    body = subscription(COMMUNICATION_TOPIC, "http://10.1.2.3/hook", "id-only")
    sid = _subscribe(client, body)
    _wait_status(client, sid, "error")
    assert "not one this server may deliver to" in _status(client, sid)["error"]["text"]
    assert client.get(f"/Subscription/{sid}").json()["status"] == "requested"  # as written
    unknown = _subscribe(
        client, subscription("http://example.org/no-such-topic", "http://127.0.0.1/x")
    )
    _wait_status(client, unknown, "error")
    # a header value with a carriage return would write a header of its own into the POST
    smuggling = _subscribe(
        client,
        subscription(COMMUNICATION_TOPIC, hook.url, "id-only", headers=("X-A: 1\rX-B: 2",)),
    )
    _wait_status(client, smuggling, "error")
    assert "is not 'Name: value'" in _status(client, smuggling)["error"]["text"]
    assert hook.received == []


def test_ordering_under_concurrent_writes(client: TestClient, hook: Receiver) -> None:
    _subscribe(client, subscription(COMMUNICATION_TOPIC, hook.url, "id-only", max_count=5))
    hook.wait_for(lambda r: len(r.bundles()) >= 1, what="handshake")

    def write(i: int) -> str:
        return client.post("/Communication", json=communication("Organization/x", f"m{i}")).json()[
            "id"
        ]

    with ThreadPoolExecutor(8) as pool:
        written = list(pool.map(write, range(80)))
    hook.wait_for(lambda r: len(set(r.events())) >= 80, what="80 events", timeout=20)
    received = hook.events()
    assert received == list(range(1, 81))  # each once, in order (no failures here)
    # the numbers follow the order of the commits: the outbox order
    history = client.get("/Communication/_history", params={"_count": 200}).json()
    committed = [e["resource"]["id"] for e in reversed(history["entry"])]
    focus = [
        parts[2]["valueReference"]["reference"].rsplit("/", 1)[1]
        for b in hook.bundles()
        if event_numbers(b)
        for parts in status_of(b)["notification-event"]
    ]
    assert focus == committed and sorted(focus) == sorted(written)
