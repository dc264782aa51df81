"""From one outbox event to the subscription events it makes.

Takes the version the event names (and the one before it, which triggers compare with)
as this process committed it, or reads it from the store, and tests it against every
subscription interested in the resource type. Index entries are those the version was
stored with, or extracted when a test needs them, once per version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import orjson

from fhir_server.search.index import IndexEntries
from fhir_server.storage.port import (
    MatchedEvent,
    RequestContext,
    Storage,
    StoredVersion,
    SubscriptionState,
)
from fhir_server.subscriptions.access import may_see
from fhir_server.subscriptions.spec import SubscriptionSpec
from fhir_server.subscriptions.store_criteria import store_criteria_hold
from fhir_server.subscriptions.triggers import Change, Version, is_event

_SYSTEM = RequestContext(principal="subscriptions")


def body_of(version: StoredVersion | None) -> dict[str, Any] | None:
    """The resource of a stored version; None for none or a deletion."""
    if version is None or version.deleted or version.data is None:
        return None
    body: dict[str, Any] = orjson.loads(version.data)
    return body


async def _version(
    storage: Storage, rtype: str, rid: str, number: int
) -> tuple[StoredVersion | None, IndexEntries | None]:
    """A version with the index entries it was stored with when this process committed it
    lately (storage/recent.py), else as read from the store (entries extracted on need)."""
    recent = storage.recent_version(rtype, rid, number)
    if recent is not None:
        return recent
    return await storage.vread(_SYSTEM, rtype, rid, number), None


async def match_event(
    storage: Storage,
    extract: Callable[[dict[str, Any]], IndexEntries],
    row: dict[str, Any],
    select: Callable[[Change], Iterable[tuple[SubscriptionSpec, SubscriptionState]]],
) -> list[MatchedEvent]:
    """The events one outbox row makes for the subscriptions `select` names for it;
    `extract` gives a version's index entries (those the subscriptions read)."""
    rtype, rid, number = row["type"], row["id"], row["version"]
    current, current_entries = await _version(storage, rtype, rid, number)
    previous, previous_entries = (
        await _version(storage, rtype, rid, number - 1) if number > 1 else (None, None)
    )
    before, after = body_of(previous), body_of(current)
    if row["method"] == "DELETE":
        interaction = "delete"
    elif before is None:
        interaction = "create"
    else:
        interaction = "update"
    change = Change(
        interaction,
        Version(before, previous.last_updated if previous else "", extract, previous_entries),
        Version(after, current.last_updated if current else "", extract, current_entries),
    )
    found: list[MatchedEvent] = []
    for spec, state in select(change):
        if row["seq"] <= state.start_seq:
            continue  # a change from before the subscription started
        if not is_event(spec, rtype, change):
            continue
        if spec.store_criteria and not await store_criteria_hold(
            storage, state, spec.store_criteria, rtype, rid, change.current.entries()
        ):
            continue
        if await may_see(storage, state, rtype, rid, after or before, after is None):
            found.append(
                MatchedEvent(spec.id, row["seq"], rtype, rid, number, row["method"], row["at"])
            )
    return found
