"""What a subscription's owner may be told about.

A subscription carries its owner (the principal and organisation that created it, from the
request context of that write). A notification reveals a change, so it goes only where the
owner could read the resource: with security on, the organisation policy judges it as a
read by the owner would (fhir_server/auth/storage.py `visible_to`); with security off every
owner may see every change.

A payload carrying resources (full-resource, a classic subscription's payload, `$events`)
leaves out the address and telecom of people with protected identity as a REST read does
(fhir_server/auth/policy.py `redact`) unless the reader may see them: the caller of `$events`
by its token's `protected-identity` scope; a notification's owner never, since a
subscription keeps its owner's principal and organisation but not the scopes of the token
that created it (a receiver needing the address reads the resource with a token that has
the scope).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fhir_server import fhirjson
from fhir_server.auth.access import grants
from fhir_server.auth.policy import may_hold_protected, redact
from fhir_server.auth.storage import SecuredStorage
from fhir_server.storage.port import RequestContext, Storage, StoredVersion, SubscriptionState


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


def may_see_protected(storage: Storage, reader: RequestContext | None) -> bool:
    """Whether `reader` may see the address and telecom of people with protected identity;
    None: a notification's owner (see the module's docstring)."""
    if not isinstance(storage, SecuredStorage):
        return True  # security off
    if reader is None:
        return False
    return not reader.enforced or grants(reader).protected_identity


def shown(version: StoredVersion | None, protected_visible: bool) -> StoredVersion | None:
    """The version as a payload may carry it (`protected_visible`: `may_see_protected`)."""
    if protected_visible or version is None or version.data is None:
        return version
    if not may_hold_protected(version.data):
        return version
    resource = fhirjson.loads(version.data)
    if not redact(resource):
        return version
    return dataclasses.replace(version, data=fhirjson.dumps(resource))
