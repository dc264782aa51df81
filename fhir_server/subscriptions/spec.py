"""A Subscription resource read into what the server runs: criteria, channel, payload.

Topic-based (Backport IG): `criteria` is a topic's canonical URL, filters are
`backport-filter-criteria` extensions on `_criteria` (`Communication?recipient=…`), the
payload content is the `backport-payload-content` extension on `channel._payload`.
Classic R4: `criteria` is a search (`Observation?code=…`), matched as search matches; its
chains and `_has` by the store's search (store_criteria.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fhir_server.config import Settings
from fhir_server.definitions import Definitions
from fhir_server.outcome import FhirError
from fhir_server.search.criteria import parse_criteria
from fhir_server.search.matching import entry_params, in_memory
from fhir_server.search.plan import Plan
from fhir_server.subscriptions.store_criteria import StoreCriterion, split_criteria
from fhir_server.subscriptions.topics import Topic, TopicRegistry
from fhir_server.terminology.service import Terminology
from fhir_server.validation.profile import load_profile_validator

BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
FILTER_CRITERIA = BACKPORT + "backport-filter-criteria"
PAYLOAD_CONTENT = BACKPORT + "backport-payload-content"
HEARTBEAT_PERIOD = BACKPORT + "backport-heartbeat-period"
TIMEOUT = BACKPORT + "backport-timeout"
MAX_COUNT = BACKPORT + "backport-max-count"

CONTENTS = ("empty", "id-only", "full-resource")
CHANNELS = ("rest-hook", "websocket")
JSON_TYPES = ("application/fhir+json", "application/json", "application/json+fhir")


class SpecError(ValueError):
    """Why a Subscription cannot run, with the element at fault."""

    def __init__(self, message: str, expression: str) -> None:
        super().__init__(message)
        self.expression = expression


@dataclass(frozen=True, slots=True)
class SubscriptionSpec:
    id: str
    declared_status: str  # Subscription.status as the client or server last wrote it
    topic: Topic | None  # None: a classic criteria subscription
    criteria: str
    classic: Plan | None  # the search of a classic subscription
    filters: tuple[Plan, ...]  # topic filters (AND), each on one resource type
    channel: str  # rest-hook | websocket
    endpoint: str | None
    headers: tuple[tuple[str, str], ...]
    mime: str | None  # channel.payload: None sends no body (classic) or empty content
    content: str  # empty | id-only | full-resource
    heartbeat: float | None  # seconds
    timeout: float | None  # seconds
    max_count: int
    end: str | None
    # index parameters each resource type's tests read (what to extract from a version)
    params: dict[str, frozenset[str]] = field(default_factory=dict)
    # a classic subscription's chains and _has, which the store answers
    store_criteria: tuple[StoreCriterion, ...] = ()

    def resource_types(self) -> frozenset[str]:
        if self.topic is not None:
            return self.topic.resource_types()
        assert self.classic is not None
        return frozenset({self.classic.resource_type})

    def filters_for(self, resource_type: str) -> tuple[Plan, ...]:
        return tuple(f for f in self.filters if f.resource_type == resource_type)


def _extension(element: Any, url: str) -> list[Any]:
    if not isinstance(element, dict):
        return []
    found = []
    for extension in element.get("extension") or []:
        if isinstance(extension, dict) and extension.get("url") == url:
            for key, value in extension.items():
                if key.startswith("value"):
                    found.append(value)
    return found


def _one(element: Any, url: str) -> Any:
    values = _extension(element, url)
    return values[0] if values else None


def read_spec(
    resource: dict[str, Any],
    definitions: Definitions,
    topics: TopicRegistry,
    settings: Settings,
    base_url: str | None = None,
) -> SubscriptionSpec:
    """The runnable form of a Subscription, or SpecError naming what cannot run."""
    # token :in/:below in criteria expand here, once, through the server's terminology
    terminology = load_profile_validator(definitions, tuple(settings.conformance_dirs)).terminology
    criteria = resource.get("criteria")
    if not isinstance(criteria, str) or not criteria.strip():
        raise SpecError("Subscription.criteria is required", "Subscription.criteria")
    criteria = criteria.strip()
    topic: Topic | None = None
    classic: Plan | None = None
    store_criteria: tuple[StoreCriterion, ...] = ()
    filters: list[Plan] = []
    if _is_search(criteria, definitions):
        classic, store_criteria = _classic_plan(criteria, definitions, base_url, terminology)
    else:
        topic = topics.find(criteria)
        if topic is None:
            raise SpecError(
                f"Subscription.criteria '{criteria}' is neither a search nor a topic this"
                " server offers",
                "Subscription.criteria",
            )
        where = "Subscription._criteria.extension"
        for text in _extension(resource.get("_criteria"), FILTER_CRITERIA):
            plan = _search_plan(str(text), definitions, base_url, where, terminology)
            if plan.resource_type not in topic.resource_types():
                raise SpecError(
                    f"filter '{text}': topic {topic.url} has no trigger on {plan.resource_type}",
                    where,
                )
            allowed = (topic.can_filter_by or {}).get(plan.resource_type)
            if topic.can_filter_by is not None:
                unknown = sorted(entry_params(plan) - (allowed or frozenset()))
                if unknown:
                    raise SpecError(
                        f"filter '{text}': topic {topic.url} cannot filter by {', '.join(unknown)}",
                        where,
                    )
            filters.append(plan)
    channel = resource.get("channel")
    if not isinstance(channel, dict):
        raise SpecError("Subscription.channel is required", "Subscription.channel")
    kind = channel.get("type")
    if kind not in CHANNELS:
        raise SpecError(
            f"channel type '{kind}' is not supported (only {', '.join(CHANNELS)})",
            "Subscription.channel.type",
        )
    endpoint = channel.get("endpoint")
    if kind == "rest-hook":
        endpoint = _check_endpoint(endpoint, settings)
    mime = channel.get("payload")
    if mime is not None and mime not in JSON_TYPES:
        raise SpecError(
            f"payload type '{mime}' is not supported (only {', '.join(JSON_TYPES[:2])})",
            "Subscription.channel.payload",
        )
    content = _one(channel.get("_payload"), PAYLOAD_CONTENT)
    if content is None:
        content = "id-only" if mime is not None else "empty"
    if content not in CONTENTS:
        raise SpecError(
            f"payload content '{content}' is not one of {', '.join(CONTENTS)}",
            "Subscription.channel.payload",
        )
    headers = tuple(_header(text) for text in channel.get("header") or [])
    heartbeat = _one(channel, HEARTBEAT_PERIOD)
    timeout = _one(channel, TIMEOUT)
    max_count = _one(channel, MAX_COUNT)
    params = _needed_params(topic, classic, filters, store_criteria)
    return SubscriptionSpec(
        id=str(resource.get("id")),
        declared_status=str(resource.get("status", "requested")),
        topic=topic,
        criteria=criteria,
        classic=classic,
        filters=tuple(filters),
        channel=kind,
        endpoint=endpoint,
        headers=headers,
        mime=mime,
        content=content,
        heartbeat=float(heartbeat) if isinstance(heartbeat, int) and heartbeat > 0 else None,
        timeout=float(timeout) if isinstance(timeout, int) and timeout > 0 else None,
        max_count=max_count if isinstance(max_count, int) and max_count > 0 else 1,
        end=resource.get("end"),
        params=params,
        store_criteria=store_criteria,
    )


def _is_search(criteria: str, definitions: Definitions) -> bool:
    head = criteria.split("?", 1)[0]
    return head in definitions.resource_types


def _search_plan(
    text: str,
    definitions: Definitions,
    base_url: str | None,
    where: str,
    terminology: Terminology | None = None,
) -> Plan:
    """A filter's search: matched in memory against the version an event names."""
    plan = _parsed(text, definitions, base_url, where, terminology)
    if not in_memory(plan):
        raise SpecError(f"'{text}': a filter cannot chain or use _has or _list", where)
    return plan


