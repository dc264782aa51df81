"""Which subscriptions a change can concern (subscriptions/candidates.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from fhir_server.definitions import Definitions, load_definitions
from fhir_server.search.criteria import parse_criteria
from fhir_server.search.index import IndexEntries
from fhir_server.search.indexer import Indexer
from fhir_server.search.matching import entry_params
from fhir_server.search.plan import Plan
from fhir_server.subscriptions.candidates import CandidateIndex


@dataclass
class Spec:  # what the index reads of a SubscriptionSpec: a classic search
    id: str
    classic: Plan

    @property
    def params(self) -> dict[str, frozenset[str]]:
        return {self.classic.resource_type: entry_params(self.classic)}

    def resource_types(self) -> frozenset[str]:
        return frozenset({self.classic.resource_type})

    def filters_for(self, resource_type: str) -> tuple[Plan, ...]:
        return ()


@pytest.fixture(scope="module")
def definitions() -> Definitions:
    return load_definitions()


def _spec(definitions: Definitions, sid: str, query: str) -> Spec:
    rtype, _, text = query.partition("?")
    criteria = [tuple(pair.split("=", 1)) for pair in text.split("&") if pair]
    return Spec(sid, parse_criteria(definitions, rtype, criteria))  # type: ignore[arg-type]


def _entries(definitions: Definitions, recipient: str) -> IndexEntries:
    resource = {
        "resourceType": "Communication",
        "status": "completed",
        "recipient": [{"reference": recipient}],
    }
    return Indexer(definitions).extract(resource)


def test_subscriptions_are_found_by_the_values_their_filters_require(
    definitions: Definitions,
) -> None:
    index = CandidateIndex()
    index.add(_spec(definitions, "a", "Communication?recipient=Organization/kommun-1"))  # type: ignore[arg-type]
    index.add(_spec(definitions, "b", "Communication?recipient=Organization/kommun-2"))  # type: ignore[arg-type]
    index.add(_spec(definitions, "any", "Communication?status=completed,in-progress"))  # type: ignore[arg-type]
    index.add(_spec(definitions, "open", "Communication?_lastUpdated=gt2020"))  # type: ignore[arg-type]
    entries = [_entries(definitions, "Organization/kommun-1")]
    assert index.select("Communication", entries) == {"a", "any", "open"}
    assert index.wants("Communication") and not index.wants("Patient")


def test_a_type_whose_subscriptions_are_all_gone_is_wanted_no_more(
    definitions: Definitions,
) -> None:
    """Every change of a wanted type is read and matched: once the last subscription on
    Communication is deleted, its writes must cost nothing again."""
    index = CandidateIndex()
    keyed = _spec(definitions, "a", "Communication?recipient=Organization/kommun-1")
    open_ = _spec(definitions, "open", "Communication?_lastUpdated=gt2020")
    index.add(keyed)  # type: ignore[arg-type]
    index.add(open_)  # type: ignore[arg-type]
    index.remove("a")
    assert index.wants("Communication")
    entries = [_entries(definitions, "Organization/kommun-1")]
    assert index.select("Communication", entries) == {"open"}
    index.remove("open")
    assert not index.wants("Communication")
    assert index.select("Communication", entries) == set()
    index.add(keyed)  # type: ignore[arg-type]
    assert index.select("Communication", entries) == {"a"}


def test_a_change_is_extracted_for_the_parameters_its_subscriptions_read(
    definitions: Definitions,
) -> None:
    index = CandidateIndex()
    index.add(_spec(definitions, "a", "Communication?recipient=Organization/kommun-1"))  # type: ignore[arg-type]
    index.add(_spec(definitions, "b", "Communication?category=utskrivningsklar&_content=fall"))  # type: ignore[arg-type]
    index.add(_spec(definitions, "p", "Patient?identifier:of-type=http://x|MR|1"))  # type: ignore[arg-type]
    assert index.params("Communication") == {"recipient", "category", "_content"}
    assert index.params("Patient") == {"identifier:of-type"}
    index.remove("b")
    assert index.params("Communication") == {"recipient"}
    index.add(_spec(definitions, "a", "Communication?sent=gt2026"))  # type: ignore[arg-type]
    assert index.params("Communication") == {"sent"}  # a changed subscription reads anew
    index.remove("a")
    assert index.params("Communication") == frozenset()
