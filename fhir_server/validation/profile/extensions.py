"""Where an extension may be used: its definition's `context` against the element holding it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fhir_server.conformance.snapshot import CORE_PREFIX
from fhir_server.validation.profile.elements import ElementTree

if TYPE_CHECKING:
    from fhir_server.validation.profile.walker import Walk

# contexts that admit any element or any resource
_ANYWHERE = frozenset({"Element", "Base", "Resource", "DomainResource", "BackboneElement"})


def check_context(walk: Walk, tree: ElementTree, host: tuple[str, str], expr: str) -> None:
    """host: (the element's path in its definition, its type name)."""
    host_path, host_type = host
    plain_path = host_path.replace("[x]", "")
    for kind, expression in tree.contexts:
        if kind in ("fhirpath", "extension"):
            return  # not checked here: a FHIRPath context, or within another extension
        if expression in _ANYWHERE or expression in (host_type, host_path, plain_path):
            return
        if host_type == "Extension" and expression.startswith("Extension"):
            return
    allowed = ", ".join(expression for _, expression in tree.contexts)
    # The R4 core's own resources put some core extensions outside their declared contexts
    # (structuredefinition-normative-version on every normative resource, the concept
    # comments on CodeSystem and ValueSet concepts alike): R5 widened those contexts. For
    # core extensions a misplaced one is therefore a warning; for all others an error.
    core = tree.url.startswith(CORE_PREFIX)
    walk.issue(
        "warning" if core else "error",
        "structure",
        "extension-context",
        f"the extension {tree.url} is not allowed on {host_path} ({host_type}); its contexts"
        f" are: {allowed}",
        expr,
    )
