"""The normal form strings are indexed and searched in: case and accents do not matter.

"Åsa" and "asa" are the same name to a string search (search.html#string), so both the
indexed value and the searched value are folded: case-folded, decomposed (NFKD), and the
combining marks dropped.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# the combining diacritics of Latin script (å, ä, ö, é, ü ...), removed without a per-character
# loop; other scripts' marks take the general path
_LATIN_MARKS = re.compile("[\u0300-\u036f]+")


@lru_cache(maxsize=16384)
def normalise(text: str) -> str:
    if text.isascii():
        return text.lower()
    folded = _LATIN_MARKS.sub("", unicodedata.normalize("NFKD", text.casefold()))
    if folded.isascii():
        return folded
    return "".join(c for c in folded if not unicodedata.combining(c))
