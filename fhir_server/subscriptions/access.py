"""What a subscription's owner may be told about.

A subscription carries its owner (the principal and organisation that created it, from the
request context of that write). A notification reveals a change, so it must only go where
the owner could have read the resource. The access policy of the security issue plugs in
here; until then every owner may see every change.
"""

from __future__ import annotations

from typing import Any

from fhir_server.storage.port import SubscriptionState


def may_see(owner: SubscriptionState, resource_type: str, resource: dict[str, Any] | None) -> bool:
    return True
