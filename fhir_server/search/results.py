"""The result parameters that need the store: _sort, _include and _revinclude.

Parsed here against the SearchParameter registry into backend-neutral values the storage
adapters execute (search.html#sort, search.html#include).
"""

from __future__ import annotations

from dataclasses import dataclass

from fhir_server.definitions import Definitions
from fhir_server.outcome import bad_request

# parameter types a store can order by; composite and special have no single value
SORTABLE_TYPES = frozenset({"string", "token", "reference", "date", "number", "quantity", "uri"})
SORT_SPECIALS = frozenset({"_id", "_lastUpdated"})
# how many rounds of :iterate an include may take (a cycle or a long chain stops here)
ITERATE_ROUNDS = 4


@dataclass(frozen=True, slots=True)
class SortKey:
    param: str  # a search parameter of the searched type, or _id / _lastUpdated
    kind: str  # its type (string, date, ...), "special" for _id / _lastUpdated
    descending: bool = False


@dataclass(frozen=True, slots=True)
class Include:
    """`_include=Source:param[:Target]` or `_revinclude=…`; `param` None is `*` (every
    reference parameter of Source)."""

    source: str
    param: str | None
    target: str | None = None
    iterate: bool = False


def parse_sort(definitions: Definitions, resource_type: str, values: list[str]) -> list[SortKey]:
    keys: list[SortKey] = []
    params = definitions.search_params_for(resource_type)
    for value in values:
        for part in value.split(","):
            descending = part.startswith("-")
            code = part[1:] if descending else part
            if not code:
                raise bad_request(f"_sort={value} has an empty key", "_sort")
            if code in SORT_SPECIALS:
                keys.append(SortKey(code, "special", descending))
                continue
            definition = params.get(code)
            if definition is None:
                raise bad_request(
                    f"_sort: unknown search parameter '{code}' for {resource_type}", "_sort"
                )
            kind = str(definition.get("type"))
            if kind not in SORTABLE_TYPES or not definition.get("expression"):
                raise bad_request(f"_sort: '{code}' ({kind}) cannot be sorted by", "_sort")
            keys.append(SortKey(code, kind, descending))
    if len({key.param for key in keys}) != len(keys):
        raise bad_request("_sort names a parameter twice", "_sort")
    return keys


def parse_include(definitions: Definitions, resource_type: str, name: str, value: str) -> Include:
    """One _include or _revinclude value (`name` with its modifier, e.g. `_include:iterate`)."""
    code, _, modifier = name.partition(":")
    if modifier not in ("", "iterate", "recurse"):
        raise bad_request(f"'{name}': unknown modifier ':{modifier}'", name)
    iterate = modifier in ("iterate", "recurse")  # :recurse is the STU3 name
    if value == "*":
        if code == "_revinclude":
            raise bad_request("_revinclude=* names no source type", name)
        return Include(resource_type, None, None, iterate)
    parts = value.split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise bad_request(f"{name}={value} is not Type:parameter or Type:parameter:Target", name)
    source, param = parts[0], parts[1]
    target = parts[2] if len(parts) == 3 else None
    types = definitions.resource_types
    if source not in types:
        raise bad_request(f"{name}={value}: unknown resource type '{source}'", name)
    if target is not None and target not in types:
        raise bad_request(f"{name}={value}: unknown resource type '{target}'", name)
    if param == "*":
        return Include(source, None, target, iterate)
    definition = definitions.search_params_for(source).get(param)
    if definition is None or definition.get("type") != "reference":
        raise bad_request(f"{name}={value}: {source} has no reference parameter '{param}'", name)
    targets = [t for t in definition.get("target", []) if isinstance(t, str)]
    if target is not None and targets and target not in targets:
        raise bad_request(f"{name}={value}: {source}.{param} cannot refer to a {target}", name)
    if code == "_include" and not iterate and source != resource_type:
        raise bad_request(
            f"{name}={value}: only {resource_type} parameters can be included from a"
            f" {resource_type} search (use :iterate for included resources)",
            name,
        )
    if code == "_revinclude" and not iterate and targets and resource_type not in targets:
        raise bad_request(
            f"{name}={value}: {source}.{param} does not refer to a {resource_type}", name
        )
    return Include(source, param, target, iterate)
