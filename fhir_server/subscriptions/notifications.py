"""Notification Bundles and subscription status, shaped as the Backport IG's R4 profiles.

A notification is a Bundle of type `history` (profile backport-subscription-notification-r4)
whose first entry is a `Parameters` (backport-subscription-status-r4): the subscription,
topic, status, type (handshake | heartbeat | event-notification | query-status |
query-event), events-since-subscription-start, and one `notification-event` per event with
its number, timestamp and (unless the payload is empty) focus. With `full-resource` the
changed versions follow as entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from fhir_server.ids import new_id
from fhir_server.rest.responses import etag
from fhir_server.storage.clock import MonotonicClock
from fhir_server.storage.port import StoredVersion, SubscriptionEvent
from fhir_server.subscriptions.spec import SubscriptionSpec

BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
STATUS_PROFILE = BACKPORT + "backport-subscription-status-r4"
NOTIFICATION_PROFILE = BACKPORT + "backport-subscription-notification-r4"
ERROR_SYSTEM = "http://terminology.hl7.org/CodeSystem/subscription-error"

_clock = MonotonicClock()


@dataclass(frozen=True, slots=True)
class Status:
    """What the status resource says of a subscription at one moment."""

    subscription_url: str
    topic: str | None
    status: str
    events_since_start: int
    error: str | None = None


def status_parameters(
    status: Status, kind: str, events: list[SubscriptionEvent], content: str, base: str
) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": "subscription", "valueReference": {"reference": status.subscription_url}},
    ]
    if status.topic is not None:
        parameters.append({"name": "topic", "valueCanonical": status.topic})
    parameters += [
        {"name": "status", "valueCode": status.status},
        {"name": "type", "valueCode": kind},
        {"name": "events-since-subscription-start", "valueString": str(status.events_since_start)},
    ]
    for event in events:
        parts: list[dict[str, Any]] = [
            {"name": "event-number", "valueString": str(event.number)},
            {"name": "timestamp", "valueInstant": event.at},
        ]
        if content != "empty":
            reference = f"{base}/{event.resource_type}/{event.id}"
            parts.append({"name": "focus", "valueReference": {"reference": reference}})
        parameters.append({"name": "notification-event", "part": parts})
    if status.error:
        parameters.append(
            {
                "name": "error",
                "valueCodeableConcept": {
                    "coding": [{"system": ERROR_SYSTEM, "code": "no-response"}],
                    "text": status.error,
                },
            }
        )
    return {
        "resourceType": "Parameters",
        "id": new_id(),
        "meta": {"profile": [STATUS_PROFILE]},
        "parameter": parameters,
    }


def notification_bundle(
    spec: SubscriptionSpec,
    status: Status,
    kind: str,
    events: list[SubscriptionEvent],
    versions: dict[int, StoredVersion | None],
    base: str,
    content: str | None = None,
) -> dict[str, Any]:
    """A notification of `kind` carrying `events`; `versions` by event number are the
    changed versions (needed for full-resource only)."""
    content = content or spec.content
    parameters = status_parameters(status, kind, events, content, base)
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": f"urn:uuid:{parameters['id']}",
            "resource": parameters,
            "request": {"method": "GET", "url": f"{base}/Subscription/{spec.id}/$status"},
            "response": {"status": "200"},
        }
    ]
    if content == "full-resource":
        for event in events:
            entries.append(_resource_entry(event, versions.get(event.number), base))
    return {
        "resourceType": "Bundle",
        "id": new_id(),
        "meta": {"profile": [NOTIFICATION_PROFILE]},
        "type": "history",
        "timestamp": _clock.now(),
        "entry": entries,
    }


def _resource_entry(
    event: SubscriptionEvent, version: StoredVersion | None, base: str
) -> dict[str, Any]:
    entry: dict[str, Any] = {"fullUrl": f"{base}/{event.resource_type}/{event.id}"}
    if event.method == "DELETE" or version is None or version.data is None:
        entry["request"] = {"method": "DELETE", "url": f"{event.resource_type}/{event.id}"}
        entry["response"] = {"status": "204"}
        return entry
    entry["resource"] = orjson.loads(version.data)
    created = event.version == 1
    if created and event.method == "POST":
        entry["request"] = {"method": "POST", "url": event.resource_type}
    else:
        entry["request"] = {"method": "PUT", "url": f"{event.resource_type}/{event.id}"}
    entry["response"] = {
        "status": "201" if created else "200",
        "etag": etag(version),
        "lastModified": version.last_updated,
    }
    return entry
