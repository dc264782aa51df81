"""The subscription service: matches the outbox against subscriptions and runs deliveries.

One matcher task reads the outbox in order from a durable cursor (woken by the store after
each commit, and once a second in case a wake-up was missed), keeps the topics and
subscriptions it reads there up to date, and stores the events it finds, numbered per
subscription, together with the new cursor in one commit. Deliveries read those events.
A crash anywhere loses nothing: what was matched is stored, what was not is matched again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from functools import partial
from typing import Any

import orjson

from fhir_server.outcome import FhirError
from fhir_server.runtime import Runtime
from fhir_server.search.indexer import Indexer
from fhir_server.storage.configured import subscription_worker_wanted
from fhir_server.storage.port import (
    MatchedEvent,
    RequestContext,
    StateChange,
    StoredVersion,
    SubscriptionEvent,
    SubscriptionState,
    Transaction,
)
from fhir_server.subscriptions import channels
from fhir_server.subscriptions.access import may_see_protected, shown
from fhir_server.subscriptions.candidates import CandidateIndex
from fhir_server.subscriptions.delivery import Delivery, Host, Retry
from fhir_server.subscriptions.hook_client import HookClient
from fhir_server.subscriptions.matcher import body_of, match_event
from fhir_server.subscriptions.notifications import Status, notification_bundle
from fhir_server.subscriptions.pace import WorkerPace
from fhir_server.subscriptions.spec import SpecError, SubscriptionSpec, read_spec
from fhir_server.subscriptions.topics import (
    PROFILES_DIR,
    TOPIC_CODE,
    TOPIC_CODE_SYSTEM,
    TopicRegistry,
    topics_in_folder,
)
from fhir_server.subscriptions.triggers import Change
from fhir_server.subscriptions.websocket import SocketDelivery, Sockets
from fhir_server.waiting import wait_event

log = logging.getLogger(__name__)

SYSTEM = RequestContext(principal="subscriptions")
_BATCH = 256
_POLL_SECONDS = 1.0
_FLUSH_SECONDS = 0.2
_FOLLOWER_GATHER_SECONDS = 0.02
# a leader's (it numbers every event; the SQLite worker process is one): one look at the
# outbox per few commits, not per commit. On PostgreSQL each look reads the seq holders
# from pg_locks until they are gone (postgres/outbox.py); gathering took PostgreSQL's CPU
# per create from 1.27 to 1.22 ms in one noisy run (bench/postgres.py), within its noise.
_LEADER_GATHER_SECONDS = 0.005
# a follower matches events itself once they waited this long for the worker (pace.py)
_WORKER_LAG_SECONDS = 1.0

_RUNNING: dict[int, SubscriptionService] = {}


def running(runtime: Runtime) -> SubscriptionService | None:
    """The service of a runtime, while it runs (for the websocket endpoint)."""
    return _RUNNING.get(id(runtime))


def server_base(runtime: Runtime) -> str:
    """The base URL notifications name resources by (no request to derive it from)."""
    settings = runtime.settings
    return settings.base_url.rstrip("/") or f"http://{settings.host}:{settings.port}"


class SubscriptionService(Host):
    """`rest_hooks`: whether this process sends rest-hook notifications (claims their
    leases); the server leaves them to its worker process on SQLite (worker.py).
    `follower`: another process (the worker) numbers each event: this one looks at what it
    numbered, and matches only what the worker leaves waiting too long (pace.py).
    `initialises`: whether this process prepares the cursor on the store's first start
    (not the worker: it starts after the server did)."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        rest_hooks: bool = True,
        follower: bool = False,
        initialises: bool = True,
    ) -> None:
        self.rest_hooks = rest_hooks
        self.follower = follower
        self.initialises = initialises
        # seconds the matcher waits after a wake-up, for more commits to look at at once
        self.gather = _FOLLOWER_GATHER_SECONDS if follower else _LEADER_GATHER_SECONDS
        self._pace = WorkerPace(_WORKER_LAG_SECONDS, _FOLLOWER_GATHER_SECONDS)
        self._relook: asyncio.TimerHandle | None = None
        self.runtime = runtime
        self.storage = runtime.storage
        self.settings = runtime.settings
        self.base = server_base(runtime)
        self.topics = TopicRegistry(
            runtime.definitions, topics_in_folder(PROFILES_DIR, runtime.definitions)
        )
        self.indexer = Indexer(runtime.definitions, base_url=runtime.settings.base_url or None)
        self.retry = Retry(
            self.settings.subscription_retry_base,
            self.settings.subscription_retry_max,
            self.settings.subscription_error_after,
        )
        self.specs: dict[str, SubscriptionSpec] = {}
        self.deliveries: dict[str, Delivery] = {}
        self._candidates = CandidateIndex()
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._unwatch: Any = None
        self._client: HookClient | None = None
        self._in_flight = asyncio.Semaphore(self.settings.subscription_max_in_flight)
        self.sockets = Sockets(self.settings.subscription_ws_token_seconds)
        # this process, as the holder of delivery leases (several processes on one store)
        self.lease_owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease_seconds = self.settings.subscription_lease_seconds

    # lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._client = channels.client(self.settings)
        await self._load_topics()
        cursor = await self._load_subscriptions()

        def committed() -> None:  # in the store's writer thread
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(self._wake.set)

        self._unwatch = self.storage.watch_commits(committed)
        self._tasks = [
            asyncio.create_task(self._match_loop(cursor), name="subscription-matcher"),
            asyncio.create_task(self._flush_loop(), name="subscription-flusher"),
            asyncio.create_task(self._lease_loop(), name="subscription-leases"),
        ]
        _RUNNING[id(self.runtime)] = self

    def wake(self) -> None:
        """Another process committed: look at the outbox now (in the event loop)."""
        self._wake.set()

    async def stop(self) -> None:
        _RUNNING.pop(id(self.runtime), None)
        if self._unwatch is not None:
            self._unwatch()
        if self._relook is not None:
            self._relook.cancel()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(d.stop() for d in self.deliveries.values()))
        with contextlib.suppress(Exception):
            await self._flush()
        if self.rest_hooks:
            with contextlib.suppress(Exception):  # the others take over at once
                await self.storage.subscription_release(self.lease_owner)
        if self._client is not None:
            await self._client.close()

    async def _load_topics(self) -> None:
        criteria = [("code", f"{TOPIC_CODE_SYSTEM}|{TOPIC_CODE}")]
        for version in await self._all("Basic", criteria):
            self.topics.stored("Basic", version.id, body_of(version))

    async def _load_subscriptions(self) -> int:
        """Runs the subscriptions with a state; the cursor the matcher starts from. It was
        read first: a subscription another process opens meanwhile is opened after it, so
        the matcher finds its change."""
        cursor = await self.storage.subscription_cursor()
        states = {s.id: s for s in await self.storage.subscription_states()}
        subscriptions = await self._all("Subscription", [])
        # (a follower starts after the process that owns the store prepared it)
        if cursor == 0 and not states and self.initialises:
            # the first start on this store: changes from before are no events, and
            # subscriptions stored before start now
            latest = await self._latest_seq()
            for version in subscriptions:
                states[version.id] = await self.storage.subscription_open(
                    version.id, latest, "requested", RequestContext()
                )
            await self.storage.subscription_record(latest, [])
            cursor = latest
        # a subscription without state was created after the cursor: the matcher opens it
        # when it reaches that change (so no earlier change becomes its event)
        for version in subscriptions:
            if version.id in states:
                await self._register(version, states[version.id])
        return cursor

    async def _latest_seq(self) -> int:
        page = await self.storage.history(
            SYSTEM, None, None, since=None, at=None, count=1, cursor=None
        )
        return page.versions[0].seq if page.versions else 0

    async def _all(self, resource_type: str, criteria: list[tuple[str, str]]) -> list[Any]:
        found: list[Any] = []
        cursor: str | None = None
        while True:
            page = await self.storage.search(
                SYSTEM, resource_type, criteria, count=500, cursor=cursor, total=False
            )
            found += page.versions
            cursor = page.next_cursor
            if cursor is None:
                return found

    # subscriptions -----------------------------------------------------------------------

    async def _register(self, version: StoredVersion, state: SubscriptionState) -> None:
        resource = body_of(version)
        if resource is None:
            return
        try:
            spec = read_spec(
                resource, self.runtime.definitions, self.topics, self.settings, self.base
            )
        except SpecError as exc:
            log.warning("Subscription/%s cannot run: %s", version.id, exc)
            return
        await self._install(spec, state)

    async def _install(self, spec: SubscriptionSpec, state: SubscriptionState) -> None:
        """Run a subscription, or let its running delivery go on with the new settings
        (a new delivery only when the channel type changed, after the old one stopped, so
        that two never send at once)."""
        delivery = self.deliveries.get(spec.id)
        if delivery is not None and delivery.spec.channel != spec.channel:
            await self._forget(spec.id)
            delivery = None
        self.specs[spec.id] = spec
        self._candidates.add(spec)
        if delivery is None:
            delivery = self._make_delivery(spec, state)
            self.deliveries[spec.id] = delivery
            await self._claim([delivery])
            delivery.start()
        else:
            delivery.reconfigure(spec, state)

    def _make_delivery(self, spec: SubscriptionSpec, state: SubscriptionState) -> Delivery:
        if spec.channel == "websocket":
            return SocketDelivery(spec, state, self, self.retry)
        return Delivery(spec, state, self, self.retry)

    async def _forget(self, sid: str) -> None:
        self.specs.pop(sid, None)
        self._candidates.remove(sid)
        delivery = self.deliveries.pop(sid, None)
        if delivery is not None:
            await delivery.stop()

    async def _subscription_changed(self, row: dict[str, Any]) -> None:
        sid = row["id"]
        version = await self.storage.vread(SYSTEM, "Subscription", sid, row["version"])
        resource = body_of(version)
        if resource is None:
            await self._forget(sid)
            await self.storage.subscription_close(sid)
            return
        owner = RequestContext(principal=row["principal"], organisation=row["organisation"])
        try:
            spec = read_spec(
                resource, self.runtime.definitions, self.topics, self.settings, self.base
            )
        except SpecError as exc:
            await self._forget(sid)
            # the reason shows in $status; the resource stays as its client wrote it
            await self.storage.subscription_open(sid, row["seq"], "error", owner)
            await self.storage.subscription_change(
                [StateChange(sid, status="error", error=str(exc))]
            )
            return
        state = await self.storage.subscription_state(sid)
        status = _next_status(spec, state.status if state is not None else None)
        # once over all processes: a matcher behind another must not set back the status
        # the other's delivery has moved on since (a handshake done, say)
        applied = await self.storage.subscription_apply(sid, row["seq"], status, owner)
        if applied is None:  # deleted since
            await self._forget(sid)
            return
        await self._install(spec, applied)

    # matching ------------------------------------------------------------------------------

    async def _match_loop(self, cursor: int) -> None:
        saved = cursor
        while True:
            await wait_event(self._wake, _POLL_SECONDS)
            if self.gather:
                # Woken after each commit: under a stream of writes one look covering a few
                # commits costs a few milliseconds of latency, not a look, and a write
                # transaction taking the store's lock from the server's writer, per commit.
                # A follower gives the other process, woken by the same commits, time to
                # number them meanwhile.
                await asyncio.sleep(self.gather)
            self._wake.clear()
            try:
                cursor, saved = await self._match_from(cursor, saved)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("subscription matching failed; retrying from seq %d", saved)
                cursor = saved
                await asyncio.sleep(_POLL_SECONDS)

    async def _match_from(self, cursor: int, saved: int) -> tuple[int, int]:
        while True:
            rows = await self.storage.outbox_after(cursor, _BATCH)
            if not rows:
                return cursor, saved
            pending: list[MatchedEvent] = []
            # a follower does not match again what the other process numbered already: it
            # keeps up with the subscriptions and topics, and looks at the stored counts
            numbered = await self.storage.subscription_cursor() if self.follower else 0
            whole = True
            if self.follower:
                # and leaves the rest to the worker while it keeps up (pace.py)
                ready, relook = self._pace.cut([row["seq"] for row in rows], numbered)
                if relook is not None:
                    self._look_again(relook)
                whole = ready == len(rows)
                rows = rows[:ready]
                if not rows:
                    return cursor, saved
            skipped = False
            for row in rows:
                rtype = row["type"]
                if rtype == "Subscription":
                    await self._save(row["seq"] - 1, pending)
                    pending = []
                    await self._subscription_changed(row)
                    continue
                if rtype == "Basic":
                    version = await self.storage.vread(SYSTEM, "Basic", row["id"], row["version"])
                    self.topics.stored("Basic", row["id"], body_of(version))
                if row["seq"] <= numbered:
                    skipped = True
                elif self._candidates.wants(rtype):
                    extract = partial(self.indexer.extract, only=self._candidates.params(rtype))
                    pending += await match_event(self.storage, extract, row, self._select)
            if skipped:
                await self._wake_numbered()
            cursor = rows[-1]["seq"]
            if pending or cursor - saved > 10_000:
                await self._save(cursor, pending)
                saved = cursor
            if not whole:
                return cursor, saved

    def _look_again(self, seconds: float) -> None:
        """Wake the matcher in `seconds` (unless an earlier call's wake is still to come)."""
        loop = asyncio.get_running_loop()
        if self._relook is None or self._relook.when() <= loop.time():
            self._relook = loop.call_later(seconds, self._wake.set)

    async def _wake_numbered(self) -> None:
        """Wake the deliveries this process runs whose subscriptions another process gave
        events this one has not seen (they read them from the store)."""
        if not any(delivery.leased for delivery in self.deliveries.values()):
            return  # none delivers here (the server beside its worker, without websockets)
        for state in await self.storage.subscription_states():
            delivery = self.deliveries.get(state.id)
            if delivery is not None and delivery.leased and state.events > delivery.events:
                delivery.wake()

    # leases: which process delivers -------------------------------------------------------

    async def _lease_loop(self) -> None:
        """Renew this process's leases and take those whose holder stopped renewing."""
        while True:
            try:
                await self._claim(list(self.deliveries.values()))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not renew subscription delivery leases")
            await asyncio.sleep(self.lease_seconds / 3)

    async def _claim(self, deliveries: list[Delivery]) -> None:
        wanted = [d for d in deliveries if d.needs_lease]
        if not wanted or not self.rest_hooks:
            return
        held = await self.storage.subscription_leases(
            self.lease_owner, [d.id for d in wanted], self.lease_seconds
        )
        for delivery in wanted:
            gained = delivery.id in held and not delivery.leased
            state = await self.storage.subscription_state(delivery.id) if gained else None
            delivery.lease(delivery.id in held, state)

    def _select(self, change: Change) -> list[tuple[SubscriptionSpec, SubscriptionState]]:
        """The running subscriptions a change may concern (candidates.py)."""
        side = change.current if change.current.resource is not None else change.previous
        entries = side.entries()
        rtype = str((side.resource or {}).get("resourceType", ""))
        chosen = []
        for sid in self._candidates.select(rtype, [entries] if entries is not None else []):
            delivery = self.deliveries.get(sid)
            if delivery is not None and delivery.status != "off" and sid in self.specs:
                chosen.append((self.specs[sid], delivery.owner))
        return chosen

    async def _save(self, through: int, pending: list[MatchedEvent]) -> None:
        if not pending:
            return
        if self.follower and await self.storage.subscription_cursor() >= through:
            # the other process numbered all of these: `record` would drop them all
            stored: list[SubscriptionEvent] = []
        else:
            stored = await self.storage.subscription_record(through, pending)
        by_subscription: dict[str, list[SubscriptionEvent]] = {}
        for event in stored:
            by_subscription.setdefault(event.subscription, []).append(event)
        for sid, events in by_subscription.items():
            delivery = self.deliveries.get(sid)
            if delivery is not None:
                delivery.wake(events)
        # events another process's matcher numbered first: the delivery reads them stored
        for sid in {event.subscription for event in pending} - by_subscription.keys():
            delivery = self.deliveries.get(sid)
            if delivery is not None:
                delivery.wake()

    # Host: what deliveries call -----------------------------------------------------------

    async def events(self, sid: str, first: int, limit: int) -> list[SubscriptionEvent]:
        return await self.storage.subscription_events(sid, first, None, limit)

    def status_of(self, spec: SubscriptionSpec, delivery: Delivery) -> Status:
        return Status(
            subscription_url=f"{self.base}/Subscription/{spec.id}",
            topic=spec.topic.url if spec.topic is not None else None,
            status=delivery.status,
            events_since_start=delivery.events,
            error=delivery.error,
        )

    async def send(
        self, spec: SubscriptionSpec, status: Status, kind: str, events: list[SubscriptionEvent]
    ) -> None:
        body = await self.notification_body(spec, status, kind, events)
        if spec.channel == "websocket":
            await self.sockets.send(spec.id, (body or b"").decode())
            return
        if spec.endpoint is None or self._client is None:
            raise channels.DeliveryFailed("the subscription has no endpoint")
        timeout = min(
            spec.timeout or self.settings.subscription_timeout, self.settings.subscription_timeout
        )
        async with self._in_flight:
            await channels.post(self._client, spec, body, timeout)

    async def notification_body(
        self, spec: SubscriptionSpec, status: Status, kind: str, events: list[SubscriptionEvent]
    ) -> bytes | None:
        if spec.topic is None:
            return await self._classic_body(spec, events)
        versions: dict[int, StoredVersion | None] = {}
        if spec.content == "full-resource":
            protected = may_see_protected(self.storage, None)
            for event in events:
                version = await self.storage.vread(
                    SYSTEM, event.resource_type, event.id, event.version
                )
                versions[event.number] = shown(version, protected)
        bundle = notification_bundle(spec, status, kind, events, versions, self.base)
        return orjson.dumps(bundle)

    async def _classic_body(
        self, spec: SubscriptionSpec, events: list[SubscriptionEvent]
    ) -> bytes | None:
        """R4: no payload sends an empty POST; a payload sends the resource."""
        if spec.mime is None or not events:
            return None
        event = events[-1]
        version = await self.storage.vread(SYSTEM, event.resource_type, event.id, event.version)
        version = shown(version, may_see_protected(self.storage, None))
        return version.data if version is not None else None

    async def set_status(self, delivery: Delivery, status: str, error: str | None) -> None:
        """A change that delivery made (handshake done, endpoint failing or back)."""
        delivery.status = status
        delivery.error = error
        await self.storage.subscription_change(
            [StateChange(delivery.id, status=status, error=error)]
        )
        await self._mirror(delivery.id, status, error)

    def delivered(self, delivery: Delivery) -> None:
        self._dirty.add(delivery.id)

    # saving --------------------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(_FLUSH_SECONDS)
            try:
                await self._flush()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not save subscription delivery marks")

    async def _flush(self) -> None:
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, set()
        changes = [
            StateChange(sid, delivered=self.deliveries[sid].delivered)
            for sid in dirty
            if sid in self.deliveries
        ]
        try:
            await self.storage.subscription_change(changes)
        except BaseException:
            self._dirty |= dirty
            raise

    async def _mirror(self, sid: str, status: str, error: str | None) -> None:
        """Show the status on the Subscription resource itself (R4 clients read it there)."""

        async def job(tx: Transaction) -> None:
            current = await tx.read("Subscription", sid)
            body = body_of(current)
            if body is None:
                return
            if body.get("status") == status and body.get("error") == error:
                return
            body["status"] = status
            if error:
                body["error"] = error
            else:
                body.pop("error", None)
            await tx.write("Subscription", sid, body, "PUT")

        try:
            await self.storage.run(SYSTEM, job)
        except FhirError as exc:
            log.warning("could not show the status of Subscription/%s: %s", sid, exc)


def _next_status(spec: SubscriptionSpec, current: str | None) -> str:
    """The delivery status after a client created or changed a Subscription."""
    if spec.declared_status == "off":
        return "off"
    handshake = spec.topic is not None and spec.channel == "rest-hook"
    if current in (None, "off") or spec.declared_status == "requested":
        return "requested" if handshake else "active"
    return current


def create(runtime: Runtime) -> SubscriptionService:
    # with a worker process, the server's matcher still runs, for its websocket deliveries
    # (they send where the sockets are bound), but leaves the matching and numbering to
    # the worker wherever it keeps up: it only reads the counts the worker stored
    worker = subscription_worker_wanted(runtime.settings)
    return SubscriptionService(runtime, rest_hooks=not worker, follower=worker)
