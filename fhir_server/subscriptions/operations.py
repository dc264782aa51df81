"""Subscription/$status and Subscription/$events (Backport IG operations), and
$get-ws-binding-token for websocket channels (websocket.py).

$status answers from the stored delivery state, so it tells the truth about a subscription
whose endpoint is down. $events replays a range of a subscription's stored events as a
notification Bundle (type query-event), so a receiver that saw a gap can fill it.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from fhir_server.outcome import bad_request, not_found
from fhir_server.rest.operations import INSTANCE, TYPE, Invocation, Operation
from fhir_server.rest.responses import json_response
from fhir_server.storage.port import StoredVersion, SubscriptionState
from fhir_server.subscriptions import websocket
from fhir_server.subscriptions.access import may_see_protected, shown
from fhir_server.subscriptions.matcher import body_of
from fhir_server.subscriptions.notifications import (
    Status,
    notification_bundle,
    status_parameters,
)
from fhir_server.subscriptions.service import SYSTEM, server_base
from fhir_server.subscriptions.spec import CONTENTS, PAYLOAD_CONTENT, SubscriptionSpec

_DEFINITIONS = "http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/"


def _topic_of(resource: dict[str, Any], search_types: frozenset[str]) -> str | None:
    criteria = str(resource.get("criteria", ""))
    return None if criteria.split("?", 1)[0] in search_types else criteria


def _content_of(resource: dict[str, Any]) -> str:
    channel = resource.get("channel") or {}
    for extension in (channel.get("_payload") or {}).get("extension") or []:
        if extension.get("url") == PAYLOAD_CONTENT and extension.get("valueCode") in CONTENTS:
            return str(extension["valueCode"])
    return "id-only" if channel.get("payload") else "empty"


def _status(
    base: str, sid: str, resource: dict[str, Any], state: SubscriptionState | None, types: Any
) -> Status:
    if state is None:  # not yet seen by the matcher (just created), or cannot run
        return Status(
            f"{base}/Subscription/{sid}",
            _topic_of(resource, types),
            str(resource.get("status", "requested")),
            0,
            resource.get("error"),
        )
    return Status(
        f"{base}/Subscription/{sid}",
        _topic_of(resource, types),
        state.status,
        state.events,
        state.error,
    )


async def _subscription(invocation: Invocation, sid: str) -> dict[str, Any]:
    runtime = invocation.call.runtime
    resource = body_of(await runtime.storage.read(invocation.call.context, "Subscription", sid))
    if resource is None:
        raise not_found(f"Subscription/{sid} is not known")
    return resource


async def status(invocation: Invocation) -> Response:
    """$status: one status resource per subscription, in a searchset Bundle."""
    runtime = invocation.call.runtime
    base = server_base(runtime)
    if invocation.rid is not None:
        ids = [invocation.rid]
    else:
        ids = [str(v) for v in invocation.values("id")]
        if not ids:
            ids = [s.id for s in await runtime.storage.subscription_states()]
    wanted = {str(v) for v in invocation.values("status")}
    entries = []
    for sid in ids:
        resource = (
            await _subscription(invocation, sid)
            if invocation.rid is not None
            else body_of(await runtime.storage.read(invocation.call.context, "Subscription", sid))
        )
        if resource is None:
            continue
        state = await runtime.storage.subscription_state(sid)
        current = _status(base, sid, resource, state, runtime.definitions.resource_types)
        if wanted and current.status not in wanted:
            continue
        parameters = status_parameters(current, "query-status", [], "empty", base)
        entries.append(
            {
                "fullUrl": f"urn:uuid:{parameters['id']}",
                "resource": parameters,
                "search": {"mode": "match"},
            }
        )
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(entries),
        "entry": entries,
    }
    return json_response(bundle, invocation.call.negotiated)


def _number(invocation: Invocation, name: str) -> int | None:
    value = invocation.value(name)
    if value is None:
        return None
    text = str(value)
    if not text.isdigit() or int(text) < 1:
        raise bad_request(f"${invocation.name}: {name} must be an event number (1, 2, ...)", name)
    return int(text)


async def events(invocation: Invocation) -> Response:
    """$events: the stored events numbered eventsSinceNumber..eventsUntilNumber."""
    runtime = invocation.call.runtime
    base = server_base(runtime)
    assert invocation.rid is not None
    sid = invocation.rid
    resource = await _subscription(invocation, sid)
    state = await runtime.storage.subscription_state(sid)
    first = _number(invocation, "eventsSinceNumber") or 1
    last = _number(invocation, "eventsUntilNumber")
    if last is not None and last < first:
        raise bad_request(
            "$events: eventsUntilNumber is below eventsSinceNumber", "eventsUntilNumber"
        )
    content = invocation.value("content") or _content_of(resource)
    if content not in CONTENTS:
        raise bad_request(f"$events: content must be one of {', '.join(CONTENTS)}", "content")
    limit = runtime.settings.max_page_size
    found = await runtime.storage.subscription_events(sid, first, last, limit) if state else []
    versions: dict[int, StoredVersion | None] = {}
    if content == "full-resource":
        protected = may_see_protected(runtime.storage, invocation.call.context)
        for event in found:
            version = await runtime.storage.vread(
                SYSTEM, event.resource_type, event.id, event.version
            )
            versions[event.number] = shown(version, protected)
    current = _status(base, sid, resource, state, runtime.definitions.resource_types)
    spec = _replay_spec(sid, content)
    bundle = notification_bundle(spec, current, "query-event", found, versions, base, content)
    return json_response(bundle, invocation.call.negotiated)


def _replay_spec(sid: str, content: str) -> SubscriptionSpec:
    """What notification_bundle needs of a subscription to replay its events."""
    return SubscriptionSpec(
        id=sid,
        declared_status="active",
        topic=None,
        criteria="",
        classic=None,
        filters=(),
        channel="rest-hook",
        endpoint=None,
        headers=(),
        mime=None,
        content=content,
        heartbeat=None,
        timeout=None,
        max_count=1,
        end=None,
    )


OPERATIONS = [
    Operation(
        name="status",
        handler=status,
        levels=frozenset({TYPE, INSTANCE}),
        definition=_DEFINITIONS + "backport-subscription-status",
        types=frozenset({"Subscription"}),
        documentation="Status of subscriptions (Subscriptions R5 Backport IG)",
    ),
    Operation(
        name="events",
        handler=events,
        levels=frozenset({INSTANCE}),
        definition=_DEFINITIONS + "backport-subscription-events",
        types=frozenset({"Subscription"}),
        documentation="Replay of a subscription's stored events by number",
    ),
    websocket.BINDING_TOKEN,
]
