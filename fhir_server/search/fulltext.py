"""Simple full text search: `_text` (the narrative) and `_content` (all of the resource's
text), search.html#text.

Both are indexed as string rows of their own, one per word: the word folded as string
search folds (search/text.py: "Åsa" is "asa") and as written. A searched word matches
the words it begins ("diab" finds "Diabetes"), like a string search. Words are runs of
letters and digits (`\\w`). `_content` holds the words of every string in the resource
(narrative included) but those that are not text: ids, references, URLs, systems,
base64 data and the like.
"""

from __future__ import annotations

import html
import re
from typing import Any

from fhir_server.search.text import normalise

FULL_TEXT = frozenset({"_text", "_content"})

_WORD = re.compile(r"\w+")
# dates, times and instants: their digits are not words anyone searches text for
_DATE = re.compile(r"\d{4}-\d{2}(-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2})?)?)?")
_TAG = re.compile(r"<[^>]*>")
# the longest word indexed: longer runs (encoded data, hashes) are not words to look for
_MAX_WORD = 64
# members whose strings are identifiers, URLs, codes of systems or binary data
_NOT_TEXT = frozenset(
    {
        "id",
        "resourceType",
        "reference",
        "system",
        "url",
        "fullUrl",
        "profile",
        "source",
        "versionId",
        "lastUpdated",
        "data",
        "div",
        "contentType",
        "language",
        "version",
    }
)


def words(text: str) -> list[tuple[str, str]]:
    """(folded, as written) of each word of a text, in order, repeats kept."""
    return [(normalise(word), word) for word in _WORD.findall(text) if len(word) <= _MAX_WORD]


def narrative_text(resource: dict[str, Any]) -> str:
    """The text of the resource's narrative (Resource.text.div without its markup)."""
    narrative = resource.get("text")
    div = narrative.get("div") if isinstance(narrative, dict) else None
    if not isinstance(div, str) or not div:
        return ""
    return html.unescape(_TAG.sub(" ", div))


def content_strings(value: Any, out: list[str]) -> None:
    """Every string of the resource that is text (see _NOT_TEXT), in document order."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in _NOT_TEXT or key.startswith("_"):
                continue
            if item.__class__ is str:
                if not _DATE.fullmatch(item):
                    out.append(item)
            elif isinstance(item, dict | list):
                content_strings(item, out)
    elif isinstance(value, list):
        for item in value:
            if item.__class__ is str:
                if not _DATE.fullmatch(item):
                    out.append(item)
            elif isinstance(item, dict | list):
                content_strings(item, out)


def full_text_rows(
    resource: dict[str, Any], text: bool, content: bool
) -> list[tuple[str, str, str]]:
    """The string rows of `_text` and `_content` (each word once per parameter)."""
    rows: dict[tuple[str, str, str], None] = {}
    narrative = words(narrative_text(resource)) if text or content else []
    if text:
        for folded, written in narrative:
            rows[("_text", folded, written)] = None
    if content:
        strings: list[str] = []
        # the narrative's words were taken above (its status is no text)
        content_strings({k: v for k, v in resource.items() if k != "text"}, strings)
        for folded, written in narrative:
            rows[("_content", folded, written)] = None
        for item in strings:
            for folded, written in words(item):
                rows[("_content", folded, written)] = None
    return list(rows)
