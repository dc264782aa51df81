"""Two server processes on one PostgreSQL database deliver each subscription once: only the
holder of its lease sends, so a receiver gets every event exactly once and in order while
writes reach both processes; when the holder dies, the other takes over and nothing is
lost."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from tests.subscriptions.receiver import Receiver, event_numbers, receiver
from tests.subscriptions.topics import communication, communication_topic, subscription
from tests.support.postgres import fresh_database
from tests.support.server_process import ServerProcess

pytestmark = pytest.mark.e2e
LEASE = "2"  # seconds: a dead holder's subscriptions move on quickly


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


@pytest.fixture
def pair(
    postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[ServerProcess]]:
    url = fresh_database(postgres_url, "two_deliverers")
    base = tmp_path_factory.mktemp("deliverers")
    env = {
        "FHIR_SERVER_DATABASE_URL": url,
        "FHIR_SERVER_SUBSCRIPTION_ENDPOINT_HOSTS": '["127.0.0.1"]',
        "FHIR_SERVER_SUBSCRIPTION_RETRY_BASE": "0.05",
        "FHIR_SERVER_SUBSCRIPTION_LEASE_SECONDS": LEASE,
    }
    servers = [ServerProcess(base / f"s{i}", **env) for i in range(2)]
    for server in servers:
        server.start_process()
    try:
        for server in servers:
            server.wait_ready()
        yield servers
    finally:
        for server in servers:
            server.stop()


def _numbers(hook: Receiver) -> list[int]:
    return [n for bundle in hook.bundles() for n in event_numbers(bundle)]


def test_each_event_is_delivered_once_in_order_and_survives_the_holder(
    pair: list[ServerProcess], hook: Receiver
) -> None:
    one, two = (httpx.Client(base_url=s.base, timeout=30) for s in pair)
    topic = communication_topic()
    assert one.put("/Basic/lease-topic", json={**topic, "id": "lease-topic"}).is_success
    only_k1 = ("Communication?recipient=Organization/k1",)
    body = subscription(topic_url(topic), hook.url, filters=only_k1)
    created = one.post("/Subscription", json=body)
    assert created.status_code == 201, created.text
    hook.wait_for(lambda r: len(r.bundles()) >= 1, what="handshake")
    for n in range(20):  # writes reach both processes
        client = one if n % 2 == 0 else two
        assert client.post("/Communication", json=communication("Organization/k1")).is_success
    hook.wait_for(lambda r: len(_numbers(r)) >= 20, what="20 events")
    time.sleep(1.0)  # a second process sending too would show within this
    assert _numbers(hook) == list(range(1, 21))
    handshakes = [b for b in hook.bundles() if not event_numbers(b)]
    assert len(handshakes) == 1
    # the holder dies; the other process takes over within the lease and delivers the rest
    url = pair[0].env["FHIR_SERVER_DATABASE_URL"]
    holder_pid = _holder_pid(url)
    holder = next(s for s in pair if s.proc is not None and s.proc.pid == holder_pid)
    survivor = two if holder is pair[0] else one
    holder.kill()
    for _ in range(5):
        assert survivor.post("/Communication", json=communication("Organization/k1")).is_success
    hook.wait_for(lambda r: 25 in _numbers(r), timeout=30, what="events after the takeover")
    numbers = _numbers(hook)
    assert sorted(set(numbers)) == list(range(1, 26))
    assert numbers[:20] == list(range(1, 21))


def topic_url(topic: dict[str, Any]) -> str:
    return next(
        e["valueUri"] for e in topic["extension"] if e["url"].endswith("SubscriptionTopic.url")
    )


def _holder_pid(url: str) -> int:
    """The process holding the (one) subscription's lease: its owner is host:pid:nonce."""

    async def query() -> str:
        conn = await asyncpg.connect(url)
        try:
            return str(await conn.fetchval("SELECT owner FROM subscription_lease"))
        finally:
            await conn.close()

    return int(asyncio.run(query()).split(":")[1])
