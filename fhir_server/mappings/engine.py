"""The mapping engine: the rules of mappings/hl7v2-adt.toml applied to one message.

`read_changes` turns a message into the changes it makes to one resource (what each rule
found, converted and mapped), raising a MessageProblem (AE) naming the field when a value
is missing or wrong; `apply_changes` makes them on a resource: the stored one for an
update, an empty one for a create. Elements the message does not speak of are kept.
"""

from __future__ import annotations

import copy
import datetime
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from fhir_server.mappings.er7 import Field, Message, Repetition
from fhir_server.mappings.problems import MessageProblem
from fhir_server.mappings.rules import SKIP, ResourceMapping, Rule, Source
from fhir_server.validation.profile import swedish

REMOVE = object()  # the message sent "" (HL7 null): remove the element
_TS = re.compile(
    r"(?P<year>[0-9]{4})(?P<month>[0-9]{2})?(?P<day>[0-9]{2})?"
    r"(?P<hour>[0-9]{2})?(?P<minute>[0-9]{2})?(?P<second>[0-9]{2})?(?:\.(?P<fraction>[0-9]{1,4}))?"
    r"(?P<offset>[+-][0-9]{4})?"
)
_KOMMUNKOD = re.compile(r"[0-9]{4}")


@dataclass(frozen=True, slots=True)
class Reading:
    """What converting a message's values depends on besides the values."""

    event: str
    zone: ZoneInfo
    today: datetime.date


@dataclass(frozen=True, slots=True)
class Change:
    rule: Rule
    value: Any  # the FHIR value, or REMOVE


@dataclass(frozen=True, slots=True)
class _Found:
    source: Source
    text: str
    null: bool


# -- reading -------------------------------------------------------------------------------


def read_changes(message: Message, mapping: ResourceMapping, reading: Reading) -> list[Change]:
    changes = []
    for rule in mapping.rules:
        if not rule.applies(reading.event):
            continue
        change = _read_rule(message, rule, reading)
        if change is not None:
            changes.append(change)
    return changes


def _problem(source: Source, code: str, text: str) -> MessageProblem:
    return MessageProblem.error(source.segment or "", source.field, code, text, source.component)


def _field(message: Message, source: Source) -> Field:
    assert source.segment is not None and source.field is not None
    segment = message.segment(source.segment)
    return segment.field(source.field) if segment is not None else Field("", ())


def _in_repetition(repetition: Repetition, source: Source) -> str:
    if source.component is None:
        return repetition.get(1)
    return repetition.get(source.component, source.subcomponent)


def _first_found(message: Message, rule: Rule) -> _Found | None:
    for source in rule.sources:
        field = _field(message, source)
        if field.null:
            return _Found(source, "", True)
        text = _in_repetition(field.first(), source).strip()
        if text:
            return _Found(source, text, False)
    return None


def _read_rule(message: Message, rule: Rule, reading: Reading) -> Change | None:
    if rule.repeat:
        return _read_repeating(message, rule, reading)
    found = _first_found(message, rule)
    if found is None or found.null:
        if rule.required_in(reading.event):
            what = 'sent empty ("")' if found is not None else "missing"
            raise _problem(
                rule.sources[0], "101", f"{rule.where} is required in {reading.event}: {what}"
            )
        return Change(rule, REMOVE) if found is not None else None
    value = _value(rule, found.text, found.source, reading, {})
    return None if value is _SKIPPED else Change(rule, value)


def _read_repeating(message: Message, rule: Rule, reading: Reading) -> Change | None:
    source = rule.sources[0]
    field = _field(message, source)
    required = rule.required_in(reading.event)
    if field.null:
        if required:
            raise _problem(source, "101", f'{source.text} is required: it was sent empty ("")')
        return Change(rule, REMOVE)
    elements = []
    for number, repetition in enumerate(field.repetitions, start=1):
        if repetition.empty:
            continue
        element = _read_repetition(rule, repetition, source, number, reading)
        if element is not None:
            elements.append(element)
    if not elements:
        if required:
            text = f"{source.text} is required in {reading.event}: it is missing"
            if not field.empty:
                text = f"{source.text} holds no {rule.target} this server maps"
            raise _problem(source, "101", text)
        return None
    return Change(rule, elements)


