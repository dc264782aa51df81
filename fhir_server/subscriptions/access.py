"""What a subscription's owner may be told about.

A subscription carries its owner (the principal and organisation that created it, from the
request context of that write). A notification reveals a change, so it goes only where the
owner could read the resource: with security on, the organisation policy judges it as a
read by the owner would (fhir_server/auth/storage.py `visible_to`); with security off every
owner may see every change.
"""

from __future__ import annotations

from typing import Any

from fhir_server.auth.storage import SecuredStorage
from fhir_server.storage.port import RequestContext, Storage, SubscriptionState


async def may_see(
    storage: Storage,
    owner: SubscriptionState,
    resource_type: str,
    rid: str,
    resource: dict[str, Any] | None,
    deleted: bool,
) -> bool:
    """Whether the owner may learn of this change of `resource_type/rid`; `resource` is the
    new content, or the last before a deletion (`deleted`)."""
    if not isinstance(storage, SecuredStorage):
        return True
    reader = RequestContext(
        principal=owner.principal, organisation=owner.organisation, enforced=True
    )
    return await storage.visible_to(reader, resource_type, rid, resource, deleted)
