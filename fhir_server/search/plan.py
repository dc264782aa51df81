"""A parsed search as a backend-neutral plan: what to match, not how a store finds it.

A plan is the resource type and a conjunction of clauses, one per search parameter as given
(a repeated parameter is two clauses: AND). A clause holds the alternatives of its
comma-separated values (OR). Values are already normalised and turned into the form the
index rows have (search/index.py), so a storage adapter only translates clause by clause.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# search prefixes (search.html#prefix)
Prefix = Literal["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"]
PREFIXES: frozenset[str] = frozenset({"eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"})

# the index a clause reads (one table or collection per kind in a store)
IndexKind = Literal[
    "string", "token", "reference", "date", "number", "quantity", "uri", "composite"
]


@dataclass(frozen=True, slots=True)
class DateRange:
    """A date value with its prefix: the searched range as UTC text (see search/dates.py).

    Rows match by comparing their (low, high) with (low, high) here:
    eq: row within it; ne: not eq; gt: row.high > high; lt: row.low < low;
    ge: gt or row.low >= low; le: lt or row.high <= high; sa: row.low > high;
    eb: row.high < low; ap: the ranges overlap.
    """

    prefix: Prefix
    low: str
    high: str


@dataclass(frozen=True, slots=True)
class NumberRange:
    """A number with its prefix; low..high is the range its precision implies.

    eq: row within low..high; ne: not eq; ap: row overlaps low..high (±10 % of the value);
    gt/lt/ge/le compare the row's range [low, high) (a point when low == high: a stored
    integer) with the value itself: gt row.high > value, lt row.low < value,
    ge row.high > value or row.low >= value, le row.low <= value; sa and eb ask that the
    row lies wholly after (before) the searched range (search.html#prefix: the ranges do
    not overlap): sa row.low >= high, eb row.high <= low and row.low < low.
    """

    prefix: Prefix
    value: float
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class QuantityMatch:
    """A quantity: its number, and the unit when given (code matches code or unit)."""

    number: NumberRange
    system: str | None
    code: str | None


@dataclass(frozen=True, slots=True)
class StringMatch:
    mode: Literal["starts", "exact", "contains"]
    value: str  # normalised for starts and contains, as written for exact


@dataclass(frozen=True, slots=True)
class TokenMatch:
    """One token value: `code`, `system|code`, `|code` (no system), `system|`, or text.

    `system` None with `no_system` False means any system.
    """

    system: str | None = None
    code: str | None = None
    no_system: bool = False
    text: str | None = None  # :text, normalised, matched as a prefix of the display text


@dataclass(frozen=True, slots=True)
class ReferenceMatch:
    """A reference: a local target (type may be None: any type), or a URL as written.

    With `any_version`, a canonical URL also matches the same URL with `|version`.
    """

    target_type: str | None = None
    target_id: str | None = None
    url: str | None = None
    any_version: bool = False


@dataclass(frozen=True, slots=True)
class UriMatch:
    mode: Literal["exact", "below", "above"]
    value: str


@dataclass(frozen=True, slots=True)
class IdClause:
    """`_id`: the logical id is one of these (or none of them, with :not)."""

    ids: tuple[str, ...]
    negate: bool = False


@dataclass(frozen=True, slots=True)
class LastUpdatedClause:
    """`_lastUpdated`: the current version's lastUpdated, an instant (low == high)."""

    ranges: tuple[DateRange, ...]


@dataclass(frozen=True, slots=True)
class StringClause:
    param: str
    matches: tuple[StringMatch, ...]


@dataclass(frozen=True, slots=True)
class TokenClause:
    """Token values; with `negate` (:not) resources with none of them match."""

    param: str
    matches: tuple[TokenMatch, ...]
    negate: bool = False


@dataclass(frozen=True, slots=True)
class ReferenceClause:
    param: str
    matches: tuple[ReferenceMatch, ...]


@dataclass(frozen=True, slots=True)
class DateClause:
    param: str
    ranges: tuple[DateRange, ...]


@dataclass(frozen=True, slots=True)
class NumberClause:
    param: str
    ranges: tuple[NumberRange, ...]


@dataclass(frozen=True, slots=True)
class QuantityClause:
    param: str
    matches: tuple[QuantityMatch, ...]


@dataclass(frozen=True, slots=True)
class UriClause:
    param: str
    matches: tuple[UriMatch, ...]


@dataclass(frozen=True, slots=True)
class MissingClause:
    """`:missing`: true matches resources without any value of the parameter."""

    param: str
    kind: IndexKind
    missing: bool


@dataclass(frozen=True, slots=True)
class ChainClause:
    """`param.chained=value`, `param:Type.chained=value` (search.html#chaining): the
    resource refers through `param` to a resource matching one of `plans`, each the
    chained criterion on one of the types the reference may target."""

    param: str
    plans: tuple[Plan, ...]


@dataclass(frozen=True, slots=True)
class HasClause:
    """`_has:Type:param:criterion=value` (search.html#has): some resource matching `plan`
    refers to this one through its reference parameter `param`."""

    param: str
    plan: Plan


@dataclass(frozen=True, slots=True)
class CompartmentClause:
    """In the compartment of `compartment`/`focus_id`: one of `params` refers to it, or
    (when the searched type is the compartment's own) it is the focal resource."""

    compartment: str
    focus_id: str
    params: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AnyOfClause:
    """One of `clauses` holds (an OR of whole clauses, which the query syntax has no form
    for; the organisation policy narrows searches with it). None: nothing matches."""

    clauses: tuple[Clause, ...]


@dataclass(frozen=True, slots=True)
class FullTextClause:
    """`_text` / `_content` (search.html#text): for one of the alternatives (OR), every
    word (folded, search/fulltext.py) begins a word of the narrative / of the resource."""

    param: str
    alternatives: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class CompositeClause:
    """A composite parameter (search.html#composite): some ONE item the parameter selects
    (an Observation.component, a useContext) has a value for every component. Each
    alternative (comma-separated values: OR) holds one clause per component, in component
    order, each naming the composite parameter and holding a single value of its type."""

    param: str
    alternatives: tuple[tuple[Clause, ...], ...]


Clause = (
    IdClause
    | AnyOfClause
    | LastUpdatedClause
    | StringClause
    | TokenClause
    | ReferenceClause
    | DateClause
    | NumberClause
    | QuantityClause
    | UriClause
    | MissingClause
    | ChainClause
    | HasClause
    | CompartmentClause
    | CompositeClause
    | FullTextClause
)


@dataclass(frozen=True, slots=True)
class Plan:
    """Resources of `resource_type`, not deleted, for which every clause holds."""

    resource_type: str
    clauses: tuple[Clause, ...] = ()
