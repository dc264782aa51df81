"""Hypothesis strategies for search queries drawn from the data a store holds.

A query starts from a resource that is there: a parameter it has a value for, and a value
made from that value (as it is, cut short, folded, shifted, with a prefix or a modifier) or
a near miss of it. Chains follow the resource's own references to resources that are there;
_has starts at a resource that refers to another and searches the one referred to.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from tests.support.search_oracle import Oracle
from tests.support.search_oracle import values as v
from tests.support.search_oracle.definitions import Param
from tests.support.search_oracle.paths import select_in
from tests.support.search_oracle.terminology import Terminology

Criterion = tuple[str, str]
Draw = Callable[[st.SearchStrategy[Any]], Any]
PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
KINDS = ("string", "token", "reference", "date", "number", "quantity", "uri")
# composites whose components are all of these types are drawn too
COMPONENT_KINDS = frozenset({"string", "token", "date", "number", "quantity", "uri"})
# parameters the oracle does not model as the server does on purpose (see README)
SKIPPED = frozenset({"_text", "_content", "_query", "_filter", "_list", "_has", "_type"})


def escape(text: str) -> str:
    """A literal value in a search value (search.html#escaping)."""
    for char in ("\\", ",", "|", "$"):
        text = text.replace(char, "\\" + char)
    return text


class QueryMaker:
    def __init__(self, oracle: Oracle, skip: Callable[[str, Param], bool] | None = None) -> None:
        self.oracle = oracle
        self.resources = [r for rs in oracle.by_type.values() for r in rs.values()]
        self.types = sorted(oracle.by_type)
        self.skip = skip or (lambda resource_type, param: False)

    def params(self, resource_type: str) -> list[Param]:
        return [
            p
            for code, p in sorted(self.oracle.registry.params.get(resource_type, {}).items())
            if (
                p.type in KINDS
                or (p.type == "composite" and {k for k, _ in p.components} <= COMPONENT_KINDS)
            )
            and p.expression
            and code not in SKIPPED
            and code != "_id"  # drawn on its own: an id, not a token's forms
            and not self.skip(resource_type, p)
        ]

    def held(self, resource: dict[str, Any]) -> list[tuple[Param, list[Any]]]:
        """The parameters the resource has values for, with the raw selected values."""
        out = []
        for param in self.params(resource["resourceType"]):
            if self._has_values(resource, param):
                out.append((param, self.oracle.selected(resource, param)))
        return out

    def _has_values(self, resource: dict[str, Any], param: Param) -> bool:
        if param.type == "composite":
            return bool(self._composite_items(resource, param))
        return bool(self.oracle.search_values(resource, param))

    def _composite_items(self, resource: dict[str, Any], param: Param) -> list[list[list[Any]]]:
        """Per item of a composite with a value for every component: each component's raw
        selected values."""
        out = []
        for path, item in self.oracle.composite_items(resource, param):
            found = [
                select_in(path, expression, item, resource) for _, expression in param.components
            ]
            typed = [
                self.oracle.component_values(resource, path, item, kind, expression)
                for kind, expression in param.components
            ]
            if all(typed):
                out.append(found)
        return out

    # strategies ----------------------------------------------------------------------------

    def query(self) -> st.SearchStrategy[tuple[str, list[Criterion]]]:
        return st.one_of(self._plain_query(), self._has_query())

    def _resource(self, draw: Draw) -> dict[str, Any]:
        if draw(st.booleans()):  # every type as likely as any other
            resource_type = draw(st.sampled_from(self.types))
            return draw(
                st.sampled_from(sorted(self.oracle.by_type[resource_type].values(), key=_key))
            )
        return draw(st.sampled_from(self.resources))

    def _plain_query(self) -> st.SearchStrategy[tuple[str, list[Criterion]]]:
        @st.composite
        def build(draw: Draw) -> tuple[str, list[Criterion]]:
            resource = self._resource(draw)
            criteria = [self.criterion(draw, resource, depth=0)]
            for _ in range(draw(st.integers(0, 2))):
                # AND: another criterion, from this resource or another one of its type
                other = resource
                if draw(st.booleans()):
                    others = sorted(
                        self.oracle.by_type[resource["resourceType"]].values(), key=_key
                    )
                    other = draw(st.sampled_from(others))
                criteria.append(self.criterion(draw, other, depth=0))
            return resource["resourceType"], criteria

        return build()

    def _has_query(self) -> st.SearchStrategy[tuple[str, list[Criterion]]]:
        @st.composite
        def build(draw: Draw) -> tuple[str, list[Criterion]]:
            source = self._resource(draw)
            links = self._links(source)
            if not links:
                return source["resourceType"], [self.criterion(draw, source, depth=0)]
            param, target = draw(st.sampled_from(links))
            inner_name, inner_value = self.criterion(draw, source, depth=1)
            name = f"_has:{source['resourceType']}:{param.code}:{inner_name}"
            return target["resourceType"], [(name, inner_value)]

        return build()

    def _links(self, resource: dict[str, Any]) -> list[tuple[Param, dict[str, Any]]]:
        """(reference parameter, resource it leads to) for the resource's local references."""
        out = []
        for param in self.params(resource["resourceType"]):
            if param.type != "reference":
                continue
            for text in self.oracle.search_values(resource, param):
                local = self.oracle.local(text)
                if local is None:
                    continue
                target = self.oracle.by_type.get(local.type, {}).get(local.id)
                # a reference to a type the parameter does not name is a data error; a
                # chain or _has through it is rejected (400), rightly
                if target is not None and local.type in param.targets:
                    out.append((param, target))
        return out

    def criterion(self, draw: Draw, resource: dict[str, Any], depth: int) -> Criterion:
        links = self._links(resource) if depth < 2 else []
        if links and draw(st.integers(0, 5)) == 0:  # a chain, sometimes with the type named
            param, target = draw(st.sampled_from(links))
            name, value = self.criterion(draw, target, depth + 1)
            typed = draw(st.booleans())
            head = f"{param.code}:{target['resourceType']}" if typed else param.code
            return f"{head}.{name}", value
        held = self.held(resource)
        if not held or draw(st.integers(0, 12)) == 0:
            params = [
                p
                for p in self.params(resource["resourceType"])
                if p.code not in ("_id", "_lastUpdated")  # every resource has them
            ]
            if not params:
                return "_id", resource["id"]
            param = draw(st.sampled_from(params))
            return f"{param.code}:missing", draw(st.sampled_from(["true", "false"]))
        if draw(st.integers(0, 15)) == 0:
            return "_id", resource["id"] + draw(st.sampled_from(["", "x"]))
        param, _ = draw(st.sampled_from(held))
        maker = getattr(self, "_" + param.type)
        modifier, value = maker(draw, param, resource)
        if draw(st.integers(0, 3)) == 0:  # OR: another value of this parameter
            others = sorted(self.oracle.by_type[resource["resourceType"]].values(), key=_key)
            other = draw(st.sampled_from(others))
            if self._has_values(other, param):
                extra_modifier, extra = maker(draw, param, other)
                if extra_modifier == modifier and modifier != "missing":
                    value = f"{value},{extra}"
        return (f"{param.code}:{modifier}" if modifier else param.code), value

    # values per type -------------------------------------------------------------------------

    def _string(self, draw: Draw, param: Param, resource: dict[str, Any]) -> tuple[str, str]:
        text = draw(st.sampled_from(self.oracle.search_values(resource, param)))
        how = draw(st.sampled_from(["prefix", "folded", "upper", "exact", "contains", "miss"]))
        if how == "exact":
            return "exact", escape(text if draw(st.booleans()) else text.lower())
        if how == "contains":
            start = draw(st.integers(0, max(0, len(text) - 1)))
            end = draw(st.integers(start + 1, len(text)))
            return "contains", escape(text[start:end])
        if how == "miss":
            return "", escape(text + draw(st.sampled_from(["x", "å", " b"])))
        cut = text[: draw(st.integers(1, len(text)))]
        if how == "folded":
            cut = v.fold(cut)
        elif how == "upper":
            cut = cut.upper()
        return "", escape(cut)

    def _token(self, draw: Draw, param: Param, resource: dict[str, Any]) -> tuple[str, str]:
        token = draw(st.sampled_from(self.oracle.search_values(resource, param)))
        if token.code is None and not token.system:
            if token.texts:
                text = draw(st.sampled_from(token.texts))
                return "text", escape(text[: draw(st.integers(1, len(text)))])
            return "missing", "false"
        how = draw(
            st.sampled_from(["code", "system|code", "|code", "system|", "not", "text", "miss"])
        )
        code = escape(token.code or "")
        system = escape(token.system or "")
        if how in ("code", "system|code") and draw(st.booleans()):
            coded = self._coded(draw, token)
            if coded is not None:
                return coded
        if how == "text" and token.texts:
            text = draw(st.sampled_from(token.texts))
            return "text", escape(v.fold(text[: draw(st.integers(1, len(text)))]))
        if how == "miss" and code:
            return "", code + "x"
        if how == "system|" and system:
            return "", f"{system}|"
        if how == "|code" and code:
            return "", f"|{code}"
        if how == "system|code" and system and code:
            return "", f"{system}|{code}"
        if how == "not" and code:
            return "not", code if draw(st.booleans()) or not system else f"{system}|{code}"
        if code:
            return "", code
        return "", f"{system}|"

    def _coded(self, draw: Draw, token: v.Token) -> tuple[str, str] | None:
        """:in / :not-in a value set with codes of the token's system, or :below / :above a
        code related to it in its code system's hierarchy (None when there is none)."""
        terminology = self.oracle.terminology
        if terminology is None or not token.system or not token.code:
            return None
        known = terminology.code_systems.get(token.system)
        if draw(st.booleans()) and known is not None and known.hierarchical():
            if token.code not in known.codes():
                return None
            modifier = draw(st.sampled_from(["below", "above"]))
            if modifier == "below":  # an ancestor (found), or the code itself
                targets = sorted({token.code, *known.ancestors(token.code)})
            else:  # a code below it (found), or any code of the system (often not)
                below = [c for c in sorted(known.codes()) if known.subsumes(token.code, c)]
                targets = below if draw(st.booleans()) else sorted(known.codes())
            target = draw(st.sampled_from(targets))
            return modifier, f"{escape(token.system)}|{escape(target)}"
        urls = _value_sets_with(terminology, token.system)
        if not urls:
            return None
        return draw(st.sampled_from(["in", "not-in"])), escape(draw(st.sampled_from(urls)))

    def _composite(self, draw: Draw, param: Param, resource: dict[str, Any]) -> tuple[str, str]:
        """`a$b` from one item's values, or sometimes the first component from one item and
        the others from another item (which must not match unless some item has both)."""
        items = self._composite_items(resource, param)
        chosen = draw(st.sampled_from(items))
        if len(items) > 1 and draw(st.integers(0, 2)) == 0:
            other = draw(st.sampled_from(items))
            chosen = [chosen[0], *other[1:]]
        parts = [
            self._component(draw, kind, raw)
            for (kind, _), raw in zip(param.components, chosen, strict=True)
        ]
        return "", "$".join(parts)

    def _component(self, draw: Draw, kind: str, raw: list[Any]) -> str:
        if kind == "token":
            tokens = [t for t in v.tokens(raw) if t.code]
            if not tokens:
                return "no-such-code"
            token = draw(st.sampled_from(tokens))
            code = escape(token.code or "")
            if token.system and draw(st.booleans()):
                return f"{escape(token.system)}|{code}"
            return code + draw(st.sampled_from(["", "", "", "x"]))
        if kind == "quantity":
            quantity = draw(st.sampled_from(v.quantities(raw)))
            number = quantity.number
            if not number.low.is_finite() or not number.high.is_finite():
                number = v.Number(number.value, number.value, True, number.value)
            text = draw(st.sampled_from(["", *PREFIXES])) + _number_text(draw, number)
            if quantity.system and quantity.code and draw(st.booleans()):
                return f"{text}|{escape(quantity.system)}|{escape(quantity.code)}"
            return text
        if kind == "number":
            number = draw(st.sampled_from(v.numbers(raw)))
            return draw(st.sampled_from(["", *PREFIXES])) + _number_text(draw, number)
        if kind == "date":
            texts = _date_texts(raw)
            if not texts:
                return "1900"
            text = draw(st.sampled_from(texts))
            cuts = [c for c in (text[:4], text[:7], text[:10], text) if v.date_range(c)]
            return draw(st.sampled_from(["", *PREFIXES])) + draw(st.sampled_from(cuts))
        if kind == "string":
            text = draw(st.sampled_from(v.strings(raw)))
            return escape(v.fold(text[: draw(st.integers(1, len(text)))]))
        return escape(draw(st.sampled_from(v.uris(raw))))

    def _reference(self, draw: Draw, param: Param, resource: dict[str, Any]) -> tuple[str, str]:
        text = draw(st.sampled_from(self.oracle.search_values(resource, param)))
        local = self.oracle.local(text)
        if local is None:  # elsewhere, a canonical, urn: or contained: as written
            if text.startswith("#") or ("://" not in text and not text.startswith("urn:")):
                return "missing", "false"
            return "", escape(text.split("|")[0] if draw(st.booleans()) else text)
        how = draw(st.sampled_from(["id", "Type/id", "url", "typed", "miss"]))
        if how == "id" and (len(param.targets) == 1 or draw(st.booleans())):
            return "", local.id
        if how == "url":
            return "", f"http://testserver/{local.type}/{local.id}"
        if how == "typed":
            return local.type, local.id
        if how == "miss":
            return "", f"{local.type}/{local.id}x"
        return "", f"{local.type}/{local.id}"

    def _date(self, draw: Draw, param: Param, resource: dict[str, Any]) -> tuple[str, str]:
        texts = _date_texts(self.oracle.selected(resource, param))
        if not texts:
            return "missing", "false"
        text = draw(st.sampled_from(texts))
        # cut the precision: year, month, day or as written
        cuts = [text[:4], text[:7], text[:10], text]
        text = draw(st.sampled_from([c for c in cuts if v.date_range(c) is not None]))
        if draw(st.integers(0, 3)) == 0:  # a near miss: the year before or after
            year = int(text[:4]) + draw(st.sampled_from([-1, 1]))
            text = f"{year:04d}{text[4:]}"
            if v.date_range(text) is None:
                text = text[:4]
        prefix = draw(st.sampled_from(["", *PREFIXES]))
        return "", prefix + text

    def _number(self, draw: Draw, param: Param, resource: dict[str, Any]) -> tuple[str, str]:
        number = draw(st.sampled_from(self.oracle.search_values(resource, param)))
        return "", draw(st.sampled_from(["", *PREFIXES])) + _number_text(draw, number)

    def _quantity(self, draw: Draw, param: Param, resource: dict[str, Any]) -> tuple[str, str]:
        quantity = draw(st.sampled_from(self.oracle.search_values(resource, param)))
        if not quantity.number.low.is_finite() and not quantity.number.high.is_finite():
            return "missing", "false"
        text = draw(st.sampled_from(["", *PREFIXES])) + _number_text(draw, quantity.number)
        how = draw(st.sampled_from(["number", "system|code", "||code", "||unit", "miss"]))
        if how == "system|code" and quantity.system and quantity.code:
            return "", f"{text}|{escape(quantity.system)}|{escape(quantity.code)}"
        if how == "||code" and quantity.code:
            return "", f"{text}||{escape(quantity.code)}"
        if how == "||unit" and quantity.unit:
            return "", f"{text}||{escape(quantity.unit)}"
        if how == "miss" and quantity.code:
            return "", f"{text}||{escape(quantity.code)}x"
        return "", text

    def _uri(self, draw: Draw, param: Param, resource: dict[str, Any]) -> tuple[str, str]:
        text = draw(st.sampled_from(self.oracle.search_values(resource, param)))
        how = draw(st.sampled_from(["exact", "below", "above", "miss"]))
        if how == "below" and "/" in text:
            parts = text.rstrip("/").split("/")
            keep = draw(st.integers(min(3, len(parts)), len(parts)))
            return "below", escape("/".join(parts[:keep]))
        if how == "above":
            return "above", escape(text.rstrip("/") + "/" + draw(st.sampled_from(["a", "a/b"])))
        if how == "miss":
            return "", escape(text + "x")
        return "", escape(text)


_WITH_SYSTEM: dict[str, list[str]] = {}


# the server searches by at most this many codes at once (more is a 400, by design)
_MAX_CODES = 10_000


def _value_sets_with(terminology: Terminology, system: str) -> list[str]:
    if system not in _WITH_SYSTEM:
        _WITH_SYSTEM[system] = [
            url
            for url in terminology.value_sets_with(system)
            if len(terminology.members(url) or ()) <= _MAX_CODES
        ]
    return _WITH_SYSTEM[system]


def _key(resource: dict[str, Any]) -> str:
    return resource["id"]


def _date_texts(selected: list[Any]) -> list[str]:
    out: list[str] = []
    for item in selected:
        item = v.extension_value(item)
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            out.extend(item[k] for k in ("start", "end") if isinstance(item.get(k), str))
            out.extend(e for e in item.get("event") or [] if isinstance(e, str))
            repeat = item.get("repeat")
            bounds = repeat.get("boundsPeriod") if isinstance(repeat, dict) else None
            if isinstance(bounds, dict):
                out.extend(bounds[k] for k in ("start", "end") if isinstance(bounds.get(k), str))
    return [t for t in out if v.date_range(t) is not None]


def _number_text(draw: Draw, number: v.Number) -> str:
    value = number.value
    how = draw(st.sampled_from(["same", "coarser", "finer", "nudged"]))
    if how == "coarser":
        value = value.quantize(Decimal(1)) if abs(value) >= 1 else value.quantize(Decimal("0.1"))
    elif how == "finer":
        value = value.quantize(Decimal("0.001")) if abs(value) < 10**9 else value
    elif how == "nudged":
        step = Decimal(1).scaleb(value.as_tuple().exponent)  # type: ignore[arg-type]
        value += step * draw(st.sampled_from([-1, 1]))
    return _plain(value)


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    return text
