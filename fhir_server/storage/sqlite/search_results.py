"""Search pages with keyset cursors, and _include / _revinclude, on the index tables.

Both stores run this: it builds the SQL (`?` placeholders, as search_sql.py) and hands each
statement to the store's `fetch`. SQLite runs the coroutines on its reader thread (they
never suspend there: writer.drive runs them); PostgreSQL awaits asyncpg, placeholders
numbered.

A page is read after the last row of the previous one (or before the first row of the
next) by its sort values and rid (keyset paging): a resource written meanwhile lands where
its values put it, and no page repeats or skips a resource whose values stay put. Without
_sort the order is the rid's, the order resources were first stored. Missing values sort
last in both directions (a sentinel stands in for them).
"""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import orjson

from fhir_server.outcome import bad_request
from fhir_server.search.narrowing import Visibility
from fhir_server.search.plan import Plan
from fhir_server.search.results import ITERATE_ROUNDS, Include, SortKey
from fhir_server.storage.port import StoredVersion
from fhir_server.storage.sqlite.index_rows import SearchKeys
from fhir_server.storage.sqlite.queries import VERSION_COLUMNS, row_to_version
from fhir_server.storage.sqlite.search_sql import compile_plan, one_clause_rows

Row = tuple[Any, ...]
# runs one statement (`?` placeholders) and returns all its rows as tuples
Fetch = Callable[[str, list[Any]], Awaitable[list[Row]]]


def sqlite_fetch(conn: sqlite3.Connection) -> Fetch:
    """`fetch` on a SQLite connection. It never suspends: `writer.drive` runs the
    coroutines that use it on the reader thread."""

    async def fetch(sql: str, args: list[Any]) -> list[Row]:
        return list(conn.execute(sql, args).fetchall())

    return fetch


def reference_bits(
    keys: SearchKeys,
    indexed: Callable[[str], Sequence[tuple[str, str, Any]]],
    resource_types: Iterable[str],
) -> dict[str, int]:
    """Per type, the bits of all its reference parameters (`_include=X:*`)."""
    return {
        rtype: sum(
            keys.param(rtype, code).bit for code, kind, _ in indexed(rtype) if kind == "reference"
        )
        for rtype in resource_types
    }


_TEXT_LAST = "\U0010ffff"
_NUMBER_LAST = 1e308

# the value a row of each table sorts by, ascending and descending
_COLUMNS: dict[str, tuple[str, str, str]] = {
    # kind: (table, ascending value, descending value)
    "string": ("idx_string", "min(i.value)", "max(i.value)"),
    "token": ("idx_token", "min(i.code)", "max(i.code)"),
    "reference": ("idx_reference", "min(i.url)", "max(i.url)"),
    "date": ("idx_date", "min(i.low)", "max(i.high)"),
    "number": ("idx_number", "min(i.low)", "max(i.high)"),
    "quantity": ("idx_quantity", "min(i.low)", "max(i.high)"),
    "uri": ("idx_uri", "min(i.value)", "max(i.value)"),
}
_MASKED = frozenset({"string", "token", "reference"})


def _sentinel(key: SortKey) -> Any:
    numeric = key.kind in ("number", "quantity")
    if key.descending:
        return -_NUMBER_LAST if numeric else ""
    return _NUMBER_LAST if numeric else _TEXT_LAST


def _key_sql(key: SortKey, plan: Plan, keys: SearchKeys, args: list[Any]) -> str:
    if key.param == "_id":
        return "r.id"
    if key.param == "_lastUpdated":
        return "(SELECT v.last_updated FROM version v WHERE v.seq = r.seq)"
    table, ascending, descending = _COLUMNS[key.kind]
    param = keys.param(plan.resource_type, key.param)
    which = "(i.params & ?) <> 0" if key.kind in _MASKED else "i.p = ?"
    args.extend((param.bit if key.kind in _MASKED else param.id, _sentinel(key)))
    value = descending if key.descending else ascending
    return f"coalesce((SELECT {value} FROM {table} i WHERE i.rid = r.rid AND {which}), ?)"


async def page_of(
    fetch: Fetch,
    plan: Plan,
    keys: SearchKeys,
    sort: Sequence[SortKey],
    count: int,
    cursor: str | None,
) -> tuple[list[int], str | None, str | None]:
    """The rids of one page in the order of `sort` then rid, and the cursors of the next
    and the previous page (None where there is none). A cursor names the row a page
    starts after ("n") or ends before ("p")."""
    single = None if sort else one_clause_rows(plan, keys)
    if single is not None:  # in rid order: the index rows alone (one_clause_rows)
        inner = f"SELECT DISTINCT i.rid AS rid {single[0]}"
        return await keyset_page(fetch, inner, single[1], sort, count, cursor)
    column_args: list[Any] = []
    columns = sort_columns(plan, keys, sort, column_args)
    inner, where_args = compile_plan(plan, keys, ", ".join(["r.rid AS rid", *columns]))
    return await keyset_page(fetch, inner, [*column_args, *where_args], sort, count, cursor)


