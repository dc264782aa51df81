"""Search index entries of one resource, extracted at write time.

Every search parameter that applies to the resource's type is evaluated (its FHIRPath
`expression`) and the values are flattened into rows per parameter type. Storage adapters
store these rows in their index tables; the search layer queries them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# contained resources indexed per container at most (the stores number them within their
# container in 20 bits)
CONTAINED_LIMIT = (1 << 20) - 2


@dataclass(slots=True)
class IndexEntries:
    # (param, normalised value: lower case, accents stripped; exact value)
    strings: list[tuple[str, str, str]] = field(default_factory=list)
    # (param, system or None, code or None, display text normalised or None)
    tokens: list[tuple[str, str | None, str | None, str | None]] = field(default_factory=list)
    # (param, target type or None, target id or None, reference text as written)
    references: list[tuple[str, str | None, str | None, str]] = field(default_factory=list)
    # (param, low, high): the instant range the value covers, as sortable ISO text (UTC)
    dates: list[tuple[str, str, str]] = field(default_factory=list)
    # (param, low, high): the range implied by the value's precision
    numbers: list[tuple[str, float, float]] = field(default_factory=list)
    # (param, low, high, system or None, code or unit or None)
    quantities: list[tuple[str, float, float, str | None, str | None]] = field(default_factory=list)
    # (param, value)
    uris: list[tuple[str, str]] = field(default_factory=list)
    # composite parameters: (param, item number, component position, component type, the
    # component's row of its type without the param), e.g. ("code-value-quantity", 0, 1,
    # "quantity", (low, high, system, code)); components match within one item number
    composites: list[tuple[str, int, int, str, tuple[Any, ...]]] = field(default_factory=list)
    # _content and _text: the resource's distinct words (search/fulltext.py)
    words: list[str] = field(default_factory=list)
    # the resources of Resource.contained, each indexed as a resource of its own type
    # (search.html#contained); empty for a contained resource itself
    contained: list[ContainedEntries] = field(default_factory=list)


@dataclass(slots=True)
class ContainedEntries:
    """The index entries of one contained resource: its place in the container's
    `contained` list, its type and local id ("" when it has none)."""

    position: int
    resource_type: str
    id: str
    entries: IndexEntries
