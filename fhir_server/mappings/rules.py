"""The declarative ADT mapping (mappings/hl7v2-adt.toml) read into typed rules.

The file is checked as it is read: a rule naming a map that does not exist, a source that
is not `SEG-f(.c(.s))`, an unknown conversion type, fails the server's start rather than a
message.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fhir_server.definitions.content import mapping_file

ADT_MAPPING = "hl7v2-adt.toml"
TYPES = frozenset({"text", "date", "dateTime", "personal-identity-number", "hsa-id", "kommunkod"})
PATIENT_MODES = frozenset({"upsert", "match"})
ENCOUNTER_MODES = frozenset({"upsert", "existing", "if-known"})
SKIP = "skip"
ERROR = "error"

_ABSOLUTE = re.compile(r"([A-Z][A-Z0-9]{2})-([0-9]+)(?:\.([0-9]+))?(?:\.([0-9]+))?")
_RELATIVE = re.compile(r"([0-9]+)(?:\.([0-9]+))?")


class MappingFileError(ValueError):
    """The mapping file itself is wrong (a deployment error, not a message's)."""


@dataclass(frozen=True, slots=True)
class Source:
    """A position in a message (`PID-3.4.2`) or, in a part, in one repetition (`4.2`)."""

    text: str
    segment: str | None
    field: int | None
    component: int | None
    subcomponent: int | None


def parse_source(text: str, relative: bool) -> Source:
    if relative:
        found = _RELATIVE.fullmatch(text)
        if found is None:
            raise MappingFileError(f"'{text}' is not a component position such as 4 or 4.2")
        sub = found.group(2)
        return Source(text, None, None, int(found.group(1)), int(sub) if sub else None)
    found = _ABSOLUTE.fullmatch(text)
    if found is None:
        raise MappingFileError(f"'{text}' is not a field position such as PID-3 or PID-3.4.2")
    segment, field, component, sub = found.groups()
    return Source(
        text,
        segment,
        int(field),
        int(component) if component else None,
        int(sub) if sub else None,
    )


@dataclass(frozen=True, slots=True)
class ValueMap:
    name: str
    values: dict[str, Any]
    unmapped: Any  # ERROR, SKIP or the value to use


@dataclass(frozen=True, slots=True)
class Rule:
    sources: tuple[Source, ...]
    target: str
    type: str = "text"
    map: ValueMap | None = None
    template: Any = None
    required: frozenset[str] | bool = False  # True: in every event
    events: frozenset[str] | None = None  # None: every event
    default: Any = None
    repeat: bool = False
    merge: tuple[str, ...] = ()
    parts: tuple[Rule, ...] = ()
    resolve: str | None = None
    key: bool = False

    def applies(self, event: str) -> bool:
        return self.events is None or event in self.events

    def required_in(self, event: str) -> bool:
        return self.required is True or (
            isinstance(self.required, frozenset) and event in self.required
        )

    @property
    def where(self) -> str:
        return " or ".join(s.text for s in self.sources)


@dataclass(frozen=True, slots=True)
class ResourceMapping:
    resource_type: str
    segment: str
    profile: str
    rules: tuple[Rule, ...]
    match: tuple[str, ...] = ()  # identifier systems the resource is found by


@dataclass(frozen=True, slots=True)
class Event:
    code: str
    name: str
    patient: str
    encounter: str
    status: str | None
    remove: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AdtMapping:
    message_type: str
    versions: frozenset[str]
    processing_ids: frozenset[str]
    timezone: str
    charsets: dict[str, str]
    application: str
    facility: str
    events: dict[str, Event]
    patient: ResourceMapping
    encounter: ResourceMapping


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _rule(raw: dict[str, Any], maps: dict[str, ValueMap], events: set[str], part: bool) -> Rule:
    known = {
        "source", "target", "type", "map", "template", "required", "events", "default",
        "repeat", "merge", "parts", "resolve", "key",
    }  # fmt: skip
    unknown = set(raw) - known
    if unknown:
        raise MappingFileError(f"unknown keys {sorted(unknown)} in rule {raw}")
    if "source" not in raw or "target" not in raw:
        raise MappingFileError(f"a rule needs a source and a target: {raw}")
    sources = tuple(parse_source(s, part) for s in _list(raw["source"]))
    kind = raw.get("type", "text")
    if kind not in TYPES:
        raise MappingFileError(f"unknown type '{kind}' (known: {', '.join(sorted(TYPES))})")
    value_map = None
    if "map" in raw:
        if raw["map"] not in maps:
            raise MappingFileError(f"the map '{raw['map']}' is not defined")
        value_map = maps[raw["map"]]
    required_raw = raw.get("required", False)
    required: frozenset[str] | bool = (
        required_raw if isinstance(required_raw, bool) else frozenset(required_raw)
    )
    only = frozenset(raw["events"]) if "events" in raw else None
    for named in (only or frozenset()) | (required if isinstance(required, frozenset) else set()):
        if named not in events:
            raise MappingFileError(f"the rule for {raw['source']} names an unknown event {named}")
    repeat = bool(raw.get("repeat", False))
    parts = tuple(_rule(p, maps, events, True) for p in raw.get("parts", []))
    if repeat and (not parts or any(s.component is not None for s in sources)):
        raise MappingFileError(f"a repeating rule reads a whole field with parts: {raw}")
    return Rule(
        sources=sources,
        target=raw["target"],
        type=kind,
        map=value_map,
        template=raw.get("template"),
        required=required,
        events=only,
        default=raw.get("default"),
        repeat=repeat,
        merge=tuple(raw.get("merge", ())),
        parts=parts,
        resolve=raw.get("resolve"),
        key=bool(raw.get("key", False)),
    )


def _resource(
    resource_type: str, raw: dict[str, Any], maps: dict[str, ValueMap], events: set[str]
) -> ResourceMapping:
    rules = tuple(_rule(r, maps, events, False) for r in raw.get("rules", []))
    return ResourceMapping(
        resource_type, raw["segment"], raw["profile"], rules, tuple(raw.get("match", ()))
    )


def load(path: Path) -> AdtMapping:
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    try:
        maps = {
            name: ValueMap(name, dict(spec.get("values", {})), spec.get("unmapped", ERROR))
            for name, spec in raw.get("maps", {}).items()
        }
        events: dict[str, Event] = {}
        for code, spec in raw["events"].items():
            if spec["patient"] not in PATIENT_MODES or spec["encounter"] not in ENCOUNTER_MODES:
                raise MappingFileError(f"event {code}: unknown patient or encounter mode")
            events[code] = Event(
                code,
                spec["name"],
                spec["patient"],
                spec["encounter"],
                spec.get("status"),
                tuple(spec.get("remove", ())),
            )
        message = raw["message"]
        return AdtMapping(
            message_type=message["type"],
            versions=frozenset(message["versions"]),
            processing_ids=frozenset(message["processing_ids"]),
            timezone=message["timezone"],
            charsets=dict(message.get("charsets", {})),
            application=message["application"],
            facility=message.get("facility", ""),
            events=events,
            patient=_resource("Patient", raw["patient"], maps, set(events)),
            encounter=_resource("Encounter", raw["encounter"], maps, set(events)),
        )
    except KeyError as missing:
        raise MappingFileError(f"{path}: {missing} is missing") from None
    except MappingFileError as problem:
        raise MappingFileError(f"{path}: {problem}") from None


@cache
def adt_mapping() -> AdtMapping:
    """The mapping of mappings/ (in a checkout or the installed wheel), read once."""
    return load(mapping_file(ADT_MAPPING))
