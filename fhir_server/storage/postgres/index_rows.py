"""A resource's search index rows as the column arrays the PostgreSQL statements unnest.

The rows are those of the SQLite store (sqlite/index_rows.py): string, token and reference
values once per resource with the bit set of their parameters; date, number, quantity and
uri rows per parameter, deduplicated here (the tables have no unique key).
"""

from __future__ import annotations

from typing import Any

from fhir_server.search.index import IndexEntries
from fhir_server.storage.sqlite.index_rows import INDEX_TABLES, SearchKeys

__all__ = ["INDEX_TABLES", "index_arrays"]

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


def index_arrays(keys: SearchKeys, rid: int, rtype: str, entries: IndexEntries) -> tuple[Any, ...]:
    """The 25 values of statements.INDEX_PARAMETERS: the type key, then column arrays."""
    t = keys.type_key(rtype)
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
    dates = {(keys.param(rtype, code).id, low, high) for code, low, high in entries.dates}
    numbers = {(keys.param(rtype, code).id, low, high) for code, low, high in entries.numbers}
    quantities = {
        (keys.param(rtype, code).id, low, high, system or "", unit or "")
        for code, low, high, system, unit in entries.quantities
    }
    uris = {(keys.param(rtype, code).id, _key(value)) for code, value in entries.uris}
    return (
        t,
        *_columns(((v, e, b) for (v, e), b in strings.items()), 3),
        *_columns(((c, s, x, b) for (c, s, x), b in tokens.items()), 4),
        *_columns(((i, y, u, b) for (i, y, u), b in references.items()), 4),
        *_columns(dates, 3),
        *_columns(numbers, 3),
        *_columns(quantities, 5),
        *_columns(uris, 2),
    )


def _columns(rows: Any, width: int) -> list[list[Any]]:
    columns: list[list[Any]] = [[] for _ in range(width)]
    for row in rows:
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    return columns
