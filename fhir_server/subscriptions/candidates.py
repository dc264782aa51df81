"""Which subscriptions a change can concern, without testing each one.

Most subscriptions filter on one reference or code (`Communication?recipient=Organization/
kommun-0880`): with one subscription per municipality, testing every subscription against
every change would cost O(subscriptions) per write. Each subscription is filed under the
values one of its clauses requires (a reference's target id, a token's code), and a change
looks up the values its index entries hold; subscriptions without such a clause are always
candidates. The lookup only narrows: every candidate is still tested in full.
"""

from __future__ import annotations

from typing import TypeVar

from fhir_server.search.index import IndexEntries
from fhir_server.search.plan import Plan, ReferenceClause, TokenClause
from fhir_server.subscriptions.spec import SubscriptionSpec

Key = tuple[str, str, str]  # (kind, parameter, value)
_K = TypeVar("_K")


def _plan_keys(plan: Plan) -> set[Key] | None:
    """The values one of the plan's clauses requires (any of them), or None."""
    for clause in plan.clauses:
        if isinstance(clause, ReferenceClause):
            keys: set[Key] = set()
            for match in clause.matches:
                if match.target_id is not None:
                    keys.add(("ref", clause.param, match.target_id))
                elif match.url is not None and not match.any_version:
                    keys.add(("url", clause.param, match.url))
                else:
                    break
            else:
                return keys
        if (
            isinstance(clause, TokenClause)
            and not clause.negate
            and all(m.code is not None and m.text is None for m in clause.matches)
        ):
            return {("tok", clause.param, str(m.code)) for m in clause.matches}
    return None


def spec_keys(spec: SubscriptionSpec, resource_type: str) -> set[Key] | None:
    plans = [spec.classic] if spec.classic is not None else list(spec.filters_for(resource_type))
    for plan in plans:
        if plan is not None and plan.resource_type == resource_type:
            keys = _plan_keys(plan)
            if keys is not None:
                return keys
    return None


def entry_keys(entries: IndexEntries) -> set[Key]:
    keys: set[Key] = set()
    for param, _, target_id, url in entries.references:
        if target_id is not None:
            keys.add(("ref", param, target_id))
        keys.add(("url", param, url))
    for param, _, code, _ in entries.tokens:
        if code is not None:
            keys.add(("tok", param, code))
    return keys


class CandidateIndex:
    def __init__(self) -> None:
        self._open: dict[str, set[str]] = {}  # type → subscriptions tested on every change
        self._keyed: dict[str, dict[Key, set[str]]] = {}
        self._filed: dict[str, list[tuple[str, Key | None]]] = {}
        # type → subscription → the index parameters its tests read (spec.params)
        self._needs: dict[str, dict[str, frozenset[str]]] = {}
        self._params: dict[str, frozenset[str]] = {}  # their union per type, once asked

    def add(self, spec: SubscriptionSpec) -> None:
        self.remove(spec.id)
        filed: list[tuple[str, Key | None]] = []
        for rtype in spec.resource_types():
            self._needs.setdefault(rtype, {})[spec.id] = spec.params.get(rtype, frozenset())
            self._params.pop(rtype, None)
            keys = spec_keys(spec, rtype)
            if keys is None:
                self._open.setdefault(rtype, set()).add(spec.id)
                filed.append((rtype, None))
                continue
            by_key = self._keyed.setdefault(rtype, {})
            for key in keys:
                by_key.setdefault(key, set()).add(spec.id)
                filed.append((rtype, key))
        self._filed[spec.id] = filed

    def remove(self, sid: str) -> None:
        # what empties goes: `wants` is False again once a type's last subscription is gone
        for rtype, needs in list(self._needs.items()):
            if needs.pop(sid, None) is not None:
                self._params.pop(rtype, None)
                if not needs:
                    del self._needs[rtype]
        for rtype, key in self._filed.pop(sid, []):
            if key is None:
                _discard(self._open, rtype, sid)
            else:
                by_key = self._keyed.get(rtype, {})
                _discard(by_key, key, sid)
                if not by_key:
                    self._keyed.pop(rtype, None)

    def wants(self, resource_type: str) -> bool:
        return bool(self._open.get(resource_type)) or bool(self._keyed.get(resource_type))

    def params(self, resource_type: str) -> frozenset[str]:
        """The index parameters some subscription on the type reads: all a change of it
        needs extracted, to be selected (the filed keys' parameters) and tested."""
        found = self._params.get(resource_type)
        if found is None:
            found = frozenset().union(*self._needs.get(resource_type, {}).values())
            self._params[resource_type] = found
        return found

    def select(self, resource_type: str, entries: list[IndexEntries]) -> set[str]:
        found = set(self._open.get(resource_type, ()))
        by_key = self._keyed.get(resource_type)
        if by_key:
            for item in entries:
                for key in entry_keys(item):
                    found |= by_key.get(key, set())
        return found


def _discard(sets: dict[_K, set[str]], key: _K, sid: str) -> None:
    found = sets.get(key)
    if found is not None:
        found.discard(sid)
        if not found:
            del sets[key]
