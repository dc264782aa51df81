"""A resource's search index rows as the column arrays the PostgreSQL statements unnest.

The rows are those of the SQLite store (sqlite/index_rows.py): string, token and reference
values once per resource with the bit set of their parameters; date, number, quantity and
uri rows per parameter, deduplicated here (the tables have no unique key).
"""

from __future__ import annotations

from typing import Any

import asyncpg

from fhir_server.search.index import IndexEntries
from fhir_server.storage.sqlite.index_rows import (
    COMPOSITE_COLUMNS,
    FULL_TEXT_TABLE,
    INDEX_TABLES,
    SearchKeys,
    composite_columns,
)

__all__ = [
    "COLUMNS",
    "FULL_TEXT_TABLE",
    "INDEX_TABLES",
    "NONE_PRESENT",
    "Present",
    "copy_index_records",
    "index_arrays",
    "index_records",
]

# A B-tree entry must fit in about a third of a page (2 704 bytes). Values that could come
# near it are cut to this many bytes (UTF-8) in the lookup columns; a search then matches
# on the first 1 000 bytes of such a value.
_KEY_BYTES = 1000


def _key(text: str) -> str:
    if len(text) * 4 <= _KEY_BYTES:  # cannot be too long: no encoding needed
        return text
    raw = text.encode()
    if len(raw) <= _KEY_BYTES:
        return text
    return raw[:_KEY_BYTES].decode(errors="ignore")


# the columns of each table as index_records gives its rows (COPY)
COLUMNS: dict[str, tuple[str, ...]] = {
    "idx_string": ("t", "rid", "value", "exact", "params"),
    "idx_token": ("t", "rid", "code", "system", "text", "params"),
    "idx_reference": ("t", "rid", "target_id", "target_type", "url", "params"),
    "idx_date": ("rid", "p", "low", "high"),
    "idx_number": ("rid", "p", "low", "high"),
    "idx_quantity": ("rid", "p", "low", "high", "system", "code"),
    "idx_uri": ("rid", "p", "value"),
    "idx_composite": ("rid", "p", "g", "n", *COMPOSITE_COLUMNS),
    # contained resources (postgres/contained_rows.py)
    "contained": ("rid", "container", "seq", "type", "id"),
}
# the lookup columns of a composite row (cut like the other tables' keys)
_COMPOSITE_KEYS = frozenset(
    COMPOSITE_COLUMNS.index(c) for c in ("system", "code", "value", "target_id", "url")
)


def _composite(kind: str, row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(
        _key(v) if n in _COMPOSITE_KEYS and isinstance(v, str) else v
        for n, v in enumerate(composite_columns(kind, row))
    )


def _rows(keys: SearchKeys, rtype: str, entries: IndexEntries) -> list[list[tuple[Any, ...]]]:
    """Per table (in INDEX_TABLES order), the rows without their rid and type key."""
    strings: dict[tuple[str, str], int] = {}
    for code, value, exact in entries.strings:
        pair = (_key(value), exact)
        strings[pair] = strings.get(pair, 0) | keys.param(rtype, code).bit
    tokens: dict[tuple[str, str, str], int] = {}
    for code, system, token, text in entries.tokens:
        triple = (_key(token or ""), _key(system or ""), _key(text or ""))
        tokens[triple] = tokens.get(triple, 0) | keys.param(rtype, code).bit
    references: dict[tuple[str, str, str], int] = {}
    for code, target_type, target_id, url in entries.references:
        triple = (_key(target_id or ""), target_type or "", _key(url))
        references[triple] = references.get(triple, 0) | keys.param(rtype, code).bit
    return [
        [(*pair, bits) for pair, bits in strings.items()],
        [(*triple, bits) for triple, bits in tokens.items()],
        [(*triple, bits) for triple, bits in references.items()],
        list({(keys.param(rtype, c).id, low, high) for c, low, high in entries.dates}),
        list({(keys.param(rtype, c).id, low, high) for c, low, high in entries.numbers}),
        list(
            {
                (keys.param(rtype, c).id, low, high, system or "", unit or "")
                for c, low, high, system, unit in entries.quantities
            }
        ),
        list({(keys.param(rtype, c).id, _key(value)) for c, value in entries.uris}),
        list(
            {
                (keys.param(rtype, c).id, group, position, *_composite(kind, row))
                for c, group, position, kind, row in entries.composites
            }
        ),
    ]


_WIDTHS = (3, 4, 4, 3, 3, 5, 2, 3 + len(COMPOSITE_COLUMNS))
# the tables keyed by the resource type's key (t), the first three of INDEX_TABLES
_TYPE_KEYED = 3

# Which index tables (INDEX_TABLES, then idx_fulltext) a resource has rows in: the
# statements insert into those only (statements.py), so a write pays no executor set-up
# for the tables it has nothing for.
Present = tuple[bool, ...]
NONE_PRESENT: Present = (False,) * (len(_WIDTHS) + 1)


def index_arrays(
    keys: SearchKeys, rtype: str, entries: IndexEntries
) -> tuple[Present, tuple[Any, ...]]:
    """Which tables get rows, and the values of the statements' index parameters for
    those: the type key (when a type-keyed table gets rows), each such table's column
    arrays, then the words of the resource's idx_fulltext row."""
    tables = _rows(keys, rtype, entries)
    present = (*(bool(rows) for rows in tables), bool(entries.words))
    out: list[Any] = [keys.type_key(rtype)] if any(present[:_TYPE_KEYED]) else []
    for rows, width in zip(tables, _WIDTHS, strict=True):
        if not rows:
            continue
        columns: list[list[Any]] = [[] for _ in range(width)]
        for row in rows:
            for column, value in zip(columns, row, strict=True):
                column.append(value)
        out.extend(columns)
    if entries.words:
        out.append(entries.words)
    return present, tuple(out)


def index_records(
    keys: SearchKeys, rid: int, rtype: str, entries: IndexEntries, into: dict[str, list[Any]]
) -> None:
    """Appends the resource's rows to `into` (table → records in COLUMNS order)."""
    t = keys.type_key(rtype)
    for table, rows in zip(INDEX_TABLES, _rows(keys, rtype, entries), strict=True):
        if not rows:
            continue
        target = into.setdefault(table, [])
        if table in ("idx_string", "idx_token", "idx_reference"):
            target.extend((t, rid, *row) for row in rows)
        else:
            target.extend((rid, *row) for row in rows)
    if entries.words:
        into.setdefault(FULL_TEXT_TABLE, []).append((rid, " ".join(entries.words)))


async def copy_index_records(conn: asyncpg.Connection, records: dict[str, list[Any]]) -> None:
    """COPY the rows index_records gathered (binary COPY: the fastest way in); the words
    by an INSERT that makes their tsvectors."""
    for table, rows in records.items():
        if table == FULL_TEXT_TABLE:
            await conn.execute(
                "INSERT INTO idx_fulltext (rid, words) SELECT u.r,"
                " array_to_tsvector(string_to_array(u.w, ' '))"
                " FROM unnest($1::bigint[], $2::text[]) u(r, w)",
                [rid for rid, _ in rows],
                [words for _, words in rows],
            )
            continue
        await conn.copy_records_to_table(table, records=rows, columns=COLUMNS[table])
