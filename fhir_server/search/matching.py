"""A search Plan evaluated against one resource's index entries, in memory.

The same comparisons as the stores' queries (storage/sqlite/search_sql.py, semantics in
search/plan.py), for deciding whether one version of a resource matches a search without
asking a store: subscription criteria and topic filters are tested this way against the
version an event names, not the current one. A clause holds when some index row of its
parameter satisfies one of its alternatives (NOT: when none does).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fhir_server.search.fulltext import search_words
from fhir_server.search.index import IndexEntries
from fhir_server.search.plan import (
    AnyOfClause,
    ChainClause,
    Clause,
    CompartmentClause,
    CompositeClause,
    DateClause,
    DateRange,
    FullTextClause,
    HasClause,
    IdClause,
    LastUpdatedClause,
    MissingClause,
    NumberClause,
    NumberRange,
    Plan,
    QuantityClause,
    ReferenceClause,
    ReferenceMatch,
    StringClause,
    StringMatch,
    TokenClause,
    TokenMatch,
    UriClause,
    UriMatch,
)


def plan_params(plan: Plan) -> frozenset[str]:
    """The index parameters a plan reads (what an indexer must extract to match it)."""
    params: set[str] = set()
    for clause in plan.clauses:
        if isinstance(clause, CompartmentClause):
            params.update(clause.params)
        elif not isinstance(
            clause, IdClause | LastUpdatedClause | HasClause | AnyOfClause | FullTextClause
        ):
            params.add(clause.param)
    return frozenset(params)


def entry_params(plan: Plan) -> frozenset[str]:
    """Every index parameter matches() reads for a plan: plan_params() and the full-text
    ones (what `Indexer.extract(only=...)` must extract to match the plan)."""
    words = {c.param for c in plan.clauses if isinstance(c, FullTextClause)}
    return plan_params(plan) | words


def in_memory(plan: Plan) -> bool:
    """Whether a plan can be matched here: chains and _has need other resources (and the
    visibility narrowing, AnyOfClause, holds those)."""
    return not any(isinstance(c, ChainClause | HasClause | AnyOfClause) for c in plan.clauses)


def matches(plan: Plan, resource: dict[str, Any], entries: IndexEntries, last_updated: str) -> bool:
    """True when `resource` (not deleted), with these index entries and its version's
    lastUpdated as the store keeps it, is found by the plan's search."""
    if resource.get("resourceType") != plan.resource_type:
        return False
    return all(_holds(clause, resource, entries, last_updated) for clause in plan.clauses)


def _holds(clause: Clause, resource: dict[str, Any], entries: IndexEntries, updated: str) -> bool:
    if isinstance(clause, IdClause):
        return (resource.get("id") in clause.ids) != clause.negate
    if isinstance(clause, LastUpdatedClause):
        return any(_date_holds(r, updated, updated) for r in clause.ranges)
    if isinstance(clause, MissingClause):
        rows = _rows(entries, clause.kind, clause.param)
        return (not rows) == clause.missing
    if isinstance(clause, StringClause):
        return _some(entries.strings, clause.param, clause.matches, _string_holds)
    if isinstance(clause, TokenClause):
        found = _some(entries.tokens, clause.param, clause.matches, _token_holds)
        return found != clause.negate
    if isinstance(clause, ReferenceClause):
        return _some(entries.references, clause.param, clause.matches, _reference_holds)
    if isinstance(clause, DateClause):
        return any(
            _date_holds(r, row[1], row[2])
            for row in entries.dates
            if row[0] == clause.param
            for r in clause.ranges
        )
    if isinstance(clause, NumberClause):
        return any(
            _number_holds(r, row[1], row[2])
            for row in entries.numbers
            if row[0] == clause.param
            for r in clause.ranges
        )
    if isinstance(clause, QuantityClause):
        return any(
            _number_holds(m.number, row[1], row[2])
            and (m.system is None or row[3] == m.system)
            and (m.code is None or row[4] == m.code)
            for row in entries.quantities
            if row[0] == clause.param
            for m in clause.matches
        )
    if isinstance(clause, UriClause):
        return _some(entries.uris, clause.param, clause.matches, _uri_holds)
    if isinstance(clause, CompartmentClause):
        if resource.get("resourceType") == clause.compartment and resource.get("id") == (
            clause.focus_id
        ):
            return True
        return any(
            row[0] in clause.params and row[1] == clause.compartment and row[2] == clause.focus_id
            for row in entries.references
        )
    if isinstance(clause, FullTextClause):
        return any(
            all(
                any(w.startswith(search_words(clause.param, word)) for w in entries.words)
                for word in alternative
            )
            for alternative in clause.alternatives
        )
    if isinstance(clause, CompositeClause):
        items = _composite_items(entries, clause.param)
        return any(
            all(
                _holds(component, resource, item.get(position, _NO_ROWS), updated)
                for position, component in enumerate(alternative)
            )
            for item in items
            for alternative in clause.alternatives
        )
    raise TypeError(f"{type(clause).__name__} cannot be matched in memory (see in_memory)")


