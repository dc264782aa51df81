"""A delivery sends the events it was handed without reading them back from the store,
and reads the store only for events it may not have been handed (subscriptions/delivery.py).
"""

from __future__ import annotations

import asyncio

from fhir_server.storage.port import SubscriptionEvent, SubscriptionState
from fhir_server.subscriptions.delivery import Delivery, Host, Retry
from fhir_server.subscriptions.notifications import Status
from fhir_server.subscriptions.spec import SubscriptionSpec

SPEC = SubscriptionSpec(
    id="s1",
    declared_status="active",
    topic=None,
    criteria="Communication?",
    classic=None,
    filters=(),
    channel="rest-hook",
    endpoint="http://127.0.0.1:9/hook",
    headers=(),
    mime=None,
    content="id-only",
    heartbeat=None,
    timeout=None,
    max_count=10,
    end=None,
)


def _event(number: int) -> SubscriptionEvent:
    return SubscriptionEvent("s1", number, number, "Communication", f"c{number}", 1, "POST", "")


class Recording(Host):
    def __init__(self, stored: list[SubscriptionEvent]) -> None:
        self.stored = stored
        self.reads: list[int] = []
        self.sent: list[list[int]] = []
        self.idle = asyncio.Event()

    async def events(self, sid: str, first: int, limit: int) -> list[SubscriptionEvent]:
        self.reads.append(first)
        found = [e for e in self.stored if e.number >= first][:limit]
        if not found:
            self.idle.set()
        return found

    async def send(
        self, spec: SubscriptionSpec, status: Status, kind: str, events: list[SubscriptionEvent]
    ) -> None:
        self.sent.append([e.number for e in events])

    def status_of(self, spec: SubscriptionSpec, delivery: Delivery) -> Status:
        return Status(f"Subscription/{spec.id}", None, delivery.status, delivery.events, None)

    async def set_status(self, delivery: Delivery, status: str, error: str | None) -> None:
        delivery.status = status

    def delivered(self, delivery: Delivery) -> None:
        if delivery.delivered >= delivery.events:
            self.idle.set()


def _state(events: int) -> SubscriptionState:
    return SubscriptionState("s1", "active", 0, events, 0, None, None, None, "")


async def _settle(host: Recording) -> None:
    await asyncio.wait_for(host.idle.wait(), 5)
    host.idle.clear()
    await asyncio.sleep(0.05)  # a step that would read again has run by now


def test_handed_events_are_sent_without_a_store_read() -> None:
    async def scenario() -> Recording:
        stored = [_event(1), _event(2)]
        host = Recording(stored)
        delivery = Delivery(SPEC, _state(2), host, Retry(0.01, 0.1, 3))
        delivery.lease(True, None)  # this process delivers it
        delivery.start()
        await _settle(host)  # at start it reads what was stored before (1 and 2)
        reads_at_start = len(host.reads)
        for number in (3, 4, 5):
            stored.append(_event(number))
            delivery.wake([_event(number)])
            await _settle(host)
        assert len(host.reads) == reads_at_start  # no read for a handed event
        stored.append(_event(6))  # numbered elsewhere: only a wake without events
        delivery.wake()
        await _settle(host)
        await delivery.stop()
        assert host.reads[reads_at_start:][:1] == [6]
        return host

    host = asyncio.run(scenario())
    assert [n for batch in host.sent for n in batch] == [1, 2, 3, 4, 5, 6]
