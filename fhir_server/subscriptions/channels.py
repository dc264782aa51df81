"""Sending one notification over a subscription's channel.

rest-hook: an HTTP POST of the notification to channel.endpoint with the subscription's
channel.header values, as channel.payload's media type; any 2xx is delivered, anything else
(or no answer within the timeout) is a failure to retry. Redirects are not followed: an
endpoint is only ever the address that was allowed. Classic R4 subscriptions without a
payload get an empty POST (R4 subscription.html#channels).
"""

from __future__ import annotations

import httpx

from fhir_server.subscriptions.spec import SubscriptionSpec


class DeliveryFailed(Exception):
    """A notification that did not arrive, and why (becomes Subscription.error)."""


async def post(
    client: httpx.AsyncClient, spec: SubscriptionSpec, body: bytes | None, timeout: float
) -> None:
    assert spec.endpoint is not None
    headers = dict(spec.headers)
    if body is not None:
        headers["Content-Type"] = f"{spec.mime or 'application/fhir+json'}; charset=utf-8"
    try:
        response = await client.post(
            spec.endpoint, content=body or b"", headers=headers, timeout=timeout
        )
    except httpx.TimeoutException:
        raise DeliveryFailed(f"no answer from {spec.endpoint} within {timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"could not reach {spec.endpoint}: {exc!r}") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(f"{spec.endpoint} answered {response.status_code}")
