"""May this caller do this? Scope checks for every kind of request, and the answers 401 / 403.

The REST dispatcher calls `check_interaction` before a handler runs; batch and transaction
entries go through `check_entry`; operations through `check_operation`. Writes are checked
again where they happen, inside the storage job (fhir_server/auth/storage.py), which is what
catches writes whose kind shows only then (an update that creates).

Search code that pulls in other types (_include, _revinclude, $everything) asks
`may_search(ctx, resource_type)` per type it would add, and leaves out (or refuses, for
an explicit _include of a forbidden type: 403) the types it answers False for.
"""

from __future__ import annotations

from fhir_server.auth.scopes import (
    CREATE,
    DELETE,
    READ,
    SEARCH,
    UPDATE,
    Grants,
    grants_for,
)
from fhir_server.outcome import FhirError, Issue
from fhir_server.storage.port import RequestContext

REALM = "fhir-server"

# The permissions each REST interaction needs on its resource type (SMART v2:
# scopes-and-launch-context.html#scopes-for-requesting-fhir-resources). Conditional forms
# also search, so they need `s` too.
INTERACTION_PERMISSIONS: dict[str, str] = {
    "read": READ,
    "vread": READ,
    "history-instance": READ,
    "search-type": SEARCH,
    "history-type": SEARCH,
    "create": CREATE,
    "conditional-create": CREATE + SEARCH,
    "update": UPDATE,
    "conditional-update": UPDATE + SEARCH,
    "patch": UPDATE,
    "delete": DELETE,
    "conditional-delete": DELETE + SEARCH,
}


def grants(ctx: RequestContext) -> Grants:
    return grants_for(ctx.scopes)


def _quoted(text: str) -> str:
    """A value safe inside a quoted-string of a WWW-Authenticate parameter."""
    return "".join(c for c in text if c not in '"\\' and 32 <= ord(c) < 127)


def unauthorized(description: str, token_given: bool = True) -> FhirError:
    """401: no usable token (RFC 6750 section 3; without a token, no error code)."""
    challenge = f'Bearer realm="{REALM}"'
    if token_given:
        challenge += f', error="invalid_token", error_description="{_quoted(description)}"'
    return FhirError(
        401,
        [Issue("error", "login", f"Authentication required: {description}")],
        {"WWW-Authenticate": challenge},
    )


def forbidden(description: str, scope: str = "", *expression: str) -> FhirError:
    """403: the token is good but its scopes do not allow this."""
    challenge = f'Bearer realm="{REALM}", error="insufficient_scope"'
    if scope:
        challenge += f', scope="{_quoted(scope)}"'
    return FhirError(
        403,
        [Issue("error", "forbidden", description, tuple(expression))],
        {"WWW-Authenticate": challenge},
    )


def _scope_hint(resource_type: str, permission: str) -> str:
    return f"system/{resource_type}.{permission}"


def require(ctx: RequestContext, resource_type: str, permissions: str, *expression: str) -> None:
    """403 unless some scope grants each of `permissions` on the type."""
    if not ctx.enforced:
        return
    granted = grants(ctx)
    patient = ctx.patient is not None
    for permission in permissions:
        if not granted.allows(resource_type, permission, patient):
            raise forbidden(
                f"The token's scopes do not allow '{permission}' on {resource_type}",
                _scope_hint(resource_type, permission),
                *expression,
            )


def require_everything(ctx: RequestContext, permission: str, what: str) -> None:
    """403 unless an unrestricted system/ or user/ scope grants `permission` on every type
    (system-level history and search span every type)."""
    if ctx.enforced and not grants(ctx).allows_everything(permission):
        raise forbidden(
            f"{what} needs '{permission}' on every resource type (e.g. system/*.{permission})",
            _scope_hint("*", permission),
        )


def check_interaction(ctx: RequestContext, interaction: str, resource_type: str | None) -> None:
    if interaction == "history-system":
        require_everything(ctx, SEARCH, "System history")
        return
    permissions = INTERACTION_PERMISSIONS.get(interaction)
    if permissions is not None and resource_type is not None:
        require(ctx, resource_type, permissions)


def check_operation(
    ctx: RequestContext,
    name: str,
    permissions: str,
    resource_type: str | None,
    system_types: frozenset[str] | None = None,
) -> None:
    """An operation needs its permissions on the type it is invoked on; at system level,
    on the types it names it works on, else on every type."""
    if resource_type is None and system_types is not None:
        for kind in sorted(system_types):
            require(ctx, kind, permissions)
    elif resource_type is None:
        for permission in permissions:
            require_everything(ctx, permission, f"${name} at system level")
    else:
        require(ctx, resource_type, permissions)


def may_search(ctx: RequestContext, resource_type: str) -> bool:
    """Whether resources of this type may appear in a search answer to this caller (for
    _include, _revinclude and $everything). Granular and organisation limits still apply to
    which of them: see the design note in fhir_server/auth/policy.py."""
    if not ctx.enforced:
        return True
    return grants(ctx).allows(resource_type, SEARCH, ctx.patient is not None)


def check_entry(
    ctx: RequestContext,
    index: int,
    method: str,
    resource_type: str,
    has_id: bool,
    conditional: bool,
) -> None:
    """A batch or transaction entry needs what the same request alone would need."""
    if method in ("GET", "HEAD"):
        needed = READ if has_id else SEARCH
    else:
        needed = {"POST": CREATE, "PUT": UPDATE, "PATCH": UPDATE, "DELETE": DELETE}[method]
        if conditional:
            needed += SEARCH
    require(ctx, resource_type, needed, f"Bundle.entry[{index}]")
