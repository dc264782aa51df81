"""Whether one change (previous and current version of a resource) is an event of a
subscription: the topic's resource trigger and the subscription's filters, or the search of a
classic subscription. Filters and searches are matched as search matches (search/matching.py)
on the version the change stored, not on whatever is current when the matcher runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fhir_server.search.index import IndexEntries
from fhir_server.search.matching import matches
from fhir_server.search.plan import Plan
from fhir_server.subscriptions.spec import SubscriptionSpec
from fhir_server.subscriptions.topics import Trigger


@dataclass(slots=True)
class Version:
    """One side of a change, with its index entries computed on first use."""

    resource: dict[str, Any] | None  # None: absent (before a create, after a delete)
    last_updated: str
    extract: Callable[[dict[str, Any]], IndexEntries]
    _entries: IndexEntries | None = field(default=None)

    def entries(self) -> IndexEntries | None:
        if self.resource is None:
            return None
        if self._entries is None:
            self._entries = self.extract(self.resource)
        return self._entries

    def found_by(self, plan: Plan) -> bool:
        entries = self.entries()
        if entries is None or self.resource is None:
            return False
        return matches(plan, self.resource, entries, self.last_updated)


@dataclass(slots=True)
class Change:
    interaction: str  # create | update | delete
    previous: Version
    current: Version


def is_event(spec: SubscriptionSpec, resource_type: str, change: Change) -> bool:
    if spec.classic is not None:
        # R4: the criteria apply to the new content; a deletion is no notification
        return change.interaction != "delete" and change.current.found_by(spec.classic)
    assert spec.topic is not None
    fired = any(
        _fires(trigger, change)
        for trigger in spec.topic.triggers
        if trigger.resource_type == resource_type
    )
    if not fired:
        return False
    # filters look at the resource as it is after the change, or as it was before a delete
    subject = change.previous if change.interaction == "delete" else change.current
    return all(subject.found_by(plan) for plan in spec.filters_for(resource_type))


def _fires(trigger: Trigger, change: Change) -> bool:
    if change.interaction not in trigger.interactions:
        return False
    tests: list[bool] = []
    if trigger.previous is not None or trigger.current is not None:
        tests.append(_query_passes(trigger, change))
    if trigger.fhirpath is not None:
        tests.append(trigger.fhirpath(change.previous.resource, change.current.resource))
    return all(tests)


def _query_passes(trigger: Trigger, change: Change) -> bool:
    results: list[bool] = []
    if trigger.previous is not None:
        if change.interaction == "create":
            results.append(trigger.result_for_create == "test-passes")
        else:
            results.append(change.previous.found_by(trigger.previous))
    if trigger.current is not None:
        if change.interaction == "delete":
            results.append(trigger.result_for_delete == "test-passes")
        else:
            results.append(change.current.found_by(trigger.current))
    return all(results) if trigger.require_both else any(results)
