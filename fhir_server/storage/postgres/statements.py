"""The PostgreSQL store's own statements (the shared ones are in sqlite/queries.py,
sqlite/search_sql.py and history_sql.py, numbered by dialect.py)."""

from __future__ import annotations

from fhir_server.storage.postgres.dialect import numbered
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


def _index_inserts(rid: str, first: int) -> str:
    """Data-modifying CTEs inserting one resource's index rows from unnested arrays.

    `rid`: the SQL of its rid (a column of the CTE k); `first`: the number of the first of
    the parameters (the type key, then the arrays of index_rows.index_arrays)."""
    n = first
    t = f"${n}"

    def p(kind: str) -> str:
        nonlocal n
        n += 1
        return f"${n}::{kind}[]"

    return (
        f"i1 AS (INSERT INTO idx_string (t, value, rid, exact, params)"
        f" SELECT {t}, u.a, {rid}, u.b, u.c FROM unnest({p('text')}, {p('text')},"
        f" {p('bigint')}) u(a, b, c)),"
        f" i2 AS (INSERT INTO idx_token (t, code, system, rid, text, params)"
        f" SELECT {t}, u.a, u.b, {rid}, u.c, u.d FROM unnest({p('text')}, {p('text')},"
        f" {p('text')}, {p('bigint')}) u(a, b, c, d)),"
        f" i3 AS (INSERT INTO idx_reference (t, target_id, target_type, rid, url, params)"
        f" SELECT {t}, u.a, u.b, {rid}, u.c, u.d FROM unnest({p('text')}, {p('text')},"
        f" {p('text')}, {p('bigint')}) u(a, b, c, d)),"
        f" i4 AS (INSERT INTO idx_date (p, low, high, rid)"
        f" SELECT u.a, u.b, u.c, {rid} FROM unnest({p('integer')}, {p('text')},"
        f" {p('text')}) u(a, b, c)),"
        f" i5 AS (INSERT INTO idx_number (p, low, high, rid)"
        f" SELECT u.a, u.b, u.c, {rid} FROM unnest({p('integer')}, {p('float8')},"
        f" {p('float8')}) u(a, b, c)),"
        f" i6 AS (INSERT INTO idx_quantity (p, low, high, rid, system, code)"
        f" SELECT u.a, u.b, u.c, {rid}, u.d, u.e FROM unnest({p('integer')}, {p('float8')},"
        f" {p('float8')}, {p('text')}, {p('text')}) u(a, b, c, d, e)),"
        f" i7 AS (INSERT INTO idx_uri (p, value, rid)"
        f" SELECT u.a, u.b, {rid} FROM unnest({p('integer')}, {p('text')}) u(a, b)),"
        f" i8 AS (INSERT INTO idx_composite (p, g, n, {', '.join(COMPOSITE_COLUMNS)}, rid)"
        f" SELECT u.*, {rid} FROM unnest({p('integer')}, {p('integer')}, {p('integer')},"
        + ", ".join(p(kind) for kind in _COMPOSITE_TYPES)
        + ") u),"
        f" i9 AS (INSERT INTO idx_fulltext (rid, words) SELECT {rid},"
        f" array_to_tsvector({p('text')}) FROM k WHERE cardinality(${n}::text[]) > 0)"
    )


# the SQL types of COMPOSITE_COLUMNS
_COMPOSITE_TYPES = ("text",) * 7 + ("float8", "float8", "text", "text")


_DELETES = ", ".join(
    f"d{n} AS (DELETE FROM {table} x USING k WHERE x.rid = k.rid)"
    for n, table in enumerate(
        (
            "idx_string",
            "idx_token",
            "idx_reference",
            "idx_date",
            "idx_number",
            "idx_quantity",
            "idx_uri",
            "idx_composite",
            "idx_fulltext",
        ),
        start=1,
    )
)

# One round trip per write: the next version, the current pointer, the outbox event, the
# old index rows out and the new ones in, and a notification delivered at commit.
# $1 rid (NULL: a new resource), $2 type, $3 id, $4 version, $5 lastUpdated, $6 method,
# $7 deleted, $8 data, $9 principal, $10 organisation, $11… the index arrays.
# Returns the rid and the version's seq. (Contained resources: postgres/contained_rows.py.)
# The transaction takes the seq holders' lock (x) before its seq: the outbox's readers
# wait for the transactions listed as holding it (postgres/locks.py, postgres/outbox.py).
WRITE = (
    f"WITH x AS MATERIALIZED (SELECT {TAKE_SEQ_HOLDERS}),"
    " k AS MATERIALIZED (SELECT coalesce($1::bigint, nextval('resource_rid')) AS rid,"
    " nextval('version_seq') AS seq FROM x),"
    " res AS (INSERT INTO resource (rid, type, id, version, seq, deleted)"
    " SELECT k.rid, $2, $3, $4, k.seq, $7 FROM k ON CONFLICT (rid) DO UPDATE"
    " SET version = excluded.version, seq = excluded.seq, deleted = excluded.deleted),"
    " ver AS (INSERT INTO version (seq, rid, type, id, version, last_updated, method,"
    " deleted, data) SELECT k.seq, k.rid, $2, $3, $4, $5, $6, $7, $8 FROM k),"
    " box AS (INSERT INTO outbox (seq, type, id, version, method, at, principal,"
    " organisation) SELECT k.seq, $2, $3, $4, $6, $5, $9, $10 FROM k), "
    + _DELETES
    + ", "
    + _index_inserts("k.rid", 11).replace(" FROM unnest(", " FROM k, unnest(")
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

# One contained resource: its `contained` row and its index rows. $1 its key, $2 the
# container's rid, $3 the container's seq, $4 its type, $5 its local id, $6… the index
# arrays (index_rows.index_arrays).
CONTAINED_INSERT = (
    "WITH k AS MATERIALIZED (SELECT $1::bigint AS rid),"
    " c AS (INSERT INTO contained (rid, container, seq, type, id)"
    " SELECT k.rid, $2, $3, $4, $5 FROM k), "
    + _index_inserts("k.rid", 6).replace(" FROM unnest(", " FROM k, unnest(")
    + " SELECT 1"
)
