"""ConceptMap translation: the targets a (system, code) maps to in the given maps."""

from __future__ import annotations

from typing import Any


def _scope(concept_map: dict[str, Any], side: str) -> str | None:
    for key in (f"{side}Uri", f"{side}Canonical"):
        if isinstance(concept_map.get(key), str):
            return str(concept_map[key])
    return None


def translate_code(
    maps: list[dict[str, Any]],
    system: str,
    code: str,
    source: str | None = None,
    target: str | None = None,
    target_system: str | None = None,
    reverse: bool = False,
) -> list[dict[str, Any]]:
    """Matches as dicts: equivalence, concept (a Coding, absent when unmatched), source
    (the ConceptMap's url). `reverse` maps from target codes back to source codes."""
    from_side, to_side = ("target", "source") if reverse else ("source", "target")
    matches: list[dict[str, Any]] = []
    for concept_map in maps:
        if source and _scope(concept_map, from_side) not in (source, None):
            continue
        if target and _scope(concept_map, to_side) not in (target, None):
            continue
        for group in concept_map.get("group", []):
            if group.get(from_side) not in (system, None):
                continue
            to_system = group.get(to_side)
            if target_system and to_system != target_system:
                continue
            for element in group.get("element", []):
                matches.extend(_element_matches(element, code, to_system, concept_map, reverse))
    return matches


def _element_matches(
    element: dict[str, Any],
    code: str,
    to_system: str | None,
    concept_map: dict[str, Any],
    reverse: bool,
) -> list[dict[str, Any]]:
    url = concept_map.get("url", "")
    out: list[dict[str, Any]] = []
    if not reverse:
        if element.get("code") != code:
            return []
        for target in element.get("target", []):
            match: dict[str, Any] = {
                "equivalence": target.get("equivalence", "equivalent"),
                "source": url,
            }
            if target.get("code"):
                coding = {"system": to_system, "code": target["code"]}
                if target.get("display"):
                    coding["display"] = target["display"]
                match["concept"] = {k: v for k, v in coding.items() if v}
            out.append(match)
        return out
    for target in element.get("target", []):
        if target.get("code") == code and element.get("code"):
            coding = {"system": to_system, "code": element["code"]}
            if element.get("display"):
                coding["display"] = element["display"]
            out.append(
                {
                    "equivalence": target.get("equivalence", "equivalent"),
                    "concept": {k: v for k, v in coding.items() if v},
                    "source": url,
                }
            )
    return out
