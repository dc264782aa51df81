"""SQL written for both stores (`?` placeholders, SQLite's `+column` planner hint) as
PostgreSQL takes it: placeholders numbered $1, $2, …, the hint dropped (unary plus is not
defined for text in PostgreSQL; its planner has statistics and needs no hint), and the
full-text condition on FTS5 replaced by one on a tsvector."""

from __future__ import annotations

from functools import lru_cache

from fhir_server.storage.sqlite.search_sql import FULL_TEXT_SQL

# FULL_TEXT_SQL on idx_fulltext's tsvector: the same argument (words joined by ' ', the
# alternatives by '|') made into the tsquery `(w1:* & w2:*) | (w3:*)`; the words are
# letters, digits and §, which a tsquery takes as they are
_FULL_TEXT_SQL = (
    "r.rid IN (SELECT f.rid FROM idx_fulltext f WHERE f.words @@"
    " ('(' || replace(replace(?, ' ', ':* & '), '|', ':*) | (') || ':*)')::tsquery)"
)


@lru_cache(maxsize=4096)
def numbered(sql: str) -> str:
    """`?` → `$n`. The shared SQL keeps every value in a parameter, so a `?` is never
    inside a literal."""
    sql = sql.replace("+r.type", "r.type").replace(FULL_TEXT_SQL, _FULL_TEXT_SQL)
    parts = sql.split("?")
    out = [parts[0]]
    for number, part in enumerate(parts[1:], start=1):
        out.append(f"${number}")
        out.append(part)
    return "".join(out)
