"""HL7 v2 messages in their traditional encoding (ER7): segments, fields, repetitions,
components, subcomponents and escape sequences (HL7 v2.5 chapter 2.5–2.7).

The separators are the message's own: MSH-1 (field) and MSH-2 (component, repetition,
escape, subcomponent and, from v2.7, truncation). Segments end with CR; LF and CRLF are
tolerated, as PAS exports and hand-written messages use them. A field sent as `""` is an
explicit null ("delete the value"), which `Field.null` tells apart from an empty field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fhir_server.mappings.problems import MessageProblem

_SEGMENT_NAME = re.compile(r"[A-Z][A-Z0-9]{2}")
_SEGMENT_END = re.compile(r"\r\n|\r|\n")
NULL = '""'


@dataclass(frozen=True, slots=True)
class Separators:
    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"
    truncation: str = ""  # v2.7 and later may name one (MSH-2 position 5)

    @property
    def encoding_characters(self) -> str:
        """MSH-2 as sent."""
        return self.component + self.repetition + self.escape + self.subcomponent + self.truncation


def separators_of(text: str) -> Separators:
    """The separators a message declares in MSH-1 and MSH-2; a MessageProblem when they
    are missing or unusable."""
    if len(text) < 8 or not text.startswith("MSH"):
        raise MessageProblem.reject("MSH", 1, "100", "The message does not begin with an MSH")
    field = text[3]
    if field.isalnum() or field.isspace():
        raise MessageProblem.reject(
            "MSH", 1, "102", f"MSH-1 (field separator) '{field}' must be a special character"
        )
    end = text.find(field, 4)
    declared = text[4:] if end < 0 else text[4:end]
    declared = _SEGMENT_END.split(declared, maxsplit=1)[0]
    chars = [field, *declared]
    if len(declared) not in (4, 5) or len(set(chars)) != len(chars):
        raise MessageProblem.reject(
            "MSH",
            2,
            "102",
            f"MSH-2 (encoding characters) '{declared}' must be 4 or 5 distinct characters"
            f" (component, repetition, escape, subcomponent), other than the field separator",
        )
    if any(c.isalnum() or c.isspace() for c in declared):
        raise MessageProblem.reject(
            "MSH",
            2,
            "102",
            f"MSH-2 (encoding characters) '{declared}' must not hold letters, digits or spaces",
        )
    return Separators(field, declared[0], declared[1], declared[2], declared[3], declared[4:])


def unescape(text: str, seps: Separators) -> str:
    """The text an ER7 value stands for (escape sequences of v2.5 section 2.7)."""
    esc = seps.escape
    if esc not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        end = text.find(esc, i + 1) if char == esc else -1
        if end < 0:
            out.append(char)
            i += 1
            continue
        out.append(_escape_meaning(text[i + 1 : end], seps, text[i : end + 1]))
        i = end + 1
    return "".join(out)


def _escape_meaning(code: str, seps: Separators, sequence: str) -> str:
    simple = {
        "F": seps.field,
        "S": seps.component,
        "T": seps.subcomponent,
        "R": seps.repetition,
        "E": seps.escape,
        "P": seps.truncation,
        ".br": "\n",
        "H": "",  # start and end of highlighting: no meaning in the stored text
        "N": "",
    }
    if code in simple:
        return simple[code]
    if code.startswith("X") and len(code) > 1 and len(code) % 2 == 1:
        try:
            return bytes.fromhex(code[1:]).decode("latin-1")
        except ValueError:
            return sequence
    return sequence  # not a sequence we know: the characters as they are


def escape(text: str, seps: Separators) -> str:
    """`text` with every separator character escaped, for a value in a message we send."""
    codes = {
        seps.escape: "E",
        seps.field: "F",
        seps.component: "S",
        seps.subcomponent: "T",
        seps.repetition: "R",
    }
    if seps.truncation:
        codes[seps.truncation] = "P"
    out = []
    for char in text:
        if char in codes:
            out.append(f"{seps.escape}{codes[char]}{seps.escape}")
        elif char in "\r\n":
            out.append(f"{seps.escape}.br{seps.escape}")
        else:
            out.append(char)
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Repetition:
    """One repetition of a field: components of subcomponents, unescaped."""

    components: tuple[tuple[str, ...], ...]

    def get(self, component: int = 1, subcomponent: int | None = None) -> str:
        """Component `component` (1-based); its subcomponent when given, else the whole
        component as text (subcomponents joined by '&' only when there are several)."""
        if component < 1 or component > len(self.components):
            return ""
        parts = self.components[component - 1]
        if subcomponent is None:
            return parts[0] if len(parts) == 1 else "&".join(parts)
        return parts[subcomponent - 1] if 0 < subcomponent <= len(parts) else ""

    @property
    def empty(self) -> bool:
        return not any(any(parts) for parts in self.components)


@dataclass(frozen=True, slots=True)
class Field:
    raw: str
    repetitions: tuple[Repetition, ...]

    @property
    def null(self) -> bool:
        """Sent as `""`: the sender says the value is to be removed."""
        return self.raw == NULL

    @property
    def empty(self) -> bool:
        return all(r.empty for r in self.repetitions)

    def first(self) -> Repetition:
        return self.repetitions[0] if self.repetitions else Repetition(())


EMPTY_FIELD = Field("", ())


@dataclass(frozen=True, slots=True)
class Segment:
    name: str
    fields: tuple[str, ...]  # raw; fields[n] is SEG-n (for MSH, MSH-1 is the separator)
    seps: Separators

    def raw(self, number: int) -> str:
        return self.fields[number] if 0 < number < len(self.fields) else ""

    def field(self, number: int) -> Field:
        raw = self.raw(number)
        if not raw:
            return EMPTY_FIELD
        if self.name == "MSH" and number in (1, 2):
            return Field(raw, (Repetition(((raw,),)),))
        if raw == NULL:
            return Field(raw, (Repetition((("",),)),))
        seps = self.seps
        repetitions = tuple(
            Repetition(
                tuple(
                    tuple(unescape(sub, seps) for sub in component.split(seps.subcomponent))
                    for component in repetition.split(seps.component)
                )
            )
            for repetition in raw.split(seps.repetition)
        )
        return Field(raw, repetitions)

    def value(self, number: int, component: int = 1, subcomponent: int | None = None) -> str:
        """The first repetition's component (and subcomponent) of a field, as text."""
        return self.field(number).first().get(component, subcomponent)


