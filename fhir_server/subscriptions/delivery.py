"""Delivery of one subscription's events: in order, at least once, never blocking others.

Each subscription has its own task. It sends the next undelivered events (numbered, from the
store) and moves on only when the channel took them; a failure is retried after an
exponential delay with jitter, and after `error_after` failures in a row the subscription
is in `error` but keeps its events and goes on trying, catching up in order when its
endpoint answers again. A `requested` topic-based rest-hook subscription first gets a
handshake; an idle one gets a heartbeat each heartbeat period.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

from fhir_server.storage.clock import parse_instant
from fhir_server.storage.port import SubscriptionEvent, SubscriptionState
from fhir_server.subscriptions.channels import DeliveryFailed
from fhir_server.subscriptions.notifications import Status
from fhir_server.subscriptions.spec import SubscriptionSpec
from fhir_server.waiting import wait_event

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Retry:
    base: float  # seconds before the first retry
    cap: float  # largest delay
    error_after: int  # failures in a row that put the subscription in error

    def delay(self, failures: int) -> float:
        """Exponential backoff with jitter: between half and all of base·2^(n-1), capped,
        so that many subscriptions failing together do not retry in lockstep."""
        ceiling = min(self.cap, self.base * 2 ** min(failures - 1, 30))
        return ceiling * random.uniform(0.5, 1.0)


class Host:
    """What a delivery needs of the service around it."""

    async def events(self, sid: str, first: int, limit: int) -> list[SubscriptionEvent]:
        raise NotImplementedError

    async def send(
        self, spec: SubscriptionSpec, status: Status, kind: str, events: list[SubscriptionEvent]
    ) -> None:
        """Deliver one notification; raises DeliveryFailed."""
        raise NotImplementedError

    def status_of(self, spec: SubscriptionSpec, delivery: Delivery) -> Status:
        raise NotImplementedError

    async def set_status(self, delivery: Delivery, status: str, error: str | None) -> None:
        raise NotImplementedError

    def delivered(self, delivery: Delivery) -> None:
        """The delivered mark moved: to be saved (soon; at-least-once allows a repeat)."""
        raise NotImplementedError


class Delivery:
    # a rest-hook delivery sends only while its process holds the subscription's lease
    # (several server processes on one store); a websocket one where the app is bound
    needs_lease: ClassVar[bool] = True

    def __init__(
        self, spec: SubscriptionSpec, state: SubscriptionState, host: Host, retry: Retry
    ) -> None:
        self.spec = spec
        self.id = spec.id
        self.status = state.status
        self.error = state.error
        self.events = state.events
        self.delivered = state.delivered
        self.failures = 0
        self.owner = state
        self._host = host
        self._retry = retry
        self._wake = asyncio.Event()
        self._handed: list[SubscriptionEvent] = []
        self._task: asyncio.Task[None] | None = None
        self._last_sent = time.monotonic()
        self.wants_handshake = state.status == "requested"
        self.leased = not self.needs_lease
        # events may be stored that this process was not handed (numbered by another
        # process's matcher, or before a restart): the next look goes to the store
        self._unseen = True

    def reconfigure(self, spec: SubscriptionSpec, state: SubscriptionState) -> None:
        """New settings of the Subscription (a client changed it): go on with them."""
        self.spec = spec
        if state.status != self.status:
            self.status = state.status
            self.error = state.error
        if state.status == "requested":
            self.wants_handshake = True
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"subscription-{self.id}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def lease(self, held: bool, state: SubscriptionState | None) -> None:
        """This process got or lost the right to deliver; on getting it, go on from the
        stored marks (another process may have delivered meanwhile)."""
        if not self.needs_lease or held == self.leased:
            return
        self.leased = held
        if held and state is not None:
            self.delivered = max(self.delivered, state.delivered)
            self.events = max(self.events, state.events)
            self.status, self.error = state.status, state.error
            self.wants_handshake = state.status == "requested"
            self._unseen = True
        self._wake.set()

    def wake(self, events: list[SubscriptionEvent] | None = None) -> None:
        """New events were stored (handed over, so the next send needs no store read)."""
        if not self.leased:  # another process sends them; on getting the lease, the store
            self._unseen = True
            return
        if events:
            self.events = max(self.events, events[-1].number)
            self._handed.extend(events)
            del self._handed[: max(0, len(self._handed) - 1000)]
        else:
            self._unseen = True
        self._wake.set()

    async def _next_events(self) -> list[SubscriptionEvent]:
        first = self.delivered + 1
        while self._handed and self._handed[0].number < first:
            self._handed.pop(0)
        if self._handed and self._handed[0].number == first:
            return self._handed[: self.spec.max_count]
        if first > self.events and not self._unseen:
            return []  # all this process was told of is delivered: no store read
        self._unseen = False
        found = await self._host.events(self.id, first, self.spec.max_count)
        if found:  # numbered by another process's matcher: the count its status shows
            self.events = max(self.events, found[-1].number)
        if len(found) >= self.spec.max_count:
            self._unseen = True  # a full page: more may be stored
        return found

    # the loop ------------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not end deliveries for good
                log.exception("subscription %s: delivery step failed", self.id)
                await asyncio.sleep(self._retry.base)

    async def _step(self) -> None:
        spec = self.spec
        self._wake.clear()
        if not self.leased:  # another server process delivers it
            await self._wake.wait()
            return
        if self.status == "off":
            await self._wake.wait()
            return
        if spec.end and _passed(spec.end):
            await self._host.set_status(self, "off", None)
            return
        if self.wants_handshake:
            if await self._attempt("handshake", []):
                self.wants_handshake = False
                if self.status != "active":
                    await self._host.set_status(self, "active", None)
            return
        events = await self._next_events()
        if events:
            if await self._attempt("event-notification", events):
                self.delivered = events[-1].number
                self._host.delivered(self)
            return
        timeout = None
        if spec.heartbeat is not None:
            timeout = max(0.0, self._last_sent + spec.heartbeat - time.monotonic())
        if not await wait_event(self._wake, timeout):
            await self._attempt("heartbeat", [])

    async def _attempt(self, kind: str, events: list[SubscriptionEvent]) -> bool:
        """One try at a notification: True when delivered; after a failure, the backoff
        delay has passed when this returns."""
        status = self._host.status_of(self.spec, self)
        try:
            await self._host.send(self.spec, status, kind, events)
        except DeliveryFailed as failure:
            self.failures += 1
            log.info("subscription %s: %s failed (%d): %s", self.id, kind, self.failures, failure)
            if self.failures >= self._retry.error_after and (
                self.status != "error" or self.error != str(failure)
            ):
                await self._host.set_status(self, "error", str(failure))
            await self._sleep(self._retry.delay(self.failures))
            return False
        self._last_sent = time.monotonic()
        if self.failures or self.status == "error":
            self.failures = 0
            if self.status == "error":
                await self._host.set_status(self, "active", None)
        return True

    async def _sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def _passed(instant: str) -> bool:
    try:
        return parse_instant(instant) <= datetime.now(UTC)
    except ValueError:
        return False
