"""The criteria of a classic subscription that depend on other resources: chains, `_has`,
`_list`.

An event is matched in memory against the version it names (search/matching.py). A chained
parameter (`subject:Patient.name=…`) or a reverse chain (`_has:…`, `_list=…`) also depends
on other resources, so those criteria are split off when the subscription is read and
answered by the store's own search, which gives them exactly their meaning in a search:

- a chain `param[:Type].rest=value`: the references of the event's version through `param`
  (to the types the chain allows), searched as `Type?_id=<those ids>&rest=value`;
- `_has:Type:param:criterion=value`: `Type?param=<the resource>&criterion=value`;
- `_list=ids`: `List?item=<the resource>&_id=ids`.

The rest of a chain may chain again or be a `_has`: the store searches it. Other resources
are taken as they are when the event is matched, the event's own resource as the event's
version has it. A resource found counts only if the subscription's owner may read it
(access.py), so a criterion reveals nothing of what the owner could not search for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from fhir_server.search.index import IndexEntries
from fhir_server.search.plan import ChainClause, HasClause, Plan
from fhir_server.storage.port import RequestContext, Storage, SubscriptionState
from fhir_server.subscriptions.access import may_see

_SYSTEM = RequestContext(principal="subscriptions")
_PAGE = 50  # resources a criterion's search reads per page
_PAGES = 20  # pages at most: a criterion nothing visible answers in 1 000 found is not met

Pair = tuple[str, str]


@dataclass(frozen=True, slots=True)
class StoreCriterion:
    """One criterion the store answers. `reverse`: the other resources refer to the
    subscribed one (`_has`, `_list`), through `param` of `types`; else the subscribed one
    refers through its `param` to resources of `types` (a chain). `rest` is the criterion
    those resources must meet."""

    param: str
    types: tuple[str, ...]
    rest: Pair
    reverse: bool


def split_criteria(
    pairs: Iterable[Pair], parse: Callable[[Sequence[Pair]], Plan]
) -> tuple[list[Pair], tuple[StoreCriterion, ...]]:
    """The pairs matched in memory, and the criteria the store answers; `parse` is the
    search's own parser of the subscribed type (which decides what is a chain)."""
    local: list[Pair] = []
    store: list[StoreCriterion] = []
    for name, value in pairs:
        clauses = parse([(name, value)]).clauses
        clause = clauses[0] if len(clauses) == 1 else None
        if isinstance(clause, ChainClause):
            chained = (name.partition(".")[2], value)
            types = tuple(sorted({plan.resource_type for plan in clause.plans}))
            store.append(StoreCriterion(clause.param, types, chained, reverse=False))
        elif isinstance(clause, HasClause):
            wanted = ("_id", value) if name == "_list" else (name.split(":", 3)[3], value)
            store.append(
                StoreCriterion(clause.param, (clause.plan.resource_type,), wanted, reverse=True)
            )
        else:
            local.append((name, value))
    return local, tuple(store)


async def store_criteria_hold(
    storage: Storage,
    owner: SubscriptionState,
    criteria: Sequence[StoreCriterion],
    resource_type: str,
    rid: str,
    entries: IndexEntries | None,
) -> bool:
    """Whether every criterion holds for the resource `resource_type/rid` whose version
    has these index entries (those of each chain's parameter at least)."""
    for criterion in criteria:
        if not await _holds(storage, owner, criterion, resource_type, rid, entries):
            return False
    return True


async def _holds(
    storage: Storage,
    owner: SubscriptionState,
    criterion: StoreCriterion,
    resource_type: str,
    rid: str,
    entries: IndexEntries | None,
) -> bool:
    searches: list[tuple[str, list[Pair]]] = []
    if criterion.reverse:
        reference = (criterion.param, f"{resource_type}/{rid}")
        searches.append((criterion.types[0], [reference, criterion.rest]))
    else:
        targets: dict[str, set[str]] = {}
        for param, kind, target_id, _ in entries.references if entries is not None else ():
            if param == criterion.param and kind in criterion.types and target_id is not None:
                targets.setdefault(kind, set()).add(target_id)
        for kind, ids in sorted(targets.items()):
            searches.append((kind, [("_id", ",".join(sorted(ids))), criterion.rest]))
    for searched_type, pairs in searches:
        cursor = None
        for _ in range(_PAGES):
            page = await storage.search(
                _SYSTEM, searched_type, pairs, count=_PAGE, cursor=cursor, total=False
            )
            for found in page.versions:
                if await may_see(storage, owner, searched_type, found.id, None, deleted=False):
                    return True
            cursor = page.next_cursor
            if cursor is None:
                break
    return False
