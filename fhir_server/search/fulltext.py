"""Simple full text search: `_text` (the narrative) and `_content` (all of the resource's
text), search.html#text.

A resource's words are kept once per resource in a full-text index of the store (SQLite
FTS5, PostgreSQL tsvector), folded as string search folds (search/text.py: "Åsa" is
"asa"); the words are found here, in Python, so that both stores hold and match the same
words. A searched word matches the words it begins ("diab" finds "Diabetes"). Words are
runs of two to 64 letters and digits. `_content` holds the words of every string in the
resource (narrative included) but those that are not text: ids, references, URLs,
systems, base64 data, dates and the like.
"""

from __future__ import annotations

import html
import re
from typing import Any

from fhir_server.search.text import normalise

FULL_TEXT = frozenset({"_text", "_content"})
# the mark of a narrative word among a resource's words (`§diabetes`): not a letter or
# digit, so no word of the text can begin with it; a character of its own to SQLite's
# FTS5 `ascii` tokenizer and to PostgreSQL's tsvector
NARRATIVE = "§"

# runs of letters and digits; a word of one character is not worth keeping, one of more
# than _LONGEST (encoded data, hashes) is not a word to look for
_WORD = re.compile(r"[^\W_]+")
_LONGEST = 64
# dates, times and instants: their digits are not words anyone searches text for
_DATE = re.compile(r"\d{4}-\d{2}(-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2})?)?)?")
_TAG = re.compile(r"<[^>]*>")
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


def words(text: str) -> list[str]:
    """The distinct words of a text, folded (search/text.py), in order of appearance."""
    found: dict[str, None] = {}
    for word in dict.fromkeys(_WORD.findall(text)):
        if 1 < len(word) <= _LONGEST:
            # names and places repeat: normalise's cache serves most of the folding
            found[word.lower() if word.isascii() else normalise(word)] = None
    return list(found)


def narrative_text(resource: dict[str, Any]) -> str:
    """The text of the resource's narrative (Resource.text.div without its markup)."""
    narrative = resource.get("text")
    div = narrative.get("div") if isinstance(narrative, dict) else None
    if not isinstance(div, str) or not div:
        return ""
    return html.unescape(_TAG.sub(" ", div))


def content_text(resource: dict[str, Any]) -> str:
    """The strings of the resource that are text (see _NOT_TEXT; not the narrative's
    element, whose words narrative_text gives), one a line, in no particular order."""
    out: list[str] = []
    stack: list[Any] = [
        v for k, v in resource.items() if k not in _NOT_TEXT and k != "text" and k[0] != "_"
    ]
    while stack:
        value = stack.pop()
        kind = value.__class__
        if kind is str:
            if not (value[:1].isdigit() and _DATE.fullmatch(value)):
                out.append(value)
        elif kind is dict:
            stack.extend([v for k, v in value.items() if k not in _NOT_TEXT and k[0] != "_"])
        elif kind is list:
            stack.extend(value)
    return "\n".join(out)


def full_text_words(resource: dict[str, Any], text: bool, content: bool) -> list[str]:
    """The words of `_content` (the narrative's and the other text's), and those of
    `_text` (the narrative's) marked with NARRATIVE, each once."""
    narrative = words(narrative_text(resource)) if text or content else []
    found: dict[str, None] = {}
    if content:
        found.update(dict.fromkeys(narrative))
        found.update(dict.fromkeys(words(content_text(resource))))
    if text:
        found.update(dict.fromkeys(NARRATIVE + word for word in narrative))
    return list(found)


def search_words(param: str, word: str) -> str:
    """A searched word as the index keeps it for `param` (_text or _content)."""
    return NARRATIVE + word if param == "_text" else word
