"""Index extraction: the search index rows of one resource, computed at write time.

Every search parameter of the resource's type (its own and the Resource/DomainResource ones:
_id, _lastUpdated, _tag, _profile, _security, _source) is evaluated from its FHIRPath
expression, compiled once per resource type, and each value found becomes rows of its
parameter type (search.html#ptypes):

- string: a plain string, or every part of a HumanName/Address (and its text); stored
  normalised (lower case, no accents: "Åsa" → "asa") and as written
- token: Coding, CodeableConcept (each coding; its text alone if no coding), Identifier and
  ContactPoint (system|value), code, boolean, string, id
- reference: a Reference's literal reference; canonical and uri values
- date: date, dateTime, instant, Period and Timing events as a UTC range (dates.py)
- number, quantity: the range implied by the value's precision (numbers.py); quantities
  with their system and code (the unit when there is no code), Money with its currency
- uri: uri, url, canonical

- words of `_text` and `_content` (search/fulltext.py)
- composite: per item the composite's expression selects, each component's rows of its
  own type, numbered by item (search/composite.py), so that `a$b` matches within one item
- contained resources (`Resource.contained`): each one's rows as a resource of its type,
  kept apart in `IndexEntries.contained` (search.html#contained)

`special` parameters (Location `near`) have no generic rule, and `_query`, `_filter` are
not index parameters.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fhir_server.definitions import Definitions
from fhir_server.fhirpath import CompiledExpression, compile_expression
from fhir_server.fhirpath.compiled import Step
from fhir_server.search.composite import CompositeParam, composite_param
from fhir_server.search.dates import EARLIEST, LATEST, date_range
from fhir_server.search.fulltext import full_text_words
from fhir_server.search.index import CONTAINED_LIMIT, ContainedEntries, IndexEntries
from fhir_server.search.numbers import stored_range
from fhir_server.search.references import local_target
from fhir_server.search.text import normalise

log = logging.getLogger(__name__)

SKIPPED_TYPES = frozenset({"special"})
# The version of what extract() makes of a value: raise it whenever a change to the
# indexer changes the rows of existing resources, so stores rebuild them at start.
INDEX_FORMAT = 4
# suffixes of the derived token rows (see Indexer.derived)
IDENTIFIER = ":identifier"
OF_TYPE = ":of-type"
SKIPPED_CODES = frozenset({"_text", "_content", "_query", "_filter"})

# HumanName/Address members that are not text to search by
_NOT_TEXT = frozenset({"use", "type", "period", "extension", "id", "modifierExtension"})
_CURRENCY_SYSTEM = "urn:iso:std:iso:4217"
# ContactPoint.system codes (search.html#token: a ContactPoint's token has no system)
_CONTACT_SYSTEMS = frozenset({"phone", "fax", "email", "pager", "url", "sms", "other"})
_INFINITY = float("inf")

Adder = Callable[[str, list[Any], IndexEntries], None]
# runs, composites, _text, _content of a subset of a type's parameters
_Subset = tuple[
    tuple[tuple[str, Step, Adder], ...], tuple[tuple[CompositeParam, Step], ...], bool, bool
]


@dataclass(frozen=True, slots=True)
class IndexedParam:
    """One search parameter as the indexer runs it for one resource type."""

    code: str
    type: str
    expression: CompiledExpression


class Indexer:
    """Extracts IndexEntries from resources; compiles each type's parameters on first use.

    `base_url` (the server's own base) makes absolute references to this server local, so
    that they index with their type and id like relative ones.
    """

    def __init__(self, definitions: Definitions, *, base_url: str | None = None) -> None:
        self._definitions = definitions
        self._resource_types = definitions.resource_types
        self._base_url = base_url
        self._params: dict[str, tuple[IndexedParam, ...]] = {}
        # per type: (code, compiled step, adder) for the loop of extract()
        self._runs: dict[str, tuple[tuple[str, Step, Adder], ...]] = {}
        self._adders: dict[str, Adder] = {
            "string": _add_strings,
            "token": _add_tokens,
            "reference": self._add_references,
            "date": _add_dates,
            "number": _add_numbers,
            "quantity": _add_quantities,
            "uri": _add_uris,
        }
        self._failed: set[str] = set()
        # per type: the composite parameters with the compiled step selecting their items
        self._composites: dict[str, tuple[tuple[CompositeParam, Step], ...]] = {}
        # per type: whether it has _text, _content
        self._words: dict[str, tuple[bool, bool]] = {}
        # per (type, parameters): what extract(only=...) runs
        self._subsets: dict[tuple[str, frozenset[str]], _Subset] = {}

    def params(self, resource_type: str) -> tuple[IndexedParam, ...]:
        """The parameters indexed for a type (compiled on first use)."""
        params = self._params.get(resource_type)
        if params is None:
            params = tuple(
                IndexedParam(code, kind, compile_expression(expression, resource_type))
                for code, kind, expression in self.indexed(resource_type)
                if kind != "composite"
            )
            self._params[resource_type] = params
            self._runs[resource_type] = tuple(
                (p.code, p.expression.step, self._adders[p.type]) for p in params
            )
            full_text = self._full_text(resource_type)
            self._words[resource_type] = ("_text" in full_text, "_content" in full_text)
            self._composites[resource_type] = tuple(
                (composite, compile_expression(composite.expression, resource_type).step)
                for composite in self.composites(resource_type).values()
            )
        return params

    def composites(self, resource_type: str) -> dict[str, CompositeParam]:
        """The composite parameters of a type that can be indexed (see search/composite.py)."""
        found = {}
        for code, definition in self._definitions.search_params_for(resource_type).items():
            if definition.get("type") == "composite":
                composite = composite_param(self._definitions, resource_type, definition)
                if composite is not None:
                    found[code] = composite
        return found

    def indexed(self, resource_type: str) -> list[tuple[str, str, str]]:
        """(code, type, expression) of the parameters indexed for a type, not compiled."""
        found = []
        for code, definition in self._definitions.search_params_for(resource_type).items():
            kind = definition.get("type")
            expression = definition.get("expression")
            if not isinstance(kind, str) or not isinstance(expression, str):
                continue
            if kind in self._adders and code not in SKIPPED_CODES:
                found.append((code, kind, expression))
        for code, composite in self.composites(resource_type).items():
            found.append((code, "composite", composite.signature()))
        return found

    def _full_text(self, resource_type: str) -> tuple[str, ...]:
        params = self._definitions.search_params_for(resource_type)
        return tuple(code for code in ("_text", "_content") if code in params)

    def derived(self, resource_type: str) -> list[tuple[str, str, str]]:
        """(code, type, expression) of the token rows the indexer derives besides the
        parameters' own: `P:identifier` of each reference parameter (Reference.identifier,
        for the :identifier modifier) and `P:of-type` of each token parameter (an
        Identifier's type and value, for :of-type). They are keyed and stored like
        token parameters of those names."""
        found = []
        for code, kind, expression in self.indexed(resource_type):
            if kind == "reference":
                found.append((f"{code}{IDENTIFIER}", "token", f"{expression}{IDENTIFIER}"))
            elif kind == "token":
                found.append((f"{code}{OF_TYPE}", "token", f"{expression}{OF_TYPE}"))
        return found

    def extract(self, resource: dict[str, Any], only: frozenset[str] | None = None) -> IndexEntries:
        """The index rows of a resource. Never raises: what cannot be read is not indexed.

        `only`: the rows of these parameters alone (`P:identifier` and `P:of-type` come
        with P; `_text`, `_content` are the words), no contained resources: for matching a
        resource against searches that read no more (subscriptions), not for storing."""
        entries = IndexEntries()
        resource_type = resource.get("resourceType") if isinstance(resource, dict) else None
        if not isinstance(resource_type, str) or resource_type not in self._resource_types:
            return entries
        if resource_type not in self._runs:
            self.params(resource_type)
        if only is None:
            text, content = self._words[resource_type]
            subset = (self._runs[resource_type], self._composites[resource_type], text, content)
        else:
            found = self._subsets.get((resource_type, only))
            subset = found if found is not None else self._subset(resource_type, only)
        runs, composites, text, content = subset
        start = [resource]
        for code, step, add in runs:
            try:
                values = step(start, resource)
                if values:
                    add(code, values, entries)
            except Exception as exc:  # an expression or a value shape that does not fit
                self._cannot(resource_type, code, exc)
        if text or content:
            entries.words = full_text_words(resource, text, content)
        for composite, select in composites:
            try:
                self._add_composite(composite, select(start, resource), resource, entries)
            except Exception as exc:
                self._cannot(resource_type, composite.code, exc)
        _deduplicate(entries)
        contained = resource.get("contained")
        if only is None and contained.__class__ is list:
            entries.contained = self._contained(contained)
        return entries

    def _cannot(self, resource_type: str, code: str, exc: Exception) -> None:
        key = f"{resource_type}.{code}"
        if key not in self._failed:
            self._failed.add(key)
            log.debug("cannot index %s of %s: %s", code, resource_type, exc)

    def _subset(self, resource_type: str, only: frozenset[str]) -> _Subset:
        """What extract() runs for a type's parameters `only` (their base codes)."""
        codes = {code.split(":", 1)[0] for code in only}
        text, content = self._words[resource_type]
        subset = (
            tuple(run for run in self._runs[resource_type] if run[0] in codes),
            tuple(item for item in self._composites[resource_type] if item[0].code in codes),
            text and "_text" in codes,
            content and "_content" in codes,
        )
        self._subsets[(resource_type, only)] = subset
        return subset

    def _contained(self, resources: list[Any]) -> list[ContainedEntries]:
        """Each contained resource's entries, as a resource of its own type would have them
        (a contained resource contains none itself: dom-2)."""
        found = []
        for position, item in enumerate(resources[:CONTAINED_LIMIT]):
            if item.__class__ is not dict or item.get("resourceType") not in self._resource_types:
                continue
            local_id = item.get("id")
            own = self.extract({k: v for k, v in item.items() if k != "contained"})
            found.append(
                ContainedEntries(
                    position,
                    item["resourceType"],
                    local_id if isinstance(local_id, str) else "",
                    own,
                )
            )
        return found

    def _add_composite(
        self,
        composite: CompositeParam,
        items: list[Any],
        resource: dict[str, Any],
        out: IndexEntries,
    ) -> None:
        """Each item's component rows, numbered by item; an item lacking a component adds
        nothing (it cannot match a value that names every component)."""
        code = composite.code
        for group, item in enumerate(items):
            rows: list[tuple[str, int, int, str, tuple[Any, ...]]] = []
            for position, component in enumerate(composite.components):
                values = component.read(item, resource)
                found = IndexEntries()
                if values:
                    self._adders[component.kind](code, values, found)
                table = _TABLE_OF[component.kind]
                own = [row for row in getattr(found, table) if row[0] == code]
                if not own:
                    rows = []
                    break
                rows.extend((code, group, position, component.kind, row[1:]) for row in own)
            out.composites.extend(rows)

    def _add_references(self, code: str, values: list[Any], out: IndexEntries) -> None:
        for value in values:
            if isinstance(value, dict):
                value = _extension_value(value)
                reference = value.get("reference") if isinstance(value, dict) else value
            else:
                reference = value
            if isinstance(reference, str) and reference:
                kind, rid = local_target(reference, self._resource_types, self._base_url)
                out.references.append((code, kind, rid, reference))
            identifier = value.get("identifier") if isinstance(value, dict) else None
            if isinstance(identifier, dict):
                _add_token_object(f"{code}{IDENTIFIER}", identifier, out.tokens, of_type=False)


# the IndexEntries list of each parameter type
_TABLE_OF = {
    "string": "strings",
    "token": "tokens",
    "reference": "references",
    "date": "dates",
    "number": "numbers",
    "quantity": "quantities",
    "uri": "uris",
}


def _deduplicate(entries: IndexEntries) -> None:
    for name in (*_TABLE_OF.values(), "composites"):
        rows = getattr(entries, name)
        if len(rows) > 1:
            setattr(entries, name, list(dict.fromkeys(rows)))


def _extension_value(value: dict[str, Any]) -> Any:
    """An Extension stands for its value (`Patient.extension('...mothersMaidenName')`)."""
    if "url" not in value or "reference" in value:
        return value
    for key, item in value.items():
        if key.startswith("value"):
            return item
    return value


def _add_strings(code: str, values: list[Any], out: IndexEntries) -> None:
    rows = out.strings
    for value in values:
        if value.__class__ is str:
            exact = value.strip()
            if exact:
                rows.append((code, normalise(exact), exact))
        elif isinstance(value, dict):
            if "url" in value:
                value = _extension_value(value)
                if not isinstance(value, dict):
                    _add_strings(code, [value], out)
                    continue
            # HumanName, Address: every part
            for key, part in value.items():
                if part.__class__ is str:
                    if key in _NOT_TEXT:
                        continue
                    exact = part.strip()
                    if exact:
                        rows.append((code, normalise(exact), exact))
                elif part.__class__ is list and key not in _NOT_TEXT:
                    for item in part:
                        if item.__class__ is str:
                            exact = item.strip()
                            if exact:
                                rows.append((code, normalise(exact), exact))


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _add_tokens(code: str, values: list[Any], out: IndexEntries) -> None:
    rows = out.tokens
    for value in values:
        if isinstance(value, dict):
            if "url" in value:
                value = _extension_value(value)
                if not isinstance(value, dict):
                    _add_tokens(code, [value], out)
                    continue
            _add_token_object(code, value, rows)
        elif value.__class__ is str:
            if value:
                rows.append((code, None, value, None))
        elif isinstance(value, bool):
            rows.append((code, None, "true" if value else "false", None))
        elif isinstance(value, int | float):
            rows.append((code, None, str(value), None))


def _add_token_object(
    code: str,
    value: dict[str, Any],
    rows: list[tuple[str, str | None, str | None, str | None]],
    of_type: bool = True,
) -> None:
    if "value" in value:
        # Identifier (system|value) and ContactPoint (system is phone, email, ...)
        identifier = value["value"]
        if identifier.__class__ is not str:
            if not isinstance(identifier, int | float) or isinstance(identifier, bool):
                return
            identifier = str(identifier)
        if not identifier:
            return
        system = value.get("system")
        if system.__class__ is not str or not system or system in _CONTACT_SYSTEMS:
            # a ContactPoint's system (phone, email) is its kind, not a token system
            system = None
        kind = value.get("type")
        text = kind.get("text") if kind.__class__ is dict else None
        if text.__class__ is not str or not text:
            text = None
        rows.append((code, system, identifier, None if text is None else normalise(text)))
        if of_type and kind.__class__ is dict and kind.get("coding").__class__ is list:
            # :of-type matches type system|type code|value: the row is (system, code|value)
            for coding in kind["coding"]:
                if coding.__class__ is dict and coding.get("code").__class__ is str:
                    type_system = coding.get("system")
                    rows.append(
                        (
                            f"{code}{OF_TYPE}",
                            type_system if type_system.__class__ is str else None,
                            f"{coding['code']}|{identifier}",
                            None,
                        )
                    )
    elif "coding" in value or ("text" in value and "code" not in value):
        # CodeableConcept: each coding, its text standing for the display it lacks
        text = value.get("text")
        if text.__class__ is not str or not text:
            text = None
        added = False
        codings = value.get("coding")
        if codings.__class__ is list:
            for coding in codings:
                if coding.__class__ is dict:
                    added |= _add_coding(code, coding, text, rows)
                    if text is not None and coding.get("display"):
                        # :text looks at the concept's text as well as each display
                        _add_coding(code, {**coding, "display": text}, None, rows)
        if not added and text is not None:
            rows.append((code, None, None, normalise(text)))
    elif "code" in value or "system" in value:
        _add_coding(code, value, None, rows)


def _add_coding(
    code: str,
    coding: dict[str, Any],
    fallback_text: str | None,
    rows: list[tuple[str, str | None, str | None, str | None]],
) -> bool:
    system = coding.get("system")
    if system.__class__ is not str or not system:
        system = None
    value = coding.get("code")
    if value.__class__ is not str or not value:
        value = None
    display = coding.get("display")
    if display.__class__ is not str or not display:
        display = fallback_text
    if display is not None:
        display = normalise(display)
    elif system is None and value is None:
        return False
    rows.append((code, system, value, display))
    return True


def _add_dates(code: str, values: list[Any], out: IndexEntries) -> None:
    rows = out.dates
    for value in values:
        if isinstance(value, dict):
            value = _extension_value(value)
        if isinstance(value, str):
            found = date_range(value)
            if found is not None:
                rows.append((code, *found))
        elif isinstance(value, dict):
            if "start" in value or "end" in value:
                _add_period(code, value, rows)
            else:  # Timing: its events, and the bounds of its repeat
                events = value.get("event")
                if isinstance(events, list):
                    for event in events:
                        found = date_range(event) if isinstance(event, str) else None
                        if found is not None:
                            rows.append((code, *found))
                repeat = value.get("repeat")
                bounds = repeat.get("boundsPeriod") if isinstance(repeat, dict) else None
                if isinstance(bounds, dict):
                    _add_period(code, bounds, rows)


def _add_period(code: str, period: dict[str, Any], rows: list[tuple[str, str, str]]) -> None:
    start, end = period.get("start"), period.get("end")
    low = date_range(start) if isinstance(start, str) else None
    high = date_range(end) if isinstance(end, str) else None
    if low is None and high is None:
        return
    rows.append((code, EARLIEST if low is None else low[0], LATEST if high is None else high[1]))


def _add_numbers(code: str, values: list[Any], out: IndexEntries) -> None:
    for value in values:
        found = stored_range(value)
        if found is not None:
            out.numbers.append((code, *found))


def _add_quantities(code: str, values: list[Any], out: IndexEntries) -> None:
    rows = out.quantities
    for value in values:
        if isinstance(value, dict):
            value = _extension_value(value)
        if not isinstance(value, dict):
            continue
        if "low" in value or "high" in value:  # Range
            _add_range(code, value, rows)
            continue
        found = stored_range(value.get("value"))
        if found is None:
            continue
        low, high = found
        comparator = value.get("comparator")
        if comparator in ("<", "<="):
            low = -_INFINITY
        elif comparator in (">", ">="):
            high = _INFINITY
        system, unit = _unit(value)
        rows.append((code, low, high, system, unit))
        written = _text_or_none(value.get("unit"))
        if written is not None and written != unit:
            # `5||°C` matches the unit as written too; a row without a system, so that
            # `5|system|code` still compares the code only (search.html#quantity)
            rows.append((code, low, high, None, written))


def _unit(quantity: dict[str, Any]) -> tuple[str | None, str | None]:
    currency = _text_or_none(quantity.get("currency"))
    if currency is not None:  # Money
        return _CURRENCY_SYSTEM, currency
    unit = _text_or_none(quantity.get("code")) or _text_or_none(quantity.get("unit"))
    return _text_or_none(quantity.get("system")), unit


def _add_range(
    code: str,
    value: dict[str, Any],
    rows: list[tuple[str, float, float, str | None, str | None]],
) -> None:
    low_q, high_q = value.get("low"), value.get("high")
    low_range = stored_range(low_q.get("value")) if isinstance(low_q, dict) else None
    high_range = stored_range(high_q.get("value")) if isinstance(high_q, dict) else None
    if low_range is None and high_range is None:
        return
    unit_from = low_q if low_range is not None else high_q
    system, unit = _unit(unit_from) if isinstance(unit_from, dict) else (None, None)
    rows.append(
        (
            code,
            -_INFINITY if low_range is None else low_range[0],
            _INFINITY if high_range is None else high_range[1],
            system,
            unit,
        )
    )


def _add_uris(code: str, values: list[Any], out: IndexEntries) -> None:
    for value in values:
        if isinstance(value, dict):
            value = _extension_value(value)
        if isinstance(value, str) and value:
            out.uris.append((code, value))