def whole_first_page(
    cursor: str | None, count: int, rids: Sequence[int], next_cursor: str | None
) -> int | None:
    """Bundle.total without counting, when the page asked for is the first and holds every
    match (a page of at least one row and no next one): its size. None: count them."""
    if cursor is None and count > 0 and next_cursor is None:
        return len(rids)
    return None


def sort_columns(
    plan: Plan, keys: SearchKeys, sort: Sequence[SortKey], args: list[Any]
) -> list[str]:
    """The select-list items k0..kn of the sort values of a unit (alias r) of `plan`."""
    return [f"{_key_sql(key, plan, keys, args)} AS k{n}" for n, key in enumerate(sort)]


async def keyset_page(
    fetch: Fetch,
    inner: str,
    base: list[Any],
    sort: Sequence[SortKey],
    count: int,
    cursor: str | None,
) -> tuple[list[int], str | None, str | None]:
    """page_of on the rows of `inner` (SQL selecting `rid` and k0..kn, with the arguments
    `base`): any integer `rid` that orders the units and tells them apart will do."""
    direction, values = ("n", None) if cursor is None else _decode(cursor, len(sort))
    backwards = direction == "p"
    rows = await _rows(fetch, inner, base, sort, values, backwards, count + 1)
    more = len(rows) > count
    page = rows[:count]
    if backwards:
        page.reverse()
    if not page:
        return [], None, None
    if backwards:
        has_before = more
        has_after = await _any_row(fetch, inner, base, sort, _values(page[-1]), False)
    else:
        has_after = more
        has_before = values is not None and await _any_row(
            fetch, inner, base, sort, _values(page[0]), True
        )
    next_cursor = _encode("n", page[-1]) if has_after and count else None
    previous_cursor = _encode("p", page[0]) if has_before and count else None
    return [row[0] for row in page], next_cursor, previous_cursor


async def _rows(
    fetch: Fetch,
    inner: str,
    args: list[Any],
    sort: Sequence[SortKey],
    values: list[Any] | None,
    backwards: bool,
    limit: int,
) -> list[tuple[Any, ...]]:
    where, where_args = "", list[Any]()
    if values is not None:
        condition, where_args = _beyond(sort, values, backwards)
        where = f" WHERE {condition}"
    order = ", ".join(
        [f"k{n}{' DESC' if key.descending != backwards else ''}" for n, key in enumerate(sort)]
        + ["rid DESC" if backwards else "rid"]
    )
    sql = f"SELECT * FROM ({inner}) page{where} ORDER BY {order} LIMIT ?"
    return await fetch(sql, [*args, *where_args, limit])


async def _any_row(
    fetch: Fetch,
    inner: str,
    args: list[Any],
    sort: Sequence[SortKey],
    values: list[Any],
    backwards: bool,
) -> bool:
    return bool(await _rows(fetch, inner, args, sort, values, backwards, 1))


def _values(row: tuple[Any, ...]) -> list[Any]:
    """A row (rid, k0..kn) as cursor values (k0..kn, rid)."""
    return [*row[1:], row[0]]


def _beyond(sort: Sequence[SortKey], values: list[Any], backwards: bool) -> tuple[str, list[Any]]:
    """Rows after (or, backwards, before) (k0..kn, rid) = values in the page order."""
    *key_values, rid = values
    alternatives: list[str] = []
    args: list[Any] = []
    for n in range(len(sort) + 1):
        equal = [f"k{m} = ?" for m in range(n)]
        args.extend(key_values[:n])
        if n < len(sort):
            later = sort[n].descending == backwards  # ascending forwards: greater
            equal.append(f"k{n} {'>' if later else '<'} ?")
            args.append(key_values[n])
        else:
            equal.append(f"rid {'<' if backwards else '>'} ?")
            args.append(rid)
        alternatives.append("(" + " AND ".join(equal) + ")")
    return "(" + " OR ".join(alternatives) + ")", args


def _encode(direction: str, row: tuple[Any, ...]) -> str:
    data = orjson.dumps([direction, *_values(row)])
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _decode(cursor: str, keys: int) -> tuple[str, list[Any]]:
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        values = None
    if (
        not isinstance(values, list)
        or len(values) != keys + 2
        or values[0] not in ("n", "p")
        or not isinstance(values[-1], int)
        or not all(isinstance(v, str | int | float) for v in values)
    ):
        raise bad_request(f"_cursor={cursor} is not a cursor this server gave out", "_cursor")
    return values[0], values[1:]


async def included(
    fetch: Fetch,
    keys: SearchKeys,
    reference_bits: dict[str, int],
    matches: Sequence[StoredVersion],
    includes: Sequence[Include],
    revincludes: Sequence[Include],
    limit: int,
    visibility: Visibility | None = None,
) -> list[StoredVersion]:
    """See Storage.include. `reference_bits`: per type, the bits of all its reference
    parameters (for `*`)."""
    seen = {(v.resource_type, v.id) for v in matches}
    out: list[StoredVersion] = []
    frontier = list(matches)
    for round_number in range(ITERATE_ROUNDS + 1):
        first = round_number == 0
        found: list[StoredVersion] = []
        for include in includes:
            if first or include.iterate:
                found += await _forward(fetch, keys, reference_bits, frontier, include, visibility)
        for include in revincludes:
            if first or include.iterate:
                found += await _reverse(fetch, keys, reference_bits, frontier, include, visibility)
        fresh = []
        for version in found:
            key = (version.resource_type, version.id)
            if key not in seen:
                seen.add(key)
                fresh.append(version)
        out.extend(fresh)
        if len(out) >= limit:
            return out[:limit]
        if not fresh or not any(i.iterate for i in (*includes, *revincludes)):
            break
        frontier = fresh
    return out


