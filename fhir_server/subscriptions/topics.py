"""Subscription topics: what changes make an event (R5 SubscriptionTopic, on R4 as Basic).

The Backport IG carries a topic on R4 as a `Basic` resource (code `SubscriptionTopic`) whose
elements are cross-version extensions; an R4B/R5-shaped `SubscriptionTopic` JSON (as in
`profiles/`) reads the same. A topic's resource triggers decide whether a change of a
resource is an event: its interaction (create, update, delete), its query criteria on the
previous and current versions, and its FHIRPath criteria (%previous, %current).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import fhirpathpy
import orjson

from fhir_server.definitions import Definitions
from fhir_server.fhirpath.fallback import rewrite
from fhir_server.fhirpath.model import R4
from fhir_server.outcome import FhirError
from fhir_server.search.criteria import parse_criteria
from fhir_server.search.matching import entry_params
from fhir_server.search.plan import Plan

log = logging.getLogger(__name__)

TOPIC_CODE_SYSTEM = "http://hl7.org/fhir/fhir-types"
TOPIC_CODE = "SubscriptionTopic"
_R5 = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic."
_R4B = "http://hl7.org/fhir/4.3/StructureDefinition/extension-SubscriptionTopic."
_CORE_SD = "http://hl7.org/fhir/StructureDefinition/"

# where the server's own topics live (profiles/ of the repository), JSON files
PROFILES_DIR = Path(__file__).resolve().parents[2] / "profiles"

FhirPathTest = Callable[[dict[str, Any] | None, dict[str, Any] | None], bool]


class TopicError(ValueError):
    """A topic that cannot be used, and why."""


@dataclass(frozen=True, slots=True)
class Trigger:
    """One resourceTrigger: when a change of `resource_type` is an event of the topic."""

    resource_type: str
    interactions: frozenset[str]  # create | update | delete
    previous: Plan | None = None
    current: Plan | None = None
    result_for_create: str = "test-fails"  # the previous test when there is no previous
    result_for_delete: str = "test-fails"  # the current test when there is no current
    require_both: bool = False
    fhirpath: FhirPathTest | None = None

    def query_params(self) -> frozenset[str]:
        """The index parameters the query criteria read (search/matching.py)."""
        found: set[str] = set()
        for plan in (self.previous, self.current):
            if plan is not None:
                found.update(entry_params(plan))
        return frozenset(found)


@dataclass(frozen=True, slots=True)
class Topic:
    url: str
    version: str | None
    status: str
    title: str | None
    triggers: tuple[Trigger, ...]
    # the filter parameters allowed per resource type (canFilterBy); None: any parameter
    can_filter_by: dict[str, frozenset[str]] | None

    def resource_types(self) -> frozenset[str]:
        return frozenset(t.resource_type for t in self.triggers)


def is_topic_resource(resource: dict[str, Any]) -> bool:
    if resource.get("resourceType") == "SubscriptionTopic":
        return True
    if resource.get("resourceType") != "Basic":
        return False
    codings = (resource.get("code") or {}).get("coding") or []
    return any(
        isinstance(c, dict) and c.get("code") == TOPIC_CODE and c.get("system") == TOPIC_CODE_SYSTEM
        for c in codings
    )


def read_topic(resource: dict[str, Any], definitions: Definitions) -> Topic:
    """A topic from its Basic (Backport IG on R4) or SubscriptionTopic form."""
    if resource.get("resourceType") == "Basic":
        resource = _basic_as_topic(resource)
    url = resource.get("url")
    if not isinstance(url, str) or not url:
        raise TopicError("the topic has no url")
    triggers = tuple(_trigger(item, definitions) for item in resource.get("resourceTrigger") or [])
    if not triggers:
        raise TopicError(f"topic {url} has no resource trigger this server can run")
    filters: dict[str, set[str]] = {}
    for item in resource.get("canFilterBy") or []:
        parameter = item.get("filterParameter")
        kind = _type_of(item.get("resource"))
        if isinstance(parameter, str) and kind is not None:
            filters.setdefault(kind, set()).add(parameter)
    return Topic(
        url=url,
        version=resource.get("version"),
        status=resource.get("status", "active"),
        title=resource.get("title"),
        triggers=triggers,
        can_filter_by={k: frozenset(v) for k, v in filters.items()} if filters else None,
    )


def _type_of(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return value.removeprefix(_CORE_SD)


def _trigger(item: dict[str, Any], definitions: Definitions) -> Trigger:
    kind = _type_of(item.get("resource"))
    if kind is None or kind not in definitions.resource_types:
        raise TopicError(f"resource trigger on unknown resource type {item.get('resource')!r}")
    interactions = frozenset(item.get("supportedInteraction") or ("create", "update", "delete"))
    query = item.get("queryCriteria") or {}
    fhirpath = item.get("fhirPathCriteria")
    return Trigger(
        resource_type=kind,
        interactions=interactions,
        previous=_query(definitions, kind, query.get("previous")),
        current=_query(definitions, kind, query.get("current")),
        result_for_create=query.get("resultForCreate", "test-fails"),
        result_for_delete=query.get("resultForDelete", "test-fails"),
        require_both=bool(query.get("requireBoth", False)),
        fhirpath=_fhirpath(fhirpath) if isinstance(fhirpath, str) and fhirpath else None,
    )


def _query(definitions: Definitions, kind: str, text: Any) -> Plan | None:
    if not isinstance(text, str) or not text:
        return None
    query = text.split("?", 1)[1] if "?" in text else text
    try:
        return parse_criteria(definitions, kind, parse_qsl(query, keep_blank_values=True))
    except FhirError as exc:
        raise TopicError(f"query criteria '{text}': {exc}") from exc


def _fhirpath(expression: str) -> FhirPathTest:
    try:
        compiled = fhirpathpy.compile(rewrite(expression), R4)
    except Exception as exc:
        raise TopicError(f"FHIRPath criteria '{expression}' cannot be read: {exc}") from exc

    def test(previous: dict[str, Any] | None, current: dict[str, Any] | None) -> bool:
        focus = current if current is not None else previous
        result = compiled(focus or {}, {"previous": previous or {}, "current": current or {}})
        return result == [True]

    return test


# Basic (R4) form ------------------------------------------------------------------------

_TOPIC_FIELDS = {
    "url": "valueUri",
    "version": "valueString",
    "name": "valueString",
    "title": "valueString",
    "status": "valueCode",
}


def _basic_as_topic(basic: dict[str, Any]) -> dict[str, Any]:
    """The SubscriptionTopic JSON a Basic-encoded topic stands for."""
    topic: dict[str, Any] = {"resourceType": "SubscriptionTopic"}
    for extension in [*(basic.get("modifierExtension") or []), *(basic.get("extension") or [])]:
        url = extension.get("url", "")
        name = url.removeprefix(_R5).removeprefix(_R4B)
        if name == url:
            continue
        if name in _TOPIC_FIELDS:
            topic[name] = _value(extension)
        elif name == "resourceTrigger":
            topic.setdefault("resourceTrigger", []).append(_complex(extension))
        elif name == "canFilterBy":
            topic.setdefault("canFilterBy", []).append(_complex(extension))
    return topic


def _value(extension: dict[str, Any]) -> Any:
    for key, value in extension.items():
        if key.startswith("value"):
            return value
    return None


_REPEATING = frozenset({"supportedInteraction", "include", "revInclude"})


def _complex(extension: dict[str, Any]) -> dict[str, Any]:
    """A complex extension as the element it carries (sub-extensions by their url)."""
    out: dict[str, Any] = {}
    for part in extension.get("extension") or []:
        name = part.get("url", "")
        if "/" in name:  # an extension of its own (e.g. backport-related-query)
            continue
        value = _complex(part) if "extension" in part else _value(part)
        if name in _REPEATING:
            out.setdefault(name, []).append(value)
        else:
            out[name] = value
    return out


# where topics come from -----------------------------------------------------------------


def topics_in_folder(folder: Path, definitions: Definitions) -> list[Topic]:
    """The topics among the JSON files of a folder (and its subfolders)."""
    found: list[Topic] = []
    if not folder.is_dir():
        return found
    for path in sorted(folder.rglob("*.json")):
        try:
            resource = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError:
            continue
        if isinstance(resource, dict) and is_topic_resource(resource):
            try:
                found.append(read_topic(resource, definitions))
            except TopicError as exc:
                log.warning("topic in %s not used: %s", path, exc)
    return found


class TopicRegistry:
    """The topics the server knows by canonical URL: its own (profiles/) and those stored
    as resources (which the matcher keeps up to date from the outbox)."""

    def __init__(self, definitions: Definitions, builtin: Iterable[Topic] = ()) -> None:
        self._definitions = definitions
        self._builtin = {t.url: t for t in builtin}
        self._stored: dict[tuple[str, str], Topic] = {}  # (type, id) → topic

    def find(self, url: str) -> Topic | None:
        canonical, _, version = url.partition("|")
        for topic in [*self._stored.values(), *self._builtin.values()]:
            if topic.url == canonical and (not version or topic.version == version):
                return topic
        return None

    def all(self) -> list[Topic]:
        merged = dict(self._builtin)
        merged.update((t.url, t) for t in self._stored.values())
        return [merged[url] for url in sorted(merged)]

    def stored(self, resource_type: str, rid: str, resource: dict[str, Any] | None) -> None:
        """A stored resource changed: take it as a topic, or forget the one it was."""
        key = (resource_type, rid)
        if resource is None or not is_topic_resource(resource):
            self._stored.pop(key, None)
            return
        try:
            self._stored[key] = read_topic(resource, self._definitions)
        except TopicError as exc:
            log.warning("topic %s/%s not used: %s", resource_type, rid, exc)
            self._stored.pop(key, None)
