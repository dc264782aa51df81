"""fixed[x] (exactly this value) and pattern[x] (at least these parts) comparisons."""

from __future__ import annotations

from typing import Any


def matches_fixed(value: Any, fixed: Any) -> bool:
    return bool(value == fixed)


def matches_pattern(value: Any, pattern: Any) -> bool:
    """The value holds every part of the pattern: each property of an object, and for an
    array each pattern item matched by some item of the value (profiling.html#pattern)."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            key in value and matches_pattern(value[key], part) for key, part in pattern.items()
        )
    if isinstance(pattern, list):
        items = value if isinstance(value, list) else [value]
        return all(any(matches_pattern(item, part) for item in items) for part in pattern)
    return bool(value == pattern)