def _classic_plan(
    text: str, definitions: Definitions, base_url: str | None, terminology: Terminology | None
) -> tuple[Plan, tuple[StoreCriterion, ...]]:
    """A classic subscription's search: what is matched in memory, and its chains and
    reverse chains, which the store answers (store_criteria.py)."""
    where = "Subscription.criteria"
    plan = _parsed(text, definitions, base_url, where, terminology)  # all of it checked
    if in_memory(plan):
        return plan, ()
    head, _, query = text.partition("?")
    local, store = split_criteria(
        parse_qsl(query, keep_blank_values=True),
        lambda pairs: _parsed_pairs(head, pairs, definitions, base_url, where, terminology, text),
    )
    local_plan = _parsed_pairs(head, local, definitions, base_url, where, terminology, text)
    if not in_memory(local_plan):
        raise SpecError(f"'{text}': this combination of criteria cannot be subscribed to", where)
    return local_plan, store


def _parsed(
    text: str,
    definitions: Definitions,
    base_url: str | None,
    where: str,
    terminology: Terminology | None,
) -> Plan:
    head, _, query = text.partition("?")
    if head not in definitions.resource_types:
        raise SpecError(f"'{text}' does not start with a resource type", where)
    pairs = parse_qsl(query, keep_blank_values=True)
    return _parsed_pairs(head, pairs, definitions, base_url, where, terminology, text)