_NO_ROWS = IndexEntries()
_LISTS = {
    "string": "strings",
    "token": "tokens",
    "reference": "references",
    "date": "dates",
    "number": "numbers",
    "quantity": "quantities",
    "uri": "uris",
}


def _composite_items(entries: IndexEntries, param: str) -> list[dict[int, IndexEntries]]:
    """Per item of a composite parameter, per component position, the component's rows as
    rows of its own type (so that each component is matched like a plain clause)."""
    items: dict[int, dict[int, IndexEntries]] = {}
    for code, group, position, kind, row in entries.composites:
        if code != param:
            continue
        found = items.setdefault(group, {}).setdefault(position, IndexEntries())
        getattr(found, _LISTS[kind]).append((code, *row))
    return list(items.values())


def _rows(entries: IndexEntries, kind: str, param: str) -> list[tuple[Any, ...]]:
    tables: dict[str, list[Any]] = {
        "string": entries.strings,
        "token": entries.tokens,
        "reference": entries.references,
        "date": entries.dates,
        "number": entries.numbers,
        "quantity": entries.quantities,
        "uri": entries.uris,
        "composite": entries.composites,
    }
    return [row for row in tables[kind] if row[0] == param]


def _some(
    rows: Sequence[tuple[Any, ...]],
    param: str,
    alternatives: Sequence[Any],
    test: Callable[[Any, tuple[Any, ...]], bool],
) -> bool:
    return any(test(match, row) for row in rows if row[0] == param for match in alternatives)


def _string_holds(match: StringMatch, row: tuple[Any, ...]) -> bool:
    _, value, exact = row
    if match.mode == "exact":
        return bool(exact == match.value)
    if match.mode == "contains":
        return match.value in value
    return bool(value.startswith(match.value))


def _token_holds(match: TokenMatch, row: tuple[Any, ...]) -> bool:
    _, system, code, text = row
    if match.text is not None:
        return text is not None and text.startswith(match.text)
    if match.code is not None and code != match.code:
        return False
    if match.no_system:
        return system is None
    return match.system is None or system == match.system


def _reference_holds(match: ReferenceMatch, row: tuple[Any, ...]) -> bool:
    _, target_type, target_id, url = row
    if match.url is not None:
        return url == match.url or (match.any_version and url.startswith(match.url + "|"))
    if target_id != match.target_id:
        return False
    return match.target_type is None or target_type == match.target_type


def _uri_holds(match: UriMatch, row: tuple[Any, ...]) -> bool:
    value = row[1]
    if match.mode == "exact":
        return bool(value == match.value)
    if match.mode == "below":
        base = match.value.rstrip("/")
        return bool(value == base or value.startswith(base + "/"))
    return value in _ancestors(match.value)


def _ancestors(url: str) -> list[str]:
    """`:above`: the URL and each parent path of it, down to the host."""
    out = [url]
    scheme_end = url.find("://")
    floor = scheme_end + 3 if scheme_end >= 0 else 0
    current = url.rstrip("/")
    while True:
        cut = current.rfind("/")
        if cut < floor or cut <= 0:
            break
        current = current[:cut]
        out.append(current)
    return out


def _date_holds(search: DateRange, low: str, high: str) -> bool:
    """A row's [low, high] against a searched range with its prefix (search.html#date)."""
    q_low, q_high = search.low, search.high
    prefix = search.prefix
    if prefix == "eq":
        return q_low <= low <= q_high and high <= q_high
    if prefix == "ne":
        return not (low >= q_low and high <= q_high)
    if prefix == "gt":
        return high > q_high
    if prefix == "lt":
        return low < q_low
    if prefix == "ge":
        return high > q_high or low >= q_low
    if prefix == "le":
        return low < q_low or high <= q_high
    if prefix == "sa":
        return low > q_high
    if prefix == "eb":
        return high < q_low
    return low <= q_high and high >= q_low  # ap: the ranges overlap


def _number_holds(search: NumberRange, low: float, high: float) -> bool:
    prefix = search.prefix
    if prefix == "eq":
        return search.low <= low <= search.high and high <= search.high
    if prefix == "ne":
        return not (low >= search.low and high <= search.high)
    if prefix == "ap":
        return low <= search.high and high >= search.low
    value = search.value
    return {
        "gt": high > value,
        "lt": low < value,
        "ge": high > value or low >= value,
        "le": low <= value,
        "sa": low >= search.high,
        "eb": high <= search.low and low < search.low,
    }[prefix]