def _read_repetition(
    rule: Rule, repetition: Repetition, field: Source, number: int, reading: Reading
) -> dict[str, Any] | None:
    element: dict[str, Any] = {}
    for part in rule.parts:
        text, where = "", part.sources[0]
        for candidate in part.sources:
            text = _in_repetition(repetition, candidate).strip()
            if text:
                where = candidate
                break
        position = Source(
            f"{field.text}.{where.text}" + (f" (repetition {number})" if number > 1 else ""),
            field.segment,
            field.field,
            where.component,
            where.subcomponent,
        )
        value: Any = _SKIPPED
        if text:
            value = _value(part, text, position, reading, element)
        if value is _SKIPPED:
            if part.key:
                return None
            if part.required_in(reading.event):
                raise _problem(
                    position, "101", f"{position.text} is required ({part.target} of {rule.target})"
                )
            if part.default is not None:
                set_path(element, part.target, copy.deepcopy(part.default))
            continue
        set_path(element, part.target, value)
    return element or None


_SKIPPED = object()


def _value(rule: Rule, text: str, where: Source, reading: Reading, element: dict[str, Any]) -> Any:
    """The text converted (type), mapped (map) and placed in the template; _SKIPPED when a
    map leaves it out."""
    converted = _convert(rule.type, text, where, reading, element)
    value: Any = converted
    if rule.map is not None:
        if converted in rule.map.values:
            value = rule.map.values[converted]
        elif rule.map.unmapped == SKIP:
            return _SKIPPED
        elif rule.map.unmapped == "error":
            known = ", ".join(sorted(rule.map.values))
            raise _problem(
                where,
                "103",
                f"{where.text} '{converted}' is not a code this server accepts here ({known})",
            )
        else:
            value = rule.map.unmapped
    if rule.template is not None:
        value = _fill(rule.template, converted)
    return copy.deepcopy(value)


def _fill(template: Any, value: str) -> Any:
    if isinstance(template, str):
        return template.replace("{value}", value)
    if isinstance(template, dict):
        return {k: _fill(v, value) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, value) for v in template]
    return template


# -- conversions ----------------------------------------------------------------------------


def _convert(kind: str, text: str, where: Source, reading: Reading, element: dict[str, Any]) -> str:
    if kind == "date":
        return _date(text, where)
    if kind == "dateTime":
        return _date_time(text, where, reading.zone)
    if kind == "personal-identity-number":
        return _person_id(text, where, reading.today, element.get("system"))
    if kind == "hsa-id":
        problem = swedish.hsa_id_problem(text)
        if problem is not None:
            raise _problem(where, "102", f"{where.text}: {problem}")
        return text
    if kind == "kommunkod":
        if not _KOMMUNKOD.fullmatch(text):
            raise _problem(where, "102", f"{where.text}: a kommunkod has 4 digits, not '{text}'")
        return text
    return text


def _timestamp(text: str, where: Source) -> re.Match[str]:
    found = _TS.fullmatch(text)
    if found is None:
        raise _problem(
            where, "102", f"{where.text} '{text}' is not an HL7 date/time (YYYYMMDD[HHMM[SS]])"
        )
    return found


def _date(text: str, where: Source) -> str:
    found = _timestamp(text, where)
    year, month, day = found["year"], found["month"], found["day"]
    try:
        datetime.date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        raise _problem(where, "102", f"{where.text} '{text}' is not a real date") from None
    return "-".join(p for p in (year, month, day) if p)


