"""Sending one notification over a subscription's channel.

rest-hook: an HTTP POST of the notification to channel.endpoint with the subscription's
channel.header values, as channel.payload's media type; any 2xx is delivered, anything else
(or no answer within the timeout) is a failure to retry. Redirects are not followed: an
endpoint is only ever the address that was allowed. Classic R4 subscriptions without a
payload get an empty POST (R4 subscription.html#channels). The POST is made by
hook_client.py (why not a general HTTP client: see there).
"""

from __future__ import annotations

import ssl

from fhir_server.config import Settings
from fhir_server.subscriptions.hook_client import HookClient, HookError
from fhir_server.subscriptions.spec import SubscriptionSpec


class DeliveryFailed(Exception):
    """A notification that did not arrive, and why (becomes Subscription.error)."""


def client(settings: Settings) -> HookClient:
    return HookClient(per_endpoint=8, tls=tls_context(settings))


def tls_context(settings: Settings) -> ssl.SSLContext:
    """How https endpoints are checked: the system's CAs and subscription_tls_ca_file's,
    the host name against the certificate, and our client certificate when configured."""
    context = ssl.create_default_context()
    if settings.subscription_tls_ca_file is not None:
        context.load_verify_locations(cafile=str(settings.subscription_tls_ca_file))
    if settings.subscription_tls_cert_file is not None:
        context.load_cert_chain(
            str(settings.subscription_tls_cert_file),
            str(settings.subscription_tls_key_file)
            if settings.subscription_tls_key_file is not None
            else None,
        )
    return context


async def post(
    client: HookClient, spec: SubscriptionSpec, body: bytes | None, timeout: float
) -> None:
    assert spec.endpoint is not None
    headers = list(spec.headers)
    if body is not None:
        headers.append(("Content-Type", f"{spec.mime or 'application/fhir+json'}; charset=utf-8"))
    try:
        status = await client.post(spec.endpoint, headers, body or b"", timeout)
    except TimeoutError:
        raise DeliveryFailed(f"no answer from {spec.endpoint} within {timeout:g} s") from None
    except HookError as exc:
        raise DeliveryFailed(f"could not reach {spec.endpoint}: {exc}") from None
    if not 200 <= status < 300:
        raise DeliveryFailed(f"{spec.endpoint} answered {status}")