@dataclass(frozen=True, slots=True)
class Message:
    segments: tuple[Segment, ...]
    seps: Separators

    @property
    def msh(self) -> Segment:
        return self.segments[0]

    def segment(self, name: str) -> Segment | None:
        for segment in self.segments:
            if segment.name == name:
                return segment
        return None

    def all(self, name: str) -> list[Segment]:
        return [s for s in self.segments if s.name == name]

    @property
    def control_id(self) -> str:
        return self.msh.value(10)

    @property
    def version(self) -> str:
        return self.msh.value(12)


def parse(text: str) -> Message:
    """A message from its ER7 text; a MessageProblem (an AR) when it cannot be read."""
    text = text.lstrip("\r\n")
    seps = separators_of(text)
    segments: list[Segment] = []
    for number, line in enumerate(_SEGMENT_END.split(text), start=1):
        if not line.strip():
            continue
        name = line[:3]
        if not _SEGMENT_NAME.fullmatch(name) or (len(line) > 3 and line[3] != seps.field):
            raise MessageProblem.reject(
                line[:3],
                None,
                "100",
                f"Segment {number} ('{line[:20]}') is not a segment: a segment is a"
                f" three-character name followed by '{seps.field}'",
            )
        fields = line.split(seps.field)
        if name == "MSH":
            if segments:
                raise MessageProblem.reject("MSH", None, "100", "A second MSH in one message")
            # MSH-1 is the separator itself: fields[n] is MSH-n
            fields = ["MSH", seps.field, *fields[1:]]
        segments.append(Segment(name, tuple(fields), seps))
    return Message(tuple(segments), seps)
