"""SubscriptionTopics (Backport IG R4 form): shape, filters our server can search by, and
trigger criteria that fire on the examples as intended."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fhirpathpy
import orjson
import pytest

from fhir_server.definitions import load_definitions
from fhir_server.definitions.content import (
    CANONICAL_BASE,
    canonical_url,
    content_files,
    content_root,
    is_example,
    is_subscription_topic,
)
from fhir_server.fhirpath.model import R4
from fhir_server.search.criteria import parse_criteria
from fhir_server.validation import default_validator
from tests.conftest import shared_path

R5 = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic."
R43 = "http://hl7.org/fhir/4.3/StructureDefinition/extension-SubscriptionTopic."
STATE = f"{CANONICAL_BASE}/StructureDefinition/lus-state"


def _load(path: Path) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(path.read_bytes())
    return value


def _topics() -> dict[str, dict[str, Any]]:
    found = (_load(p) for p in content_files() if not is_example(p))
    return {canonical_url(r) or "": r for r in found if is_subscription_topic(r)}


def _parts(extension: dict[str, Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for part in extension.get("extension", []):
        if "extension" in part:  # a nested part, e.g. queryCriteria
            out.setdefault(part["url"], []).append(part)
            continue
        value = next(v for k, v in part.items() if k.startswith("value"))
        out.setdefault(part["url"], []).append(value)
    return out


def _all(topic: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [e for e in topic["extension"] if e["url"] in (R5 + name, R43 + name)]


def _example(key: str) -> dict[str, Any]:
    kind, rid = key.split("/")
    return _load(content_root() / "profiles" / "examples" / f"{kind}-{rid}.json")


def test_four_kinds_of_topic_with_our_canonicals() -> None:
    topics = _topics()
    assert set(topics) == {
        f"{CANONICAL_BASE}/SubscriptionTopic/{name}"
        for name in ("notice", "task", "task-overdue", "careplan", "stay-state")
    }
    for topic in topics.values():
        assert _all(topic, "version")[0]["valueString"] == "0.1.0"
        assert topic["modifierExtension"][0]["valueCode"] == "active"
        assert _all(topic, "title") and _all(topic, "description")


def test_topics_have_the_shape_of_the_backport_example() -> None:
    reference = _load(shared_path("subscriptions-backport/Basic-r4-encounter-complete.json"))
    expected = {e["url"] for e in reference["extension"]}
    validator = default_validator()
    for topic in _topics().values():
        assert {e["url"] for e in topic["extension"]} <= expected
        assert topic["code"] == reference["code"]
        assert validator.validate(topic) == []


def test_every_filter_is_a_search_parameter_of_its_resource() -> None:
    definitions = load_definitions()
    filters = 0
    for url, topic in _topics().items():
        (trigger,) = _all(topic, "resourceTrigger")
        resource = _parts(trigger)["resource"][0].rsplit("/", 1)[-1]
        for can_filter in _all(topic, "canFilterBy"):
            parts = _parts(can_filter)
            assert parts["resource"] == [resource], url
            (parameter,) = parts["filterParameter"]
            assert parameter in definitions.search_params_for(resource), (url, parameter)
            filters += 1
        for query in _parts(trigger).get("queryCriteria", []):
            for side in ("previous", "current"):
                for value in _parts(query)[side]:
                    pairs = [tuple(p.split("=", 1)) for p in value.split("&")]
                    parse_criteria(definitions, resource, pairs)
    assert filters >= 15
    notice = _topics()[f"{CANONICAL_BASE}/SubscriptionTopic/notice"]
    assert "recipient" in {_parts(f)["filterParameter"][0] for f in _all(notice, "canFilterBy")}


def _fires(topic: str, previous: dict[str, Any] | None, current: dict[str, Any]) -> bool:
    (trigger,) = _all(_topics()[f"{CANONICAL_BASE}/SubscriptionTopic/{topic}"], "resourceTrigger")
    (expression,) = _parts(trigger)["fhirPathCriteria"]
    context = {"current": current, "previous": previous or {}}
    result = fhirpathpy.evaluate(current, expression, context, R4)
    return bool(result == [True])


def _with_state(stay: dict[str, Any], code: str) -> dict[str, Any]:
    copy = orjson.loads(orjson.dumps(stay))
    for extension in copy["extension"]:
        if extension["url"] == STATE:
            extension["valueCoding"]["code"] = code
    return copy


@pytest.mark.parametrize(
    ("topic", "key"),
    [
        ("notice", "Communication/karin-inskrivningsmeddelande"),
        ("task", "Task/karin-task-kvittera-kommun"),
        ("careplan", "CarePlan/karin-sip"),
        ("task-overdue", "Task/overdue-kvittens-task"),
    ],
)
def test_triggers_fire_on_a_created_example(topic: str, key: str) -> None:
    assert _fires(topic, None, _example(key))


def test_triggers_hold_back_where_they_should() -> None:
    overdue = _example("Task/overdue-kvittens-task")
    assert not _fires("task-overdue", overdue, overdue)  # already overdue: no new event
    assert not _fires("task-overdue", None, _example("Task/karin-task-kvittera-kommun"))
    stay = _example("Encounter/karin-stay")
    planning, ready = _with_state(stay, "planering"), _with_state(stay, "utskrivningsklar")
    assert _fires("stay-state", planning, ready)
    assert _fires("stay-state", None, ready)
    assert not _fires("stay-state", ready, ready)
    plain = {k: v for k, v in stay.items() if k != "extension"}
    assert not _fires("stay-state", None, plain)
