"""Which slice an item belongs to, by the slicing's discriminators (profiling.html#discriminator).

- value / pattern: the item's value at the path matches the slice's fixed or pattern value
  there (or, when the slice gives none, a code of its required binding);
- exists: the path is present exactly when the slice requires it;
- type: the item's type (choice element or resource) is the slice's;
- profile: the item conforms to the slice's profile at the path.
A path is a dotted list of names, with `$this`, `extension('url')` and `resolve()` (the
latter only for contained references here).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from fhir_server.terminology.expansion import CannotExpand
from fhir_server.validation.profile.elements import ElementDef, TypeRef
from fhir_server.validation.profile.values import matches_pattern

if TYPE_CHECKING:
    from fhir_server.validation.profile.walker import Walk

_EXTENSION_CALL = re.compile(r"extension\(['\"]([^'\"]+)['\"]\)")
_OF_TYPE = re.compile(r"ofType\((\w+)\)")


def slice_of(walk: Walk, el: ElementDef, type_ref: TypeRef | None, item: Any) -> int | None:
    discriminators = (el.slicing or {}).get("discriminator", [])
    for index, slice_def in enumerate(el.slices):
        if discriminators and all(
            _matches(walk, d.get("type", ""), d.get("path", "$this"), slice_def, type_ref, item)
            for d in discriminators
        ):
            return index
    return None


def _matches(
    walk: Walk,
    kind: str,
    path: str,
    slice_def: ElementDef,
    type_ref: TypeRef | None,
    item: Any,
) -> bool:
    if kind in ("value", "pattern"):
        target = definition_at(walk, slice_def, path)
        if target is None:
            return False
        expected = target.fixed or target.pattern
        found = values_at(item, path)
        if expected is not None:
            return any(matches_pattern(value, expected[1]) for value in found)
        if target.binding is not None and target.binding[0] == "required":
            return any(_in_value_set(walk, target.binding[1], value) for value in found)
        return False
    if kind == "exists":
        target = definition_at(walk, slice_def, path)
        if target is None:
            return False
        present = bool(values_at(item, path))
        return present if target.min > 0 else (not present if target.max == 0 else True)
    if kind == "type":
        codes = {t.code for t in _types_at(walk, slice_def, path)}
        if path == "$this" and type_ref is not None and not isinstance(item, dict):
            return type_ref.code in codes
        for value in values_at(item, path):
            if isinstance(value, dict) and value.get("resourceType") in codes:
                return True
        if path == "$this" and type_ref is not None:
            return type_ref.code in codes
        return False
    if kind == "profile":
        profiles = [p for t in _types_at(walk, slice_def, path) for p in t.profiles]
        return any(
            walk.validator.conforms(value, profile)
            for value in values_at(item, path)
            for profile in profiles
        )
    return False


def _in_value_set(walk: Walk, canonical: str, value: Any) -> bool:
    try:
        expansion = walk.validator.terminology.expansion(canonical)
    except CannotExpand:
        return False
    if isinstance(value, str):
        return expansion.contains(None, value)
    if isinstance(value, dict):
        codings = value.get("coding", [value])
        return any(
            isinstance(c, dict) and expansion.contains(c.get("system"), str(c.get("code")))
            for c in codings
        )
    return False


def _steps(path: str) -> list[str]:
    return [] if path in ("$this", "") else path.split(".")


def values_at(item: Any, path: str) -> list[Any]:
    """The item's values at a discriminator path."""
    current = [item]
    for step in _steps(path):
        if step == "$this":
            continue
        if step == "resolve()":
            current = []  # references are not followed here
            continue
        call = _EXTENSION_CALL.fullmatch(step)
        of_type = _OF_TYPE.fullmatch(step)
        following: list[Any] = []
        for value in current:
            if not isinstance(value, dict):
                continue
            if call is not None:
                following.extend(
                    e
                    for e in value.get("extension", [])
                    if isinstance(e, dict) and e.get("url") == call.group(1)
                )
            elif of_type is not None:
                following.append(value)
            elif step in value:
                found = value[step]
                following.extend(found if isinstance(found, list) else [found])
            else:  # a choice element named without its type: value → valueString
                following.extend(v for k, v in value.items() if _is_choice_key(k, step))
        current = following
    return current


def _is_choice_key(key: str, name: str) -> bool:
    return key.startswith(name) and len(key) > len(name) and key[len(name)].isupper()


def definition_at(walk: Walk, el: ElementDef, path: str) -> ElementDef | None:
    """The element definition a discriminator path leads to from a slice."""
    current: ElementDef | None = el
    for step in _steps(path):
        if current is None:
            return None
        if _OF_TYPE.fullmatch(step) or step == "$this":
            continue
        call = _EXTENSION_CALL.fullmatch(step)
        children = _children(walk, current)
        if call is not None:
            extension = children.get("extension")
            current = next(
                (
                    s
                    for s in (extension.slices if extension else [])
                    if any(call.group(1) in t.profiles for t in s.types)
                ),
                None,
            )
            continue
        current = children.get(step) or children.get(step + "[x]")
    return current


def _children(walk: Walk, el: ElementDef) -> dict[str, ElementDef]:
    if el.children:
        return el.children
    if len(el.types) != 1:
        return {}
    type_ref = el.types[0]
    tree = walk.validator.tree(type_ref.profiles[0] if type_ref.profiles else type_ref.code)
    return tree.root.children if tree is not None else {}


def _types_at(walk: Walk, el: ElementDef, path: str) -> tuple[TypeRef, ...]:
    target = definition_at(walk, el, path)
    return target.types if target is not None else ()