def _parsed_pairs(
    resource_type: str,
    pairs: Sequence[tuple[str, str]],
    definitions: Definitions,
    base_url: str | None,
    where: str,
    terminology: Terminology | None,
    text: str,
) -> Plan:
    try:
        return parse_criteria(
            definitions, resource_type, pairs, base_url=base_url, terminology=terminology
        )
    except FhirError as exc:
        raise SpecError(f"'{text}': {exc}", where) from exc


def _header(text: Any) -> tuple[str, str]:
    name, colon, value = str(text).partition(":")
    if (
        not colon
        or not name.strip()
        or any(c in name for c in " \r\n")
        or any(c in value for c in "\r\n\0")
    ):
        raise SpecError(
            f"channel header '{text}' is not 'Name: value'", "Subscription.channel.header"
        )
    return name.strip(), value.strip()


def _check_endpoint(endpoint: Any, settings: Settings) -> str:
    where = "Subscription.channel.endpoint"
    if not isinstance(endpoint, str) or not endpoint:
        raise SpecError("a rest-hook subscription needs channel.endpoint", where)
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SpecError(f"endpoint '{endpoint}' is not an http(s) URL", where)
    if not endpoint_allowed(endpoint, settings.subscription_endpoint_hosts):
        raise SpecError(
            f"endpoint host '{parts.hostname}' is not one this server may deliver to"
            " (setting subscription_endpoint_hosts)",
            where,
        )
    return endpoint


def endpoint_allowed(endpoint: str, allowed: list[str]) -> bool:
    """Whether an endpoint's host (or host:port) is on the allow-list."""
    parts = urlsplit(endpoint)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return False
    for entry in allowed:
        wanted = urlsplit("//" + entry.strip().lower())  # host, host:port, [::1]:8080
        try:
            wanted_port = wanted.port
        except ValueError:
            continue
        if wanted.hostname == host and (wanted_port is None or wanted_port == port):
            return True
    return False


def _needed_params(
    topic: Topic | None,
    classic: Plan | None,
    filters: list[Plan],
    store_criteria: tuple[StoreCriterion, ...],
) -> dict[str, frozenset[str]]:
    needed: dict[str, set[str]] = {}
    if classic is not None:
        own = needed.setdefault(classic.resource_type, set())
        own.update(entry_params(classic))
        own.update(c.param for c in store_criteria if not c.reverse)  # a chain's references
    for plan in filters:
        needed.setdefault(plan.resource_type, set()).update(entry_params(plan))
    if topic is not None:
        for trigger in topic.triggers:
            needed.setdefault(trigger.resource_type, set()).update(trigger.query_params())
    return {k: frozenset(v) for k, v in needed.items()}
