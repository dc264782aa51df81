"""Searches with `_contained=true|both` (search/contained.py) on the index tables, run by
both stores like search_results.py (`?` placeholders, each statement through `fetch`).

The plan of the searched type is compiled once more on the `contained` table
(search_sql.compile_plan, contained=True): a contained resource matches exactly as a
resource of its type would, every parameter type and modifier included.

- `_containedType=contained`: the units are the contained resources (and with `both` the
  resources of the type too), paged in one order: each container's place, then its
  contained resources in their order (contained_rows.py);
- `_containedType=container`: the units are resources, the containers of the matches
  (and with `both` the matching resources themselves), each once, in rid order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fhir_server import fhirjson
from fhir_server.search.contained import ContainedScope, check_sort
from fhir_server.search.plan import Plan
from fhir_server.search.results import SortKey
from fhir_server.storage.port import SearchResult, StoredVersion
from fhir_server.storage.sqlite.contained_rows import SPAN, position_of, unit_of_order
from fhir_server.storage.sqlite.index_rows import SearchKeys
from fhir_server.storage.sqlite.search_results import Fetch, keyset_page, sort_columns
from fhir_server.storage.sqlite.search_sql import compile_plan, count_plan
from fhir_server.storage.version_rows import VERSION_COLUMNS, row_to_version


async def contained_search(
    fetch: Fetch,
    plan: Plan,
    keys: SearchKeys,
    scope: ContainedScope,
    sort: Sequence[SortKey],
    count: int,
    cursor: str | None,
    total: bool,
) -> SearchResult:
    """One page of a search in `scope` (active), as Storage.search gives it."""
    check_sort(scope, sort)
    if scope.returns == "container":
        return await _containers(fetch, plan, keys, scope, sort, count, cursor, total)
    selects: list[str] = []
    args: list[Any] = []
    if scope.contained == "both":
        column_args: list[Any] = []
        columns = [f"r.rid * {SPAN} AS rid", *sort_columns(plan, keys, sort, column_args)]
        sql, where_args = compile_plan(plan, keys, ", ".join(columns))
        selects.append(sql)
        args += [*column_args, *where_args]
    column_args = []
    columns = ["-r.rid AS rid", *sort_columns(plan, keys, sort, column_args)]
    sql, where_args = compile_plan(plan, keys, ", ".join(columns), contained=True)
    selects.append(sql)
    args += [*column_args, *where_args]
    orders, next_cursor, previous_cursor = await keyset_page(
        fetch, " UNION ALL ".join(selects), args, sort, count, cursor
    )
    units = [unit_of_order(order) for order in orders]
    resources = await _current(fetch, [key for inside, key in units if not inside])
    contained = await _contained(fetch, [key for inside, key in units if inside])
    versions = [
        found
        for inside, key in units
        if (found := (contained if inside else resources).get(key)) is not None
    ]
    matched = None
    if total:
        sql, count_args = compile_plan(plan, keys, contained=True)
        (row,) = await fetch(f"SELECT count(*) FROM ({sql}) matched", count_args)
        matched = int(row[0])
        if scope.contained == "both":
            sql, count_args = count_plan(plan, keys)
            (row,) = await fetch(sql, count_args)
            matched += int(row[0])
    return SearchResult(versions, matched, next_cursor, previous_cursor)


async def _containers(
    fetch: Fetch,
    plan: Plan,
    keys: SearchKeys,
    scope: ContainedScope,
    sort: Sequence[SortKey],
    count: int,
    cursor: str | None,
    total: bool,
) -> SearchResult:
    units, units_args = compile_plan(plan, keys, "r.container", contained=True)
    if scope.contained == "both":
        own, own_args = compile_plan(plan, keys)
        units, units_args = f"{units} UNION {own}", [*units_args, *own_args]
    column_args: list[Any] = []
    columns = ["r.rid AS rid", *sort_columns(plan, keys, sort, column_args)]
    matching = f"FROM resource r WHERE r.deleted = 0 AND r.rid IN ({units})"
    rids, next_cursor, previous_cursor = await keyset_page(
        fetch,
        f"SELECT {', '.join(columns)} {matching}",
        [*column_args, *units_args],
        sort,
        count,
        cursor,
    )
    found = await _current(fetch, rids)
    versions = [found[rid] for rid in rids if rid in found]
    matched = None
    if total:
        (row,) = await fetch(f"SELECT count(*) {matching}", units_args)
        matched = int(row[0])
    return SearchResult(versions, matched, next_cursor, previous_cursor)


async def _current(fetch: Fetch, rids: Sequence[int]) -> dict[int, StoredVersion]:
    """The current versions of resources by rid."""
    if not rids:
        return {}
    marks = ", ".join("?" * len(rids))
    rows = await fetch(
        f"SELECT {VERSION_COLUMNS}, r.rid FROM resource r JOIN version v ON v.seq = r.seq"
        f" WHERE r.rid IN ({marks})",
        list(rids),
    )
    return {row[8]: row_to_version(row[:8]) for row in rows}


async def _contained(fetch: Fetch, units: Sequence[int]) -> dict[int, StoredVersion]:
    """The contained resources of these keys, from their containers' current versions."""
    if not units:
        return {}
    marks = ", ".join("?" * len(units))
    rows = await fetch(
        f"SELECT c.rid, c.type, c.id, c.container FROM contained c WHERE c.rid IN ({marks})",
        list(units),
    )
    containers = await _current(fetch, sorted({row[3] for row in rows}))
    parsed: dict[int, Any] = {}
    out: dict[int, StoredVersion] = {}
    for key, resource_type, local_id, rid in rows:
        container = containers.get(rid)
        if container is None or container.data is None:
            continue
        if rid not in parsed:
            parsed[rid] = fhirjson.loads(container.data).get("contained")
        resources = parsed[rid]
        position = position_of(key)
        if not isinstance(resources, list) or position >= len(resources):
            continue
        resource = resources[position]
        if not isinstance(resource, dict) or resource.get("resourceType") != resource_type:
            continue  # the rows and the version disagree: never returned as a match
        out[key] = StoredVersion(
            resource_type=resource_type,
            id=local_id,
            version_id=container.version_id,
            last_updated=container.last_updated,
            deleted=False,
            method=container.method,
            data=fhirjson.dumps(resource),
            seq=container.seq,
            container=f"{container.resource_type}/{container.id}",
        )
    return out
