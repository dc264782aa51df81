"""Search criteria (`name=value` pairs of a query) parsed into a Plan.

Used for the criteria of conditional create/update/delete and of searches. Follows
search.html of R4: a repeated parameter is AND, comma-separated values are OR (`\\,` is a
literal comma), `:modifier` after the name, `prefix` before date, number and quantity values.
Anything not understood is an error naming the parameter (400), never silently ignored: a
criterion dropped from a conditional delete would delete more than was asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from fhir_server.definitions import Definitions
from fhir_server.outcome import FhirError, bad_request
from fhir_server.search.composite import composite_param
from fhir_server.search.dates import EARLIEST, date_range
from fhir_server.search.fulltext import FULL_TEXT, words
from fhir_server.search.indexer import IDENTIFIER, OF_TYPE
from fhir_server.search.numbers import implied_range, parse_decimal
from fhir_server.search.plan import (
    PREFIXES,
    ChainClause,
    Clause,
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
    Prefix,
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
from fhir_server.search.references import is_valid_id, local_target
from fhir_server.search.text import normalise
from fhir_server.terminology.expansion import CannotExpand

if TYPE_CHECKING:
    from fhir_server.terminology.service import Terminology

# parameters that shape the result rather than select resources (search.html#return)
RESULT_PARAMETERS = frozenset(
    {
        "_count",
        "_sort",
        "_include",
        "_revinclude",
        "_summary",
        "_elements",
        "_total",
        "_contained",
        "_containedType",
    }
)
# Bounds of one criterion's value (400 above them, and for a NUL character): its length in
# characters, and its comma-separated alternatives (each an OR the store evaluates; SQLite
# refuses expressions deeper than 1000 and LIKE patterns over 50 000 bytes).
MAX_VALUE_LENGTH = 8_192
MAX_ALTERNATIVES = 500
# Criteria in one search (each a join the store plans: PostgreSQL's planning time grows
# steeply with them, ~6 s for 100 on a test machine).
MAX_CRITERIA = 30
# parameters of the HTTP exchange, not of the search
IGNORED_PARAMETERS = frozenset({"_format", "_pretty"})

# codes a token search may expand to (:in, :below, :above), at most
MAX_CODES = 10000

_INDEX_KINDS: dict[str, IndexKind] = {
    "string": "string",
    "token": "token",
    "reference": "reference",
    "date": "date",
    "number": "number",
    "quantity": "quantity",
    "uri": "uri",
}


def parse_criteria(
    definitions: Definitions,
    resource_type: str,
    criteria: Sequence[tuple[str, str]],
    *,
    base_url: str | None = None,
    terminology: Terminology | None = None,
) -> Plan:
    """The plan of `criteria` (query name/value pairs, decoded) on `resource_type`.

    Raises FhirError 400 for an unknown parameter, a modifier the parameter does not have or
    this server does not support, a malformed value, a result parameter (_count, _sort, ...)
    `base_url` makes absolute references to this server match as local ones. Chained
    parameters and `_has` nest plans of the types they name, to any depth. `terminology`
    (ValueSets and CodeSystems the server knows) serves token `:in`, `:not-in`, `:above`
    and `:below`; without it they are refused.
    """
    if resource_type not in definitions.resource_types:
        raise bad_request(f"Unknown resource type '{resource_type}'")
    params = definitions.search_params_for(resource_type)
    counted = [name for name, _ in criteria if name not in IGNORED_PARAMETERS]
    if len(counted) > MAX_CRITERIA:
        raise bad_request(
            f"The search has {len(counted)} criteria, more than the limit of {MAX_CRITERIA}"
        )
    context = _Context(definitions, resource_type, base_url, terminology)
    clauses: list[Clause] = []
    for name, value in criteria:
        code, _, modifier = name.partition(":")
        if code in IGNORED_PARAMETERS:
            continue
        if code in RESULT_PARAMETERS:
            raise bad_request(
                f"'{name}' controls how results are returned; it is not a search criterion"
                " and cannot be used here",
                name,
            )
        if value == "":
            raise bad_request(f"Search parameter '{name}' has no value", name)
        _check_value(name, value)
        if code == "_has":
            clauses.append(context.has_clause(name, value))
            continue
        if code == "_list":
            clauses.append(_list_clause(name, modifier, value))
            continue
        if code in FULL_TEXT and code in params:
            clauses.append(_full_text_clause(name, code, modifier, value))
            continue
        head, dot, rest = name.partition(".")
        if dot:
            clauses.append(context.chain_clause(name, head, rest, value, params))
            continue
        definition = params.get(code)
        if definition is None:
            raise bad_request(f"Unknown search parameter '{code}' for {resource_type}", name)
        clauses.append(context.clause(name, code, modifier, value, definition))
    return Plan(resource_type, tuple(clauses))


class _Context:
    def __init__(
        self,
        definitions: Definitions,
        resource_type: str,
        base_url: str | None,
        terminology: Terminology | None = None,
    ):
        self.definitions = definitions
        self.resource_type = resource_type
        self.base_url = base_url
        self.terminology = terminology

    def chain_clause(
        self, name: str, head: str, rest: str, value: str, params: dict[str, dict[str, Any]]
    ) -> ChainClause:
        code, _, modifier = head.partition(":")
        definition = params.get(code)
        if definition is None:
            raise bad_request(f"Unknown search parameter '{code}' for {self.resource_type}", name)
        if definition.get("type") != "reference":
            raise bad_request(f"'{code}' is not a reference parameter: it cannot be chained", name)
        targets = [t for t in definition.get("target", []) if isinstance(t, str)]
        if modifier:
            if modifier not in self.definitions.resource_types:
                raise _bad_modifier(name, modifier, "chained reference")
            if targets and modifier not in targets:
                raise bad_request(f"'{code}' cannot refer to a {modifier}", name)
            targets = [modifier]
        chained = rest.partition(".")[0].partition(":")[0]
        plans = []
        problem: FhirError | None = None
        for target in targets:
            if target not in self.definitions.resource_types:
                continue  # "Resource" and abstract targets name no searchable type
            if chained == "_has" or chained in self.definitions.search_params_for(target):
                try:
                    plans.append(self.nested(name, target, rest, value))
                except FhirError as wrong:
                    # a criterion some of the target types cannot take (a deeper type
                    # modifier): those types match nothing; an error only if none can
                    problem = problem or wrong
        if not plans and problem is not None:
            raise problem
        if not plans:
            raise bad_request(
                f"None of the types '{code}' refers to ({', '.join(targets) or 'none'})"
                f" has a search parameter '{chained}'",
                name,
            )
        return ChainClause(code, tuple(plans))

    def has_clause(self, name: str, value: str) -> HasClause:
        parts = name.split(":", 3)
        if len(parts) != 4 or not all(parts[1:]):
            raise bad_request(f"'{name}' is not _has:Type:reference:criterion", name)
        _, source, code, criterion = parts
        if source not in self.definitions.resource_types:
            raise bad_request(f"'{name}': unknown resource type '{source}'", name)
        definition = self.definitions.search_params_for(source).get(code)
        if definition is None or definition.get("type") != "reference":
            raise bad_request(f"'{name}': {source} has no reference parameter '{code}'", name)
        targets = [t for t in definition.get("target", []) if isinstance(t, str)]
        if targets and self.resource_type not in targets:
            raise bad_request(
                f"'{name}': {source}.{code} does not refer to a {self.resource_type}", name
            )
        return HasClause(code, self.nested(name, source, criterion, value))

    def nested(self, name: str, resource_type: str, criterion: str, value: str) -> Plan:
        """The plan of a chained or _has criterion; its errors name the whole parameter."""
        try:
            return parse_criteria(
                self.definitions,
                resource_type,
                [(criterion, value)],
                base_url=self.base_url,
                terminology=self.terminology,
            )
        except FhirError as problem:
            diagnostics = "; ".join(issue.diagnostics for issue in problem.issues)
            raise bad_request(diagnostics, name) from None

    def clause(
        self, name: str, code: str, modifier: str, value: str, definition: dict[str, Any]
    ) -> Clause:
        kind = definition.get("type")
        if code == "_id":
            return _id_clause(name, modifier, value)
        if code == "_lastUpdated":
            if modifier == "missing":  # every version has one: all match, or none
                there = not _boolean(name, value)
                return LastUpdatedClause((DateRange("ge" if there else "lt", EARLIEST, EARLIEST),))
            if modifier:
                raise _bad_modifier(name, modifier, "_lastUpdated")
            return LastUpdatedClause(tuple(_date(name, v) for v in _values(name, value)))
        if kind == "composite" and definition.get("expression"):
            return self.composite_clause(name, code, modifier, value, definition)
        if kind in ("composite", "special") or not definition.get("expression"):
            raise bad_request(f"Search parameter '{code}' ({kind}) is not supported yet", name)
        index_kind = _INDEX_KINDS.get(str(kind))
        if index_kind is None:
            raise bad_request(f"Search parameter '{code}' has an unknown type {kind}", name)
        if modifier == "missing":
            return MissingClause(code, index_kind, _boolean(name, value))
        if index_kind == "string":
            return _string_clause(name, code, modifier, value)
        if index_kind == "token":
            if modifier in ("in", "not-in"):
                return self.value_set_clause(name, code, modifier, value)
            if modifier in ("above", "below"):
                return self.subsumption_clause(name, code, modifier, value)
            return _token_clause(name, code, modifier, value)
        if index_kind == "reference":
            return self.reference_clause(name, code, modifier, value, definition)
        if modifier:
            if index_kind == "uri" and modifier in ("below", "above"):
                mode: Literal["below", "above"] = "below" if modifier == "below" else "above"
                return UriClause(code, tuple(UriMatch(mode, v) for v in _values(name, value)))
            raise _bad_modifier(name, modifier, index_kind)
        if index_kind == "uri":
            return UriClause(code, tuple(UriMatch("exact", v) for v in _values(name, value)))
        if index_kind == "date":
            return DateClause(code, tuple(_date(name, v) for v in _values(name, value)))
        if index_kind == "number":
            return NumberClause(code, tuple(_number(name, v) for v in _values(name, value)))
        return QuantityClause(code, tuple(_quantity(name, raw) for raw in _split(value, ",")))

    def composite_clause(
        self, name: str, code: str, modifier: str, value: str, definition: dict[str, Any]
    ) -> Clause:
        """`a$b` per alternative (search.html#composite): each part a value of its
        component's type, without modifiers; `\\$` is a literal dollar."""
        composite = composite_param(self.definitions, self.resource_type, definition)
        if composite is None:
            raise bad_request(
                f"Composite search parameter '{code}' has components this server cannot search by",
                name,
            )
        if modifier == "missing":
            return MissingClause(code, "composite", _boolean(name, value))
        if modifier:
            raise _bad_modifier(name, modifier, "composite")
        alternatives = []
        for raw in _split(value, ","):
            parts = _split(raw, "$")
            if len(parts) != len(composite.components):
                raise bad_request(
                    f"'{raw}' is not a value of '{code}': it takes"
                    f" {len(composite.components)} components separated by '$'",
                    name,
                )
            components = []
            for part, component in zip(parts, composite.components, strict=True):
                if not part:
                    raise bad_request(f"'{raw}' has an empty component for '{code}'", name)
                own = {"type": component.kind, "expression": component.expression}
                components.append(self.clause(name, code, "", part, own))
            alternatives.append(tuple(components))
        return CompositeClause(code, tuple(alternatives))

    def value_set_clause(self, name: str, code: str, modifier: str, value: str) -> TokenClause:
        """`:in` / `:not-in` (search.html#token): a coding in (not in) one of the ValueSets
        named; a ValueSet the server cannot expand is an error naming it."""
        members: dict[tuple[str, str], None] = {}
        for url in _values(name, value):
            if self.terminology is None:
                raise bad_request(f"':{modifier}' needs the server's terminology", name)
            try:
                expansion = self.terminology.expansion(url)
            except CannotExpand as why:
                raise bad_request(
                    f"ValueSet '{url}' cannot be used with ':{modifier}': {why}", name
                ) from None
            members.update(dict.fromkeys(sorted(expansion.members)))
        if not members:
            raise bad_request(f"The ValueSet(s) '{value}' of '{name}' hold no codes", name)
        if len(members) > MAX_CODES:
            raise bad_request(
                f"The ValueSet(s) '{value}' of '{name}' hold {len(members)} codes;"
                f" a search takes at most {MAX_CODES}",
                name,
            )
        return TokenClause(code, _coded(members), negate=modifier == "not-in")

    def subsumption_clause(self, name: str, code: str, modifier: str, value: str) -> TokenClause:
        """`:below` (the code and every code it subsumes) and `:above` (the code and every
        code that subsumes it) in a CodeSystem the server knows with a hierarchy."""
        members: dict[tuple[str, str], None] = {}
        for raw in _split(value, ","):
            parts = [_unescape(p) for p in _split(raw, "|")]
            if len(parts) != 2 or not parts[0] or not parts[1]:
                raise bad_request(f"':{modifier}' takes system|code, not '{raw}'", name)
            system, wanted = parts
            known = self.terminology.code_system(system) if self.terminology else None
            if known is None:
                raise bad_request(
                    f"The code system '{system}' is not known here: ':{modifier}' cannot"
                    " follow its hierarchy",
                    name,
                )
            concept = known.find(wanted)
            if concept is None:
                raise bad_request(f"'{wanted}' is not a code of {system}", name)
            related = (
                known.descendants(concept.code)
                if modifier == "below"
                else known.ancestors(concept.code)
            )
            for found in sorted({concept.code, *related}):
                members[(system, found)] = None
        if len(members) > MAX_CODES:
            raise bad_request(f"'{name}' covers more than {MAX_CODES} codes", name)
        return TokenClause(code, _coded(members))

    def reference_clause(
        self, name: str, code: str, modifier: str, value: str, definition: dict[str, Any]
    ) -> ReferenceClause | TokenClause:
        targets = [t for t in definition.get("target", []) if isinstance(t, str)]
        resource_types = self.definitions.resource_types
        if modifier == "identifier":
            # the reference's identifier, indexed as the token row `code:identifier`
            tokens = tuple(_token(name, raw) for raw in _split(value, ","))
            return TokenClause(f"{code}{IDENTIFIER}", tokens)
        if modifier and modifier not in resource_types:
            if modifier in ("above", "below"):
                raise bad_request(f"Modifier ':{modifier}' of '{code}' is not supported yet", name)
            raise _bad_modifier(name, modifier, "reference")
        if modifier and targets and modifier not in targets:
            raise bad_request(
                f"'{code}' cannot refer to a {modifier} (it refers to {', '.join(targets)})",
                name,
            )
        matches: list[ReferenceMatch] = []
        for text in _values(name, value):
            if modifier:
                if "/" in text:
                    kind, rid = local_target(text, resource_types, self.base_url)
                    if kind != modifier or rid is None:
                        raise bad_request(
                            f"'{text}' does not refer to a resource of type {modifier}", name
                        )
                elif not is_valid_id(text):
                    raise bad_request(f"'{text}' is not a resource id", name)
                else:
                    rid = text
                matches.append(ReferenceMatch(modifier, rid))
                continue
            matches.append(self.reference(name, text, targets))
        return ReferenceClause(code, tuple(matches))

    def reference(self, name: str, text: str, targets: list[str]) -> ReferenceMatch:
        resource_types = self.definitions.resource_types
        if "://" in text or text.startswith("urn:"):
            kind, rid = local_target(text, resource_types, self.base_url)
            if rid is not None:
                return ReferenceMatch(kind, rid)
            return ReferenceMatch(url=text, any_version="|" not in text)
        if "/" in text:
            kind, rid = local_target(text, resource_types)
            if rid is None:
                raise bad_request(f"'{text}' is not a reference (Type/id)", name)
            return ReferenceMatch(kind, rid)
        if not is_valid_id(text):
            raise bad_request(f"'{text}' is not a resource id", name)
        return ReferenceMatch(targets[0] if len(targets) == 1 else None, text)


def _check_value(name: str, value: str) -> None:
    if "\x00" in value:  # no stored text holds one (PostgreSQL text cannot)
        raise bad_request(f"The value of '{name}' contains a NUL character", name)
    if len(value) > MAX_VALUE_LENGTH:
        raise bad_request(
            f"The value of '{name}' has {len(value)} characters, more than the limit of"
            f" {MAX_VALUE_LENGTH}",
            name,
        )
    if value.count(",") >= MAX_ALTERNATIVES:
        raise bad_request(
            f"The value of '{name}' has more than {MAX_ALTERNATIVES} comma-separated values",
            name,
        )


def _bad_modifier(name: str, modifier: str, kind: str) -> FhirError:
    return bad_request(f"Modifier ':{modifier}' is not supported for {kind} parameter", name)


def _id_clause(name: str, modifier: str, value: str) -> IdClause:
    if modifier not in ("", "not"):
        raise _bad_modifier(name, modifier, "_id")
    ids = tuple(_values(name, value))
    for rid in ids:
        if not is_valid_id(rid):
            raise bad_request(f"'{rid}' is not a resource id", name)
    return IdClause(ids, negate=modifier == "not")


def _string_clause(name: str, code: str, modifier: str, value: str) -> StringClause:
    values = _values(name, value)
    if modifier == "":
        return StringClause(code, tuple(StringMatch("starts", normalise(v)) for v in values))
    if modifier == "exact":
        return StringClause(code, tuple(StringMatch("exact", v) for v in values))
    if modifier == "contains":
        return StringClause(code, tuple(StringMatch("contains", normalise(v)) for v in values))
    raise _bad_modifier(name, modifier, "string")


def _token_clause(name: str, code: str, modifier: str, value: str) -> TokenClause:
    if modifier == "text":
        texts = _values(name, value)
        return TokenClause(code, tuple(TokenMatch(text=normalise(t)) for t in texts))
    if modifier == "of-type":
        return TokenClause(
            f"{code}{OF_TYPE}", tuple(_of_type(name, raw) for raw in _split(value, ","))
        )
    if modifier not in ("", "not"):
        raise _bad_modifier(name, modifier, "token")
    matches = tuple(_token(name, raw) for raw in _split(value, ","))
    return TokenClause(code, matches, negate=modifier == "not")


def _token(name: str, raw: str) -> TokenMatch:
    parts = _split(raw, "|")
    if len(parts) == 1:
        code = _unescape(parts[0])
        if not code:
            raise bad_request(f"'{name}' has an empty value", name)
        return TokenMatch(code=code)
    if len(parts) != 2:
        raise bad_request(f"'{raw}' is not a token (code, system|code, |code or system|)", name)
    system, code = _unescape(parts[0]), _unescape(parts[1])
    if not system and not code:
        raise bad_request(f"'{name}' has an empty token '|'", name)
    if not system:
        return TokenMatch(code=code, no_system=True)
    return TokenMatch(system=system, code=code or None)


def _coded(members: dict[tuple[str, str], None]) -> tuple[TokenMatch, ...]:
    """Token matches of (system, code) pairs: a coding with that system and code, or a
    value of a `code` element (Patient.gender: no system of its own) with one of the codes."""
    with_system = [TokenMatch(system=system, code=code) for system, code in members]
    codes = dict.fromkeys(code for _, code in members)
    return (*with_system, *(TokenMatch(code=code, no_system=True) for code in codes))


def _full_text_clause(name: str, code: str, modifier: str, value: str) -> FullTextClause:
    """`_text` / `_content` (search.html#text): every word of a value begins a word of the
    narrative / of the resource's text, case and accents folded; comma-separated values
    are alternatives (OR)."""
    if modifier:
        raise _bad_modifier(name, modifier, code)
    alternatives = tuple(tuple(words(text)) for text in _values(name, value))
    if any(not found for found in alternatives):
        raise bad_request(f"'{name}' has a value without words: '{value}'", name)
    return FullTextClause(code, alternatives)


def _list_clause(name: str, modifier: str, value: str) -> HasClause:
    """`_list=id` (search.html#list): the resources a List refers to in its entries, which
    is `_has:List:item:_id=id` from the other side."""
    if modifier:
        raise _bad_modifier(name, modifier, "_list")
    ids = tuple(_values(name, value))
    for rid in ids:
        if not is_valid_id(rid):
            raise bad_request(f"'{rid}' is not a List id (functional lists are not kept)", name)
    return HasClause("item", Plan("List", (IdClause(ids),)))


def _of_type(name: str, raw: str) -> TokenMatch:
    """`type-system|type-code|value` (search.html#token): rows of `P:of-type` hold the type
    system as system and `type-code|value` as code."""
    parts = [_unescape(p) for p in _split(raw, "|")]
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise bad_request(f"'{raw}' is not type-system|type-code|value for ':of-type'", name)
    system, code, value = parts
    return TokenMatch(system=system or None, code=f"{code}|{value}", no_system=not system)


def _boolean(name: str, value: str) -> bool:
    if value not in ("true", "false"):
        raise bad_request(f"'{name}' takes true or false, not '{value}'", name)
    return value == "true"


def _prefixed(text: str) -> tuple[Prefix, str]:
    head = text[:2]
    if head in PREFIXES and len(text) > 2:
        return head, text[2:]  # type: ignore[return-value]
    return "eq", text


def _date(name: str, text: str) -> DateRange:
    prefix, rest = _prefixed(text)
    found = date_range(rest)
    if found is None:
        raise bad_request(f"'{text}' is not a date, dateTime or instant for '{name}'", name)
    return DateRange(prefix, *found)


def _number(name: str, text: str) -> NumberRange:
    prefix, rest = _prefixed(text)
    value = parse_decimal(rest)
    if value is None:
        raise bad_request(f"'{text}' is not a number for '{name}'", name)
    return _number_range(prefix, value)


def _number_range(prefix: Prefix, value: Decimal) -> NumberRange:
    low, high = implied_range(value)
    number = float(value)
    if prefix == "ap":  # approximately: within 10 % of the value (search.html#prefix)
        margin = abs(number) * 0.1
        low, high = min(low, number - margin), max(high, number + margin)
    return NumberRange(prefix, number, low, high)


def _quantity(name: str, raw: str) -> QuantityMatch:
    parts = [_unescape(p) for p in _split(raw, "|")]
    if len(parts) not in (1, 3):
        raise bad_request(f"'{raw}' is not a quantity (number or number|system|code)", name)
    prefix, number_text = _prefixed(parts[0])
    value = parse_decimal(number_text)
    if value is None:
        raise bad_request(f"'{parts[0]}' is not a number for '{name}'", name)
    system, code = (parts[1] or None, parts[2] or None) if len(parts) == 3 else (None, None)
    return QuantityMatch(_number_range(prefix, value), system, code)


def _values(name: str, value: str) -> list[str]:
    """The comma-separated alternatives of a value, unescaped; none may be empty."""
    values = [_unescape(part) for part in _split(value, ",")]
    if any(not v for v in values):
        raise bad_request(f"'{name}' has an empty value in '{value}'", name)
    return values


def _split(text: str, separator: str) -> list[str]:
    """Split at separators not escaped with a backslash; the escapes stay in the parts."""
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    out: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out.append(char)
    if escaped:  # a trailing backslash stands for itself
        out.append("\\")
    return "".join(out)
