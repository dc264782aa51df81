"""SQL written for both stores (`?` placeholders, SQLite's `+column` planner hint) as
PostgreSQL takes it: placeholders numbered $1, $2, …, the hint dropped (unary plus is not
defined for text in PostgreSQL; its planner has statistics and needs no hint)."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=4096)
def numbered(sql: str) -> str:
    """`?` → `$n`. The shared SQL keeps every value in a parameter, so a `?` is never
    inside a literal."""
    sql = sql.replace("+r.type", "r.type")
    parts = sql.split("?")
    out = [parts[0]]
    for number, part in enumerate(parts[1:], start=1):
        out.append(f"${number}")
        out.append(part)
    return "".join(out)
