"""A search Plan as one SQLite query over the index tables.

    SELECT r.rid FROM resource r WHERE +r.type = ? AND r.deleted = 0
      AND r.rid IN (SELECT i.rid FROM idx_token i WHERE i.t = ? AND ... AND (i.params & ?) <> 0)
      AND EXISTS (SELECT 1 FROM idx_string i WHERE i.rid = r.rid AND (i.params & ?) <> 0 AND ...)

Each clause is one subquery on its index table, its alternatives (comma-separated values)
ORed inside it. String, token and reference rows are keyed by the resource type's key
(`t`) and say which parameters hold the value in the bit set `params`; the other tables
are keyed by the parameter's key (`p`) (see migrations/0002_search_index.sql).
The most selective clause (a token or reference before a string prefix or a date range)
drives: `r.rid IN (...)` reads its rows through the table's primary key, and the `+`
keeps SQLite from scanning every resource of the type instead. The other clauses are
correlated EXISTS / NOT EXISTS probes on the rows of each candidate (the rid index).
Measured on 50 000 Patients: a conditional create by identifier takes 0.03 ms this way,
10 ms scanning the type, 110 ms with EXISTS alone.
Semantics of the comparisons: see search/plan.py.

The PostgreSQL store runs the same SQL: write what both accept (bit tests as
`(x & ?) <> 0`, no integer as a truth value); postgres/dialect.py numbers the `?`
placeholders and drops the SQLite-only `+` planner hint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fhir_server.outcome import bad_request
from fhir_server.search.fulltext import search_words
from fhir_server.search.plan import (
    AnyOfClause,
    ChainClause,
    Clause,
    CompartmentClause,
    CompositeClause,
    DateClause,
    DateRange,
    FullTextClause,
    HasClause,
    IdClause,
    IndexKind,
    LastUpdatedClause,
    MissingClause,
    NumberClause,
    NumberRange,
    Plan,
    QuantityClause,
    QuantityMatch,
    ReferenceClause,
    ReferenceMatch,
    StringClause,
    StringMatch,
    TokenClause,
    TokenMatch,
    UriClause,
    UriMatch,
)
from fhir_server.storage.sqlite.index_rows import MASKED, SearchKeys

TABLES: dict[IndexKind, str] = {
    "string": "idx_string",
    "token": "idx_token",
    "reference": "idx_reference",
    "date": "idx_date",
    "number": "idx_number",
    "quantity": "idx_quantity",
    "uri": "idx_uri",
    "composite": "idx_composite",
}

# above every character a value can continue with: prefix ranges are [p, p + _TOP)
_TOP = "\U0010ffff"

# How few rows a clause usually selects; the lowest drives the query. Without statistics
# per value this is a guess from the kind of value: an identifier (system|value) or a
# reference names one resource, a code without a system (gender, status) names thousands.
_TOKEN_WITH_SYSTEM = 0
_REFERENCE = 0
_EXACT = 1
_IDENTIFIER_CODE = 2
_NUMBER = 3
_STRING_PREFIX = 4
_DATE = 5
_CODE = 6
_TEXT = 7
_ANY_ROW = 10


@dataclass(frozen=True, slots=True)
class _Subquery:
    """A clause as a condition on the rows of one index table (alias i)."""

    table: str
    kind: IndexKind
    param: str
    condition: str  # "" when any row of the parameter will do
    args: tuple[Any, ...]
    selectivity: int  # lower selects fewer rows (a guess, see above)
    negate: bool = False  # the resource has no such row


def compile_plan(
    plan: Plan, keys: SearchKeys, column: str = "r.rid", join: str = "", *, contained: bool = False
) -> tuple[str, list[Any]]:
    """The SQL selecting `column` (r.rid, r.id) of current resources matching `plan`, and
    its arguments. Nested plans (chains, _has) compile to nested queries whose aliases
    shadow the outer ones. `join` (no placeholders) joins another table to r; the SQL
    ends with its WHERE conditions, so a caller may append more.

    `contained`: the plan selects contained resources of its type instead (the table
    `contained`, alias r, with rid, container, seq, type and id: see
    migrations/0007_contained.sql); nested plans still select resources. `_has` cannot
    select them (nothing refers to a contained resource from outside its container)."""
    rtype = plan.resource_type
    ids = [c for c in plan.clauses if isinstance(c, IdClause) and not c.negate]
    subqueries = [_subquery(c, keys) for c in plan.clauses if isinstance(c, _INDEXED)]
    driver = None
    if not ids:
        candidates = [q for q in subqueries if not q.negate]
        if candidates:
            driver = min(candidates, key=lambda q: q.selectivity)
    # an OR of whole clauses (the caller's visibility) drives when nothing else does
    any_of = not ids and any(isinstance(c, AnyOfClause) for c in plan.clauses)
    # with a driver SQLite must not use the (type, id) index: the driver's rowids are better
    driven = driver is not None or any_of
    where = ["+r.type = ?" if driven else "r.type = ?"]
    if not contained:  # a contained resource's rows go with its container's deletion
        where.append("r.deleted = 0")
    args: list[Any] = [rtype]
    for clause in plan.clauses:
        if isinstance(clause, IdClause):
            marks = ", ".join("?" * len(clause.ids))
            where.append(f"r.id {'NOT IN' if clause.negate else 'IN'} ({marks})")
            args.extend(clause.ids)
        elif isinstance(clause, LastUpdatedClause):
            conditions = [
                _date_condition(r, "v.last_updated", "v.last_updated", args) for r in clause.ranges
            ]
            where.append(
                f"EXISTS (SELECT 1 FROM version v WHERE v.seq = r.seq AND {_any(conditions)})"
            )
        elif isinstance(clause, CompartmentClause):
            alternatives = []
            if clause.params:
                bits = 0
                for code in clause.params:
                    bits |= keys.param(rtype, code).bit
                alternatives.append(
                    "r.rid IN (SELECT i.rid FROM idx_reference i WHERE i.t = ?"
                    " AND i.target_id = ? AND i.target_type = ? AND (i.params & ?) <> 0)"
                )
                args.extend((keys.type_key(rtype), clause.focus_id, clause.compartment, bits))
            if rtype == clause.compartment and not contained:
                alternatives.append("r.id = ?")
                args.append(clause.focus_id)
            where.append(_any(alternatives))
        elif isinstance(clause, FullTextClause):
            where.append(FULL_TEXT_SQL)
            args.append(full_text_query(clause))
        elif isinstance(clause, HasClause):
            if contained:
                # _list=x is _has:List:item:_id=x (search/criteria.py)
                named = "_list" if clause.plan.resource_type == "List" else "_has"
                raise bad_request(
                    f"{named} does not apply to contained resources (_contained=true|both):"
                    " nothing refers to one from outside its container",
                    named,
                )
            where.append(_has(clause, rtype, keys, args))
        elif isinstance(clause, AnyOfClause):
            where.append(_any_of(clause, rtype, keys, args))
    for query in subqueries:
        condition = f" AND {query.condition}" if query.condition else ""
        key = keys.param(rtype, query.param)
        if query is driver:
            rows, rows_args = _driver_rows(query, rtype, keys)
            where.append(f"r.rid IN (SELECT i.rid {rows})")
            args.extend(rows_args)
        else:
            exists = "NOT EXISTS" if query.negate else "EXISTS"
            which = "(i.params & ?) <> 0" if query.kind in MASKED else "i.p = ?"
            where.append(
                f"{exists} (SELECT 1 FROM {query.table} i"
                f" WHERE i.rid = r.rid AND {which}{condition})"
            )
            args.extend((key.bit if query.kind in MASKED else key.id, *query.args))
    table = "contained" if contained else "resource"
    return f"SELECT {column} FROM {table} r{join} WHERE " + " AND ".join(where), args


def _has(clause: HasClause, rtype: str, keys: SearchKeys, args: list[Any]) -> str:
    # the referring resources are found first, joined to their references to these ids (a
    # join, not a nested IN: one SELECT less for SQLite's parser stack, see _any_of)
    single = one_clause_rows(clause.plan, keys, " JOIN idx_reference h ON h.rid = i.rid")
    if single is not None:  # the referring resources' index rows alone (one_clause_rows)
        inner, inner_args = f"SELECT h.target_id {single[0]}", single[1]
    else:
        join = " JOIN idx_reference h ON h.rid = r.rid"
        inner, inner_args = compile_plan(clause.plan, keys, "h.target_id", join)
    source = clause.plan.resource_type
    args.extend((*inner_args, keys.param(source, clause.param).bit, rtype))
    return f"r.id IN ({inner} AND (h.params & ?) <> 0 AND h.target_type = ?)"


def _any_of(clause: AnyOfClause, rtype: str, keys: SearchKeys, args: list[Any]) -> str:
    """An OR of whole clauses as one `r.rid IN (… UNION …)` of the rids each selects, flat
    (SQLite before 3.46 has a fixed parser stack: about ten nested SELECTs) and able to
    drive the query by rowid from the (usually few) rids, where an OR of conditions would
    read every resource of the type."""
    if not clause.clauses:
        return "1 = 0"
    selects = [_rows_of(alternative, rtype, keys, args) for alternative in clause.clauses]
    return "r.rid IN (" + " UNION ".join(selects) + ")"


def _rows_of(clause: Clause, rtype: str, keys: SearchKeys, args: list[Any]) -> str:
    """A SELECT of the rids of the resources of `rtype` for which `clause` holds (some
    may be deleted ones: the plan's own `r.deleted = 0` drops those)."""
    if isinstance(clause, HasClause):
        # the referring resources (r), their references (h), the resources referred to (t)
        source = clause.plan.resource_type
        join = (
            " JOIN idx_reference h ON h.rid = r.rid"
            " JOIN resource t ON t.type = h.target_type AND t.id = h.target_id"
        )
        inner, inner_args = compile_plan(clause.plan, keys, "t.rid", join)
        args.extend((*inner_args, keys.param(source, clause.param).bit, rtype))
        return f"{inner} AND (h.params & ?) <> 0 AND h.target_type = ?"
    if isinstance(clause, ChainClause):
        # the resources referred to (r) first, then the references to them (c) by primary
        # key: CROSS JOIN keeps SQLite from reading every reference of the type instead
        selects = []
        bit = keys.param(rtype, clause.param).bit
        for plan in clause.plans:
            inner, inner_args = compile_plan(plan, keys, "c.rid", " CROSS JOIN idx_reference c")
            selects.append(
                f"{inner} AND c.t = ? AND c.target_id = r.id AND c.target_type = ?"
                " AND (c.params & ?) <> 0"
            )
            args.extend((*inner_args, keys.type_key(rtype), plan.resource_type, bit))
        return " UNION ".join(selects)
    if isinstance(clause, _INDEXED):
        query = _subquery(clause, keys)
        if not query.negate:
            rows, rows_args = _driver_rows(query, rtype, keys)
            args.extend(rows_args)
            return f"SELECT i.rid {rows}"
    inner, inner_args = compile_plan(Plan(rtype, (clause,)), keys)
    args.extend(inner_args)
    return inner


# _text / _content on the FTS5 table of words (migrations/0006_fulltext.sql). The one
# argument is the words of each alternative joined by ' ', the alternatives by '|'
# (full_text_query); the SQL makes the FTS5 query `("w1"* AND "w2"*) OR ("w3"*)` of it.
# postgres/dialect.py puts its own tsvector condition in its place.
FULL_TEXT_SQL = (
    "r.rid IN (SELECT f.rowid FROM idx_fulltext f WHERE idx_fulltext MATCH"
    " '(\"' || replace(replace(?, ' ', '\"* AND \"'), '|', '\"*) OR (\"') || '\"*)')"
)


def full_text_query(clause: FullTextClause) -> str:
    """The argument of FULL_TEXT_SQL: the words as the index keeps them (search_words)."""
    return "|".join(
        " ".join(search_words(clause.param, word) for word in alternative)
        for alternative in clause.alternatives
    )


def one_clause_rows(plan: Plan, keys: SearchKeys, join: str = "") -> tuple[str, list[Any]] | None:
    """For a plan of one index clause: FROM … WHERE … of its index rows (alias i) that
    belong to resources, not contained ones, with `join` (no placeholders) after the
    table; else None.

    Such a plan is answered on those rows alone: they belong only to current, non-deleted
    resources of the type (a write replaces them, a delete removes them), so the resource
    table adds nothing but a probe per match. At 1 M resources, 32 700 Observations of one
    code count in 8 ms this way, 48 ms with the probes (bench/search.py); at 100 000 on
    PostgreSQL the first page of 3 284 takes 0.3 ms instead of 12-20 ms, read in rid order
    from the (t, code, system, rid) index and stopped at the page's end."""
    if len(plan.clauses) != 1 or not isinstance(plan.clauses[0], _INDEXED):
        return None
    query = _subquery(plan.clauses[0], keys)
    if query.negate:
        return None
    rows, args = _driver_rows(query, plan.resource_type, keys, join)
    # contained resources' rows have negative rids (see contained_rows.py)
    return f"{rows} AND i.rid > 0", args


def count_plan(plan: Plan, keys: SearchKeys) -> tuple[str, list[Any]]:
    """The SQL counting the resources that match `plan` (Bundle.total), and its arguments
    (on the index rows alone where one_clause_rows allows)."""
    single = one_clause_rows(plan, keys)
    if single is not None:
        return f"SELECT count(DISTINCT i.rid) {single[0]}", single[1]
    sql, args = compile_plan(plan, keys)
    return f"SELECT count(*) FROM ({sql}) matched", args


def _driver_rows(
    query: _Subquery, rtype: str, keys: SearchKeys, join: str = ""
) -> tuple[str, list[Any]]:
    """FROM ... WHERE ... of the index rows (alias i) a driving clause selects."""
    condition = f" AND {query.condition}" if query.condition else ""
    key = keys.param(rtype, query.param)
    if query.kind in MASKED:
        return (
            f"FROM {query.table} i{join} WHERE i.t = ?{condition} AND (i.params & ?) <> 0",
            [keys.type_key(rtype), *query.args, key.bit],
        )
    return f"FROM {query.table} i{join} WHERE i.p = ?{condition}", [key.id, *query.args]


_INDEXED = (
    ChainClause,
    MissingClause,
    StringClause,
    TokenClause,
    ReferenceClause,
    DateClause,
    NumberClause,
    QuantityClause,
    UriClause,
    CompositeClause,
)


def _subquery(clause: Clause, keys: SearchKeys) -> _Subquery:
    args: list[Any] = []
    if isinstance(clause, ChainClause):
        alternatives = []
        for plan in clause.plans:
            inner, inner_args = compile_plan(plan, keys, "r.id")
            alternatives.append(f"(i.target_type = ? AND i.target_id IN ({inner}))")
            args.extend((plan.resource_type, *inner_args))
        selectivity = min(_plan_selectivity(plan, keys) for plan in clause.plans)
        return _Subquery(
            "idx_reference", "reference", clause.param, _any(alternatives), tuple(args), selectivity
        )
    if isinstance(clause, MissingClause):
        return _Subquery(
            TABLES[clause.kind], clause.kind, clause.param, "", (), _ANY_ROW, negate=clause.missing
        )
    if isinstance(clause, StringClause):
        conditions = [_string_condition(m, args) for m in clause.matches]
        selectivity = max(_STRING_SELECTIVITY[m.mode] for m in clause.matches)
        return _Subquery(
            "idx_string", "string", clause.param, _any(conditions), tuple(args), selectivity
        )
    if isinstance(clause, TokenClause):
        if len(clause.matches) > _CODE_LIST:
            conditions = _code_lists(clause.matches, args)
        else:
            conditions = [_token_condition(m, args) for m in clause.matches]
        selectivity = max(_token_selectivity(clause.param, m) for m in clause.matches)
        return _Subquery(
            "idx_token",
            "token",
            clause.param,
            _any(conditions),
            tuple(args),
            selectivity,
            clause.negate,
        )
    if isinstance(clause, ReferenceClause):
        conditions = [_reference_condition(m, args) for m in clause.matches]
        return _Subquery(
            "idx_reference", "reference", clause.param, _any(conditions), tuple(args), _REFERENCE
        )
    if isinstance(clause, DateClause):
        conditions = [_date_condition(r, "i.low", "i.high", args) for r in clause.ranges]
        return _Subquery("idx_date", "date", clause.param, _any(conditions), tuple(args), _DATE)
    if isinstance(clause, NumberClause):
        conditions = [_number_condition(r, args) for r in clause.ranges]
        return _Subquery(
            "idx_number", "number", clause.param, _any(conditions), tuple(args), _NUMBER
        )
    if isinstance(clause, QuantityClause):
        conditions = [_quantity_condition(m, args) for m in clause.matches]
        return _Subquery(
            "idx_quantity", "quantity", clause.param, _any(conditions), tuple(args), _NUMBER
        )
    if isinstance(clause, UriClause):
        conditions = [_uri_condition(m, args) for m in clause.matches]
        return _Subquery("idx_uri", "uri", clause.param, _any(conditions), tuple(args), _EXACT)
    if isinstance(clause, CompositeClause):
        conditions = [_composite_condition(a, keys, args) for a in clause.alternatives]
        selectivity = max(_subquery(a[0], keys).selectivity for a in clause.alternatives)
        return _Subquery(
            "idx_composite", "composite", clause.param, _any(conditions), tuple(args), selectivity
        )
    raise TypeError(f"no SQL for {type(clause).__name__}")


# a column of the row a component condition is written for (`i.code`), to re-alias it
_ROW_COLUMN = re.compile(r"(?<![\w.])i\.")


def _composite_condition(components: tuple[Clause, ...], keys: SearchKeys, args: list[Any]) -> str:
    """One composite value on idx_composite rows (see migrations/0005_composite.sql): the
    first component on the row itself (alias i), each other one on a row of the same
    resource, parameter and item (`g`) at its position (`n`)."""
    parts = []
    for position, component in enumerate(components):
        if isinstance(component, DateClause):  # dates have columns of their own
            own: list[Any] = []
            condition = _any(
                [_date_condition(r, "i.dlow", "i.dhigh", own) for r in component.ranges]
            )
        else:
            query = _subquery(component, keys)
            condition, own = query.condition, list(query.args)
        args.extend(own)
        if position == 0:
            parts.append(f"i.n = 0 AND {condition}")
            continue
        alias = f"k{position}"
        parts.append(
            f"EXISTS (SELECT 1 FROM idx_composite {alias} WHERE {alias}.rid = i.rid"
            f" AND {alias}.p = i.p AND {alias}.g = i.g AND {alias}.n = {position}"
            f" AND {_ROW_COLUMN.sub(alias + '.', condition)})"
        )
    return "(" + " AND ".join(parts) + ")"


def _plan_selectivity(plan: Plan, keys: SearchKeys) -> int:
    """How selective a nested plan is: that of its most selective clause."""
    if any(isinstance(c, IdClause) and not c.negate for c in plan.clauses):
        return _REFERENCE
    found = [_subquery(c, keys).selectivity for c in plan.clauses if isinstance(c, _INDEXED)]
    found += [_REFERENCE for c in plan.clauses if isinstance(c, HasClause)]
    return min(found, default=_ANY_ROW)


_STRING_SELECTIVITY = {"exact": _EXACT, "starts": _STRING_PREFIX, "contains": _TEXT}


def _token_selectivity(param: str, match: TokenMatch) -> int:
    if match.text is not None:
        return _TEXT
    if match.system is not None and match.code is not None:
        return _TOKEN_WITH_SYSTEM
    if param == "identifier" or param.endswith("-identifier"):
        return _IDENTIFIER_CODE
    return _CODE


def _any(conditions: list[str]) -> str:
    return conditions[0] if len(conditions) == 1 else "(" + " OR ".join(conditions) + ")"


def _prefix_range(column: str, prefix: str, args: list[Any]) -> str:
    args.extend((prefix, prefix + _TOP))
    return f"({column} >= ? AND {column} < ?)"


def _string_condition(match: StringMatch, args: list[Any]) -> str:
    if match.mode == "exact":
        args.append(match.value)
        return "i.exact = ?"
    if match.mode == "contains":
        args.append("%" + _like_escaped(match.value) + "%")
        return "i.value LIKE ? ESCAPE '\\'"
    return _prefix_range("i.value", match.value, args)


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _token_condition(match: TokenMatch, args: list[Any]) -> str:
    if match.text is not None:
        return _prefix_range("i.text", match.text, args)
    parts: list[str] = []
    if match.code is not None:
        parts.append("i.code = ?")
        args.append(match.code)
    if match.no_system:
        parts.append("i.system = ''")
    elif match.system is not None:
        parts.append("i.system = ?")
        args.append(match.system)
    return "(" + " AND ".join(parts) + ")"


# more token values than this (:in, :below) are asked as `code IN (...)` per system: an OR
# of thousands of conditions is deeper than SQLite parses (1 000 levels)
_CODE_LIST = 8


def _code_lists(matches: tuple[TokenMatch, ...], args: list[Any]) -> list[str]:
    """Token values as one `i.code IN (...)` per system (code values without a system or
    :text are kept as they are)."""
    by_system: dict[str | None, list[str]] = {}
    conditions = []
    for match in matches:
        if match.text is not None or match.code is None:
            conditions.append(_token_condition(match, args))
        else:
            key = "" if match.no_system else match.system
            by_system.setdefault(key, []).append(match.code)
    for system, codes in by_system.items():
        marks = ", ".join("?" * len(codes))
        if system is None:
            conditions.append(f"i.code IN ({marks})")
            args.extend(codes)
        else:
            conditions.append(f"(i.system = ? AND i.code IN ({marks}))")
            args.extend((system, *codes))
    return conditions


def _reference_condition(match: ReferenceMatch, args: list[Any]) -> str:
    if match.url is not None:
        args.append(match.url)
        if not match.any_version:
            return "i.url = ?"
        return "(i.url = ? OR " + _prefix_range("i.url", match.url + "|", args) + ")"
    if match.target_type is None:
        args.append(match.target_id)
        return "i.target_id = ?"
    args.extend((match.target_id, match.target_type))
    return "(i.target_id = ? AND i.target_type = ?)"


def _date_condition(search: DateRange, low: str, high: str, args: list[Any]) -> str:
    """A row's [low, high] against a searched range with its prefix (search.html#date)."""
    q_low, q_high = search.low, search.high
    prefix = search.prefix
    if prefix == "eq":  # low <= q_high follows from the rest; it bounds an index range
        args.extend((q_low, q_high, q_high))
        return f"({low} >= ? AND {low} <= ? AND {high} <= ?)"
    if prefix == "ne":
        args.extend((q_low, q_high))
        return f"NOT ({low} >= ? AND {high} <= ?)"
    if prefix == "gt":
        args.append(q_high)
        return f"{high} > ?"
    if prefix == "lt":
        args.append(q_low)
        return f"{low} < ?"
    if prefix == "ge":
        args.extend((q_high, q_low))
        return f"({high} > ? OR {low} >= ?)"
    if prefix == "le":
        args.extend((q_low, q_high))
        return f"({low} < ? OR {high} <= ?)"
    if prefix == "sa":
        args.append(q_high)
        return f"{low} > ?"
    if prefix == "eb":
        args.append(q_low)
        return f"{high} < ?"
    # ap: the ranges overlap
    args.extend((q_high, q_low))
    return f"({low} <= ? AND {high} >= ?)"


def _number_condition(search: NumberRange, args: list[Any]) -> str:
    """A row's [low, high] against a number with its prefix (see plan.NumberRange)."""
    prefix = search.prefix
    if prefix == "eq":
        args.extend((search.low, search.high, search.high))
        return "(i.low >= ? AND i.low <= ? AND i.high <= ?)"
    if prefix == "ne":
        args.extend((search.low, search.high))
        return "NOT (i.low >= ? AND i.high <= ?)"
    if prefix == "ap":
        args.extend((search.high, search.low))
        return "(i.low <= ? AND i.high >= ?)"
    if prefix == "sa":  # wholly after the searched range, not just after the value
        args.append(search.high)
        return "i.low >= ?"
    if prefix == "eb":  # a stored integer is a point: it must lie below the range
        args.extend((search.low, search.low))
        return "(i.high <= ? AND i.low < ?)"
    if prefix == "ge":  # a range [low, high) reaches the value; a point is at or above it
        args.extend((search.value, search.value))
        return "(i.high > ? OR i.low >= ?)"
    args.append(search.value)
    return {
        "gt": "i.high > ?",
        "lt": "i.low < ?",
        "le": "i.low <= ?",
    }[prefix]


def _quantity_condition(match: QuantityMatch, args: list[Any]) -> str:
    parts = [_number_condition(match.number, args)]
    if match.system is not None:
        parts.append("i.system = ?")
        args.append(match.system)
    if match.code is not None:
        parts.append("i.code = ?")
        args.append(match.code)
    return "(" + " AND ".join(parts) + ")"


def _uri_condition(match: UriMatch, args: list[Any]) -> str:
    if match.mode == "exact":
        args.append(match.value)
        return "i.value = ?"
    if match.mode == "below":  # the value or anything under it, by path segments
        base = match.value.rstrip("/")
        args.append(base)
        return "(i.value = ? OR " + _prefix_range("i.value", base + "/", args) + ")"
    # above: the value or any of its parents (http://x/fhir/ValueSet/1 → http://x/fhir ...)
    candidates = _parents(match.value)
    args.extend(candidates)
    return "i.value IN (" + ", ".join("?" * len(candidates)) + ")"


def _parents(url: str) -> list[str]:
    """The url and its parents by path; a parent keeps at least scheme and host. A uri
    without an authority (urn:, llp:10.1.1.1:5432/a) has no path hierarchy: only itself."""
    out = [url]
    scheme_end = url.find("://")
    if scheme_end < 0:
        return out
    floor = scheme_end + 3
    current = url.rstrip("/")
    while True:
        cut = current.rfind("/")
        if cut < floor or cut <= 0:
            break
        current = current[:cut]
        out.append(current)
    return out