def _bits(keys: SearchKeys, reference_bits: dict[str, int], source: str, include: Include) -> int:
    if include.param is None:
        return reference_bits.get(source, 0)
    return keys.param(source, include.param).bit


def visible_rows(
    keys: SearchKeys, resource_type: str, visibility: Visibility | None
) -> tuple[str, list[Any]]:
    """` AND r.rid IN (...)`: the resources (alias r) of a type the caller may see; ""
    when it may see all of them."""
    clauses = visibility(resource_type) if visibility is not None else ()
    if not clauses:
        return "", []
    sql, args = compile_plan(Plan(resource_type, clauses), keys)
    return f" AND r.rid IN ({sql})", args


def visible_versions(
    keys: SearchKeys,
    visibility: Visibility | None,
    resource_type: str | None,
    resource_types: Iterable[str],
) -> tuple[str, list[Any]] | None:
    """The condition keeping the versions (alias v) of resources the caller may see now, in
    the history of `resource_type` (None: of the system, all of `resource_types`); None
    when it may see all of them."""
    if visibility is None:
        return None
    types = [resource_type] if resource_type is not None else sorted(resource_types)
    narrowed = [(t, clauses) for t in types if (clauses := visibility(t))]
    if not narrowed:
        return None
    selects: list[str] = []
    args: list[Any] = []
    for rtype, clauses in narrowed:
        sql, plan_args = compile_plan(Plan(rtype, clauses), keys)
        selects.append(sql)
        args += plan_args
    condition = "v.rid IN (" + " UNION ALL ".join(selects) + ")"
    if resource_type is not None:
        return condition, args
    marks = ", ".join("?" * len(narrowed))
    return f"(v.type NOT IN ({marks}) OR {condition})", [*(t for t, _ in narrowed), *args]


def _ids_by_type(versions: Sequence[StoredVersion]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for version in versions:
        grouped.setdefault(version.resource_type, []).append(version.id)
    return grouped


async def _forward(
    fetch: Fetch,
    keys: SearchKeys,
    reference_bits: dict[str, int],
    sources: Sequence[StoredVersion],
    include: Include,
    visibility: Visibility | None,
) -> list[StoredVersion]:
    ids = _ids_by_type(sources).get(include.source)
    bits = _bits(keys, reference_bits, include.source, include)
    if not ids or not bits:
        return []
    marks = ", ".join("?" * len(ids))
    target = " AND i.target_type = ?" if include.target else " AND i.target_type != ''"
    args: list[Any] = [include.source, *ids, bits]
    if include.target:
        args.append(include.target)
    targets = await fetch(
        "SELECT DISTINCT i.target_type, i.target_id FROM resource s"
        " JOIN idx_reference i ON i.rid = s.rid"
        f" WHERE s.type = ? AND s.id IN ({marks}) AND (i.params & ?) <> 0{target}",
        args,
    )
    out: list[StoredVersion] = []
    for target_type, target_id in targets:
        visible, visible_args = visible_rows(keys, target_type, visibility)
        rows = await fetch(
            f"SELECT {VERSION_COLUMNS} FROM resource r JOIN version v ON v.seq = r.seq"
            f" WHERE r.type = ? AND r.id = ? AND r.deleted = 0{visible}",
            [target_type, target_id, *visible_args],
        )
        out.extend(row_to_version(row) for row in rows)
    return out


async def _reverse(
    fetch: Fetch,
    keys: SearchKeys,
    reference_bits: dict[str, int],
    targets: Sequence[StoredVersion],
    include: Include,
    visibility: Visibility | None,
) -> list[StoredVersion]:
    bits = _bits(keys, reference_bits, include.source, include)
    if not bits:
        return []
    visible, visible_args = visible_rows(keys, include.source, visibility)
    out: list[StoredVersion] = []
    for target_type, ids in _ids_by_type(targets).items():
        if include.target is not None and include.target != target_type:
            continue
        marks = ", ".join("?" * len(ids))
        rows = await fetch(
            f"SELECT {VERSION_COLUMNS} FROM resource r JOIN version v ON v.seq = r.seq"
            " WHERE r.rid IN (SELECT i.rid FROM idx_reference i"
            f" WHERE i.t = ? AND i.target_id IN ({marks}) AND i.target_type = ?"
            f" AND (i.params & ?) <> 0) AND r.deleted = 0{visible} ORDER BY r.rid",
            [keys.type_key(include.source), *ids, target_type, bits, *visible_args],
        )
        out.extend(row_to_version(row) for row in rows)
    return out
