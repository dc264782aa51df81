"""The history of a resource, a type or the system as SQL both SQL stores run.

`?` placeholders; the PostgreSQL adapter numbers them (postgres/dialect.py). Newest first
by the global change order `seq`; the cursor is the last seq of the page before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fhir_server.outcome import bad_request
from fhir_server.storage.version_rows import VERSION_COLUMNS


def cursor_number(cursor: str | None) -> int | None:
    """A paging cursor this server gave out (a seq or rid), or a 400."""
    if cursor is None:
        return None
    if not cursor.isdigit():
        raise bad_request(f"_cursor={cursor} is not a cursor this server gave out", "_cursor")
    return int(cursor)


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    count_sql: str
    count_args: list[Any]
    page_sql: str
    page_args: list[Any]


def history_query(
    resource_type: str | None,
    rid: str | None,
    *,
    since: str | None,
    at: str | None,
    count: int,
    cursor: int | None,
    visible: tuple[str, list[Any]] | None = None,
) -> HistoryQuery:
    """The total and one page (`count` + 1 rows: one more says there is a next page);
    `visible`: a condition on the versions (alias v) the caller may see (sqlite/search_results.py
    `visible_versions`).
    """
    where: list[str] = []
    args: list[Any] = []
    if visible is not None:
        where.append(visible[0])
        args += visible[1]
    if resource_type is not None and rid is not None:
        where.append("v.rid = (SELECT rid FROM resource WHERE type = ? AND id = ?)")
        args += [resource_type, rid]
    elif resource_type is not None:
        where.append("v.type = ?")
        args.append(resource_type)
    if since is not None:
        where.append("v.last_updated >= ?")
        args.append(since)
    if at is not None:
        # the version that was current at that instant
        where.append(
            "v.last_updated <= ? AND NOT EXISTS (SELECT 1 FROM version n"
            " WHERE n.rid = v.rid AND n.version = v.version + 1"
            " AND n.last_updated <= ?)"
        )
        args += [at, at]
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    page_where = list(where)
    page_args = list(args)
    if cursor is not None:
        page_where.append("v.seq < ?")
        page_args.append(cursor)
    page_clause = (" WHERE " + " AND ".join(page_where)) if page_where else ""
    return HistoryQuery(
        count_sql=f"SELECT count(*) FROM version v{clause}",
        count_args=args,
        page_sql=f"SELECT {VERSION_COLUMNS} FROM version v{page_clause}"
        " ORDER BY v.seq DESC LIMIT ?",
        page_args=[*page_args, count + 1],
    )
