"""Test topics (Basic, as the Backport IG carries a SubscriptionTopic on R4) and
subscriptions."""

from __future__ import annotations

from typing import Any

R5 = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic."
R4B = "http://hl7.org/fhir/4.3/StructureDefinition/extension-SubscriptionTopic."
BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
COMMUNICATION_TOPIC = "http://example.org/fhir/SubscriptionTopic/test-communication"
FINISHED_TOPIC = "http://example.org/fhir/SubscriptionTopic/test-encounter-finished"


def topic(
    url: str, resource: str, interactions: list[str], filters: list[str], **query: Any
) -> dict[str, Any]:
    trigger: list[dict[str, Any]] = [
        {"url": "resource", "valueUri": f"http://hl7.org/fhir/StructureDefinition/{resource}"}
    ]
    trigger += [{"url": "supportedInteraction", "valueCode": code} for code in interactions]
    if query:
        parts = []
        for key, value in query.items():
            kind = "valueBoolean" if isinstance(value, bool) else "valueString"
            if key.startswith("result"):
                kind = "valueCode"
            parts.append({"url": key, kind: value})
        trigger.append({"url": "queryCriteria", "extension": parts})
    return {
        "resourceType": "Basic",
        "modifierExtension": [{"url": R5 + "status", "valueCode": "active"}],
        "extension": [
            {"url": R5 + "url", "valueUri": url},
            {"url": R5 + "title", "valueString": f"Test topic on {resource}"},
            {"url": R4B + "resourceTrigger", "extension": trigger},
            *[
                {
                    "url": R4B + "canFilterBy",
                    "extension": [
                        {"url": "resource", "valueUri": resource},
                        {"url": "filterParameter", "valueString": name},
                    ],
                }
                for name in filters
            ],
        ],
        "code": {
            "coding": [{"system": "http://hl7.org/fhir/fhir-types", "code": "SubscriptionTopic"}]
        },
    }


def communication_topic() -> dict[str, Any]:
    return topic(
        COMMUNICATION_TOPIC, "Communication", ["create", "update"], ["recipient", "category"]
    )


def finished_topic() -> dict[str, Any]:
    """Encounters becoming finished (as the Backport IG's example topic)."""
    return topic(
        FINISHED_TOPIC,
        "Encounter",
        ["create", "update"],
        ["subject"],
        previous="status:not=finished",
        resultForCreate="test-passes",
        current="status=finished",
        requireBoth=True,
    )


def classic_subscription(
    criteria: str, endpoint: str, payload: str | None = "application/fhir+json"
) -> dict[str, Any]:
    """An R4 criteria subscription (a search) on a rest-hook; payload None: empty POSTs."""
    channel: dict[str, Any] = {"type": "rest-hook", "endpoint": endpoint}
    if payload is not None:
        channel["payload"] = payload
    return {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "classic",
        "criteria": criteria,
        "channel": channel,
    }


def subscription(
    criteria: str,
    endpoint: str,
    content: str | None = "id-only",
    filters: tuple[str, ...] = (),
    headers: tuple[str, ...] = (),
    heartbeat: int | None = None,
    channel: str = "rest-hook",
    max_count: int | None = None,
) -> dict[str, Any]:
    channel_element: dict[str, Any] = {"type": channel, "endpoint": endpoint}
    if content is not None:
        channel_element["payload"] = "application/fhir+json"
        channel_element["_payload"] = {
            "extension": [{"url": BACKPORT + "backport-payload-content", "valueCode": content}]
        }
    if headers:
        channel_element["header"] = list(headers)
    extensions = []
    if heartbeat is not None:
        extensions.append(
            {"url": BACKPORT + "backport-heartbeat-period", "valueUnsignedInt": heartbeat}
        )
    if max_count is not None:
        extensions.append({"url": BACKPORT + "backport-max-count", "valuePositiveInt": max_count})
    if extensions:
        channel_element["extension"] = extensions
    body: dict[str, Any] = {
        "resourceType": "Subscription",
        "meta": {"profile": [BACKPORT + "backport-subscription"]},
        "status": "requested",
        "reason": "test",
        "criteria": criteria,
        "channel": channel_element,
    }
    if filters:
        body["_criteria"] = {
            "extension": [
                {"url": BACKPORT + "backport-filter-criteria", "valueString": f} for f in filters
            ]
        }
    return body


def communication(
    recipient: str, text: str = "hej", category: str = "inskrivningsmeddelande"
) -> dict[str, Any]:
    return {
        "resourceType": "Communication",
        "status": "completed",
        "category": [{"coding": [{"system": "http://example.org/lus", "code": category}]}],
        "recipient": [{"reference": recipient}],
        "payload": [{"contentString": text}],
    }
