"""Sending one notification over a subscription's channel.

rest-hook: an HTTP POST of the notification to channel.endpoint with the subscription's
channel.header values, as channel.payload's media type; any 2xx is delivered, anything else
(or no answer within the timeout) is a failure to retry. Redirects are not followed: an
endpoint is only ever the address that was allowed. Classic R4 subscriptions without a
payload get an empty POST (R4 subscription.html#channels).
"""

from __future__ import annotations

import asyncio

import aiohttp

from fhir_server.subscriptions.spec import SubscriptionSpec

# aiohttp rather than httpx: measured here, httpx's POST took ~40 % of the server's CPU at a
# hundred notifications a second (anyio and httpcore layers), several times aiohttp's cost.


class DeliveryFailed(Exception):
    """A notification that did not arrive, and why (becomes Subscription.error)."""


def client(max_connections: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=max_connections, limit_per_host=8),
        auto_decompress=False,
        trust_env=False,  # no proxy from the environment: the endpoint is the address
    )


async def post(
    session: aiohttp.ClientSession, spec: SubscriptionSpec, body: bytes | None, timeout: float
) -> None:
    assert spec.endpoint is not None
    headers = dict(spec.headers)
    if body is not None:
        headers["Content-Type"] = f"{spec.mime or 'application/fhir+json'}; charset=utf-8"
    try:
        async with session.post(
            spec.endpoint,
            data=body or b"",
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
            allow_redirects=False,
        ) as response:
            await response.read()
            status = response.status
    except TimeoutError:
        raise DeliveryFailed(f"no answer from {spec.endpoint} within {timeout:g} s") from None
    except (aiohttp.ClientError, OSError, asyncio.IncompleteReadError) as exc:
        raise DeliveryFailed(f"could not reach {spec.endpoint}: {exc!r}") from None
    if not 200 <= status < 300:
        raise DeliveryFailed(f"{spec.endpoint} answered {status}")
