"""The PostgreSQL store's own statements (the shared ones are in sqlite/queries.py,
sqlite/search_sql.py and history_sql.py, numbered by dialect.py)."""

from __future__ import annotations

from functools import cache

from fhir_server.storage.postgres.dialect import numbered
from fhir_server.storage.postgres.index_rows import Present
from fhir_server.storage.postgres.locks import TAKE_SEQ_HOLDERS
from fhir_server.storage.sqlite.index_rows import COMPOSITE_COLUMNS, FULL_TEXT_TABLE, INDEX_TABLES
from fhir_server.storage.sqlite.queries import CURRENT_BY_KEY, VERSION_BY_KEY, VERSION_COLUMNS

NOTIFY_CHANNEL = "fhir_outbox"

READ_CURRENT = numbered(CURRENT_BY_KEY)
READ_VERSION = numbered(VERSION_BY_KEY)
# the current versions of several (type, id) at once (read_batch.py)
READ_CURRENT_MANY = (
    f"SELECT {VERSION_COLUMNS} FROM unnest($1::text[], $2::text[]) u(t, i)"
    " JOIN resource r ON r.type = u.t AND r.id = u.i JOIN version v ON v.seq = r.seq"
)

# locks the resource's identity for the rest of the transaction, then reads it
LOCK_CURRENT = "SELECT * FROM fhir_lock_current($1, $2, $3)"

CURRENT_BY_RIDS = (
    f"SELECT {VERSION_COLUMNS}, r.rid FROM resource r JOIN version v ON v.seq = r.seq"
    " WHERE r.rid = ANY($1::bigint[])"
)


# Per index table (INDEX_TABLES order, then idx_fulltext): the SQL types of its column
# arrays (index_rows.index_arrays) and its INSERT … SELECT from them, where {t} is the
# type key's parameter, {rid} the SQL of the rid and {a} the arrays' parameters.
_COMPOSITE_TYPES = ("text",) * 7 + ("float8", "float8", "text", "text")
_INSERTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("text", "text", "bigint"),
        "INSERT INTO idx_string (t, value, rid, exact, params)"
        " SELECT {t}, u.a, {rid}, u.b, u.c FROM k, unnest({a}) u(a, b, c)",
    ),
    (
        ("text", "text", "text", "bigint"),
        "INSERT INTO idx_token (t, code, system, rid, text, params)"
        " SELECT {t}, u.a, u.b, {rid}, u.c, u.d FROM k, unnest({a}) u(a, b, c, d)",
    ),
    (
        ("text", "text", "text", "bigint"),
        "INSERT INTO idx_reference (t, target_id, target_type, rid, url, params)"
        " SELECT {t}, u.a, u.b, {rid}, u.c, u.d FROM k, unnest({a}) u(a, b, c, d)",
    ),
    (
        ("integer", "text", "text"),
        "INSERT INTO idx_date (p, low, high, rid)"
        " SELECT u.a, u.b, u.c, {rid} FROM k, unnest({a}) u(a, b, c)",
    ),
    (
        ("integer", "float8", "float8"),
        "INSERT INTO idx_number (p, low, high, rid)"
        " SELECT u.a, u.b, u.c, {rid} FROM k, unnest({a}) u(a, b, c)",
    ),
    (
        ("integer", "float8", "float8", "text", "text"),
        "INSERT INTO idx_quantity (p, low, high, rid, system, code)"
        " SELECT u.a, u.b, u.c, {rid}, u.d, u.e FROM k, unnest({a}) u(a, b, c, d, e)",
    ),
    (
        ("integer", "text"),
        "INSERT INTO idx_uri (p, value, rid) SELECT u.a, u.b, {rid} FROM k, unnest({a}) u(a, b)",
    ),
    (
        ("integer", "integer", "integer", *_COMPOSITE_TYPES),
        f"INSERT INTO idx_composite (p, g, n, {', '.join(COMPOSITE_COLUMNS)}, rid)"
        " SELECT u.*, {rid} FROM k, unnest({a}) u",
    ),
    (
        ("text",),
        "INSERT INTO idx_fulltext (rid, words) SELECT {rid}, array_to_tsvector({a}) FROM k",
    ),
)
_TYPE_KEYED = 3  # the first three tables carry the type key (t)