def _date_time(text: str, where: Source, zone: ZoneInfo) -> str:
    found = _timestamp(text, where)
    if found["hour"] is None:
        return _date(text, where)
    try:
        moment = datetime.datetime(
            int(found["year"]),
            int(found["month"] or 1),
            int(found["day"] or 1),
            int(found["hour"]),
            int(found["minute"] or 0),
            int(found["second"] or 0),
            int((found["fraction"] or "0").ljust(6, "0")),
        )
    except ValueError:
        raise _problem(where, "102", f"{where.text} '{text}' is not a real time") from None
    offset = found["offset"]
    if offset:
        minutes = int(offset[1:3]) * 60 + int(offset[3:5])
        sign = -1 if offset[0] == "-" else 1
        moment = moment.replace(
            tzinfo=datetime.timezone(sign * datetime.timedelta(minutes=minutes))
        )
    else:  # the sender's wall clock
        moment = moment.replace(tzinfo=zone)
    spec = "milliseconds" if found["fraction"] else "seconds"
    return moment.isoformat(timespec=spec)


def _person_id(text: str, where: Source, today: datetime.date, system: Any) -> str:
    coordination = system == swedish.SAMORDNINGSNUMMER
    if system not in (swedish.PERSONNUMMER, swedish.SAMORDNINGSNUMMER):
        return text
    kind = "samordningsnummer" if coordination else "personnummer"
    twelve = swedish.twelve_digit_form(text, today)
    if twelve is None:
        raise _problem(
            where,
            "102",
            f"{where.text} '{text}' is not a {kind} (YYYYMMDD-NNNC, YYYYMMDDNNNC or YYMMDD-NNNC)",
        )
    problem = swedish.personal_number_problem(twelve, coordination)
    if problem is not None:
        raise _problem(where, "102", f"{where.text}: {problem}")
    return twelve


# -- applying ---------------------------------------------------------------------------------


def apply_changes(resource: dict[str, Any], changes: list[Change]) -> None:
    """The changes made on `resource` (copies of their values: the changes stay as they
    were, for a store that runs the job again)."""
    for change in changes:
        rule = change.rule
        if change.value is REMOVE:
            delete_path(resource, rule.target)
        elif rule.repeat and rule.merge:
            _merge(resource, rule.target, copy.deepcopy(change.value), rule.merge)
        else:
            set_path(resource, rule.target, copy.deepcopy(change.value))


def apply_defaults(resource: dict[str, Any], mapping: ResourceMapping, event: str) -> None:
    for rule in mapping.rules:
        if (
            rule.applies(event)
            and rule.default is not None
            and get_path(resource, rule.target) is None
        ):
            set_path(resource, rule.target, copy.deepcopy(rule.default))


def _merge(resource: dict[str, Any], target: str, new: list[Any], keys: tuple[str, ...]) -> None:
    existing = get_path(resource, target)
    kept = list(existing) if isinstance(existing, list) else []

    def key(item: Any) -> tuple[Any, ...]:
        return tuple(item.get(k) for k in keys) if isinstance(item, dict) else (item,)

    have = {key(item) for item in kept}
    kept.extend(item for item in new if key(item) not in have)
    set_path(resource, target, kept)


def _steps(path: str) -> list[str]:
    return path.split(".")


def get_path(resource: dict[str, Any], path: str) -> Any:
    node: Any = resource
    for step in _steps(path):
        if not isinstance(node, dict):
            return None
        node = node.get(step.removesuffix("[]"))
    return node


def set_path(resource: dict[str, Any], path: str, value: Any) -> None:
    """ "a.b" sets, "a[]" appends to the list a, "." merges an object into the element."""
    if path == ".":
        if isinstance(value, dict):
            resource.update(value)
        return
    *parents, last = _steps(path)
    node = resource
    for step in parents:
        child = node.get(step)
        if not isinstance(child, dict):
            child = node[step] = {}
        node = child
    if last.endswith("[]"):
        node.setdefault(last[:-2], []).append(value)
    else:
        node[last] = value


def delete_path(resource: dict[str, Any], path: str) -> None:
    """Removes the element, and parents it leaves empty."""
    *parents, last = _steps(path)
    chain = [resource]
    for step in parents:
        child = chain[-1].get(step)
        if not isinstance(child, dict):
            return
        chain.append(child)
    chain[-1].pop(last.removesuffix("[]"), None)
    for holder, step in zip(reversed(chain[:-1]), reversed(parents), strict=True):
        if holder.get(step) == {}:
            holder.pop(step)
