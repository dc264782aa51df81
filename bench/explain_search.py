"""Where a search's time goes in the SQLite store: its SQL, query plans and timings.

    python bench/explain_search.py DB_PATH '/Observation?code=http://loinc.org|8302-2'

Runs the steps SqliteStorage.search and .include run (the page with its cursors, the
current versions, the count(*) total, _include/_revinclude) in this process on the
database, times each, and prints every distinct statement they executed with SQLite's
EXPLAIN QUERY PLAN. Read-only apart from SearchKeys.ensure (adds no keys to a store the
same code base wrote).
"""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fhir_server.definitions import Definitions, load_definitions
from fhir_server.search.criteria import parse_criteria
from fhir_server.search.indexer import Indexer
from fhir_server.search.results import Include, SortKey, parse_include, parse_sort
from fhir_server.storage.sqlite.connection import open_connection
from fhir_server.storage.sqlite.index_rows import SearchKeys
from fhir_server.storage.sqlite.queries import current_versions
from fhir_server.storage.sqlite.reindex import indexed_parameters
from fhir_server.storage.sqlite.search_results import included, page_of
from fhir_server.storage.sqlite.search_sql import count_plan

_DEFINITIONS: list[Definitions] = []


def _definitions() -> Definitions:
    if not _DEFINITIONS:
        _DEFINITIONS.append(load_definitions())
    return _DEFINITIONS[0]


def explain_url(db: Path, path: str, show_sql: int = 1500) -> dict[str, float]:
    definitions = _definitions()
    indexer = Indexer(definitions)
    conn = open_connection(db)
    params = indexed_parameters(definitions, indexer)
    keys = SearchKeys.ensure(conn, ((t, c, k) for t, c, k, _ in params))
    reference_bits = {
        rtype: sum(
            keys.param(rtype, code).bit
            for code, kind, _ in indexer.indexed(rtype)
            if kind == "reference"
        )
        for rtype in definitions.resource_types
    }
    parts = urlsplit(path)
    rtype = parts.path.strip("/").split("/")[0]
    criteria: list[tuple[str, str]] = []
    sort: list[SortKey] = []
    includes: list[Include] = []
    revincludes: list[Include] = []
    count, cursor = 50, None
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        code = name.split(":", 1)[0]
        if code == "_sort":
            sort += parse_sort(definitions, rtype, [value])
        elif code in ("_include", "_revinclude"):
            found = parse_include(definitions, rtype, name, value)
            (includes if code == "_include" else revincludes).append(found)
        elif code == "_count":
            count = int(value)
        elif code == "_cursor":
            cursor = value
        elif code not in ("_total",):
            criteria.append((name, value))
    plan = parse_criteria(definitions, rtype, criteria)
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    timings: dict[str, float] = {}

    def timed(label: str, work: object) -> object:
        t0 = time.perf_counter()
        result = work()  # type: ignore[operator]
        timings[label] = 1000 * (time.perf_counter() - t0)
        return result

    rids, _, _ = timed("page", lambda: page_of(conn, plan, keys, sort, count, cursor))  # type: ignore[misc]
    versions = timed("read versions", lambda: current_versions(conn, rids))
    sql, args = count_plan(plan, keys)
    (total,) = timed(  # type: ignore[misc]
        "count total", lambda: conn.execute(sql, args).fetchone()
    )
    if includes or revincludes:
        extra = timed(
            "include",
            lambda: included(
                conn,
                keys,
                reference_bits,
                versions,
                includes,
                revincludes,
                1001,  # type: ignore[arg-type]
            ),
        )
        print(f"   included: {len(extra)}")  # type: ignore[arg-type]
    conn.set_trace_callback(None)
    print(f"   page rows {len(rids)}, total {total}")
    print("   " + ", ".join(f"{k} {v:.1f} ms" for k, v in timings.items()))
    seen: set[str] = set()
    for statement in statements:
        shape = statement.split(" WHERE ", 1)[0] if "r.rid = " in statement else statement
        if shape in seen or statement.startswith(("BEGIN", "COMMIT", "PRAGMA")):
            continue
        seen.add(shape)
        text = statement if len(statement) <= show_sql else statement[:show_sql] + " ..."
        print(f"   SQL: {text}")
        depth: dict[int, int] = {0: 0}
        for node, parent, _, detail in conn.execute("EXPLAIN QUERY PLAN " + statement):
            depth[node] = depth.get(parent, 0) + 1
            print(f"     {'  ' * depth[node]}{detail}")
    conn.close()
    return timings


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    for path in sys.argv[2:]:
        print(f"== {path}")
        try:
            explain_url(Path(sys.argv[1]), path)
        except sqlite3.Error as exc:
            print(f"   sqlite error: {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