def _index_inserts(rid: str, first: int, present: Present) -> list[str]:
    """Data-modifying CTEs inserting one resource's index rows from unnested arrays, into
    the tables `present` names only (index_rows.index_arrays gives their parameters).

    `rid`: the SQL of its rid (a column of the CTE k); `first`: the number of the first of
    the index parameters."""
    n = first
    t = ""
    if any(present[:_TYPE_KEYED]):
        t = f"${n}::bigint"
        n += 1
    ctes = []
    for number, ((kinds, insert), wanted) in enumerate(zip(_INSERTS, present, strict=True)):
        if not wanted:
            continue
        arrays = ", ".join(f"${n + i}::{kind}[]" for i, kind in enumerate(kinds))
        n += len(kinds)
        ctes.append(f"i{number + 1} AS ({insert.format(t=t, rid=rid, a=arrays)})")
    return ctes


_DELETES = [
    f"d{n} AS (DELETE FROM {table} x USING k WHERE x.rid = k.rid)"
    for n, table in enumerate((*INDEX_TABLES, FULL_TEXT_TABLE), start=1)
]


@cache
def write_statement(new: bool, present: Present) -> str:
    """One round trip per write: the next version, the current pointer, the outbox event,
    the old index rows out (`new`: there are none, the resource never existed) and the new
    ones in (into the tables `present` names), and a notification delivered at commit.

    $1 rid (NULL: a new resource), $2 type, $3 id, $4 version, $5 lastUpdated, $6 method,
    $7 deleted, $8 data, $9 principal, $10 organisation, $11… the index parameters.
    Returns the rid and the version's seq. (Contained resources: postgres/contained_rows.py.)
    The transaction takes the seq holders' lock (x) before its seq: the outbox's readers
    wait for the transactions listed as holding it (postgres/locks.py, postgres/outbox.py).
    """
    ctes = [
        f"x AS MATERIALIZED (SELECT {TAKE_SEQ_HOLDERS})",
        "k AS MATERIALIZED (SELECT coalesce($1::bigint, nextval('resource_rid')) AS rid,"
        " nextval('version_seq') AS seq FROM x)",
        "res AS (INSERT INTO resource (rid, type, id, version, seq, deleted)"
        " SELECT k.rid, $2, $3, $4, k.seq, $7 FROM k ON CONFLICT (rid) DO UPDATE"
        " SET version = excluded.version, seq = excluded.seq, deleted = excluded.deleted)",
        "ver AS (INSERT INTO version (seq, rid, type, id, version, last_updated, method,"
        " deleted, data) SELECT k.seq, k.rid, $2, $3, $4, $5, $6, $7, $8 FROM k)",
        "box AS (INSERT INTO outbox (seq, type, id, version, method, at, principal,"
        " organisation) SELECT k.seq, $2, $3, $4, $6, $5, $9, $10 FROM k)",
        *([] if new else _DELETES),
        *_index_inserts("k.rid", 11, present),
    ]
    return (
        "WITH "
        + ", ".join(ctes)
        + f" SELECT k.rid, k.seq, pg_notify('{NOTIFY_CHANNEL}', '') FROM k"
    )


# A container's contained resources and their index rows ($1..$2: their key range, see
# sqlite/contained_rows.py), when its former version may have had some.
CONTAINED_DELETE = (
    "WITH "
    + ", ".join(
        f"d{n} AS (DELETE FROM {table} WHERE rid BETWEEN $1 AND $2)"
        for n, table in enumerate((*INDEX_TABLES, FULL_TEXT_TABLE), start=1)
    )
    + " DELETE FROM contained WHERE rid BETWEEN $1 AND $2"
)


@cache
def contained_insert_statement(present: Present) -> str:
    """One contained resource: its `contained` row and its index rows (into the tables
    `present` names). $1 its key, $2 the container's rid, $3 the container's seq, $4 its
    type, $5 its local id, $6… the index parameters (index_rows.index_arrays)."""
    ctes = [
        "k AS MATERIALIZED (SELECT $1::bigint AS rid)",
        "c AS (INSERT INTO contained (rid, container, seq, type, id)"
        " SELECT k.rid, $2, $3, $4, $5 FROM k)",
        *_index_inserts("k.rid", 6, present),
    ]
    return "WITH " + ", ".join(ctes) + " SELECT 1"
