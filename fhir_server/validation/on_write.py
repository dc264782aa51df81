"""Profile validation on write: what a resource claims in meta.profile, and what Settings
require of its type (`required_profiles`), checked before anything is stored.

Errors reject the write with 422 (http.html#create: the resource violates a profile);
a claimed profile unknown here is logged, rejected or ignored as configured.
"""

from __future__ import annotations

import logging
from typing import Any

from fhir_server.outcome import FhirError, Issue
from fhir_server.runtime import Runtime

log = logging.getLogger(__name__)


def check_profiles_on_write(runtime: Runtime, resource: dict[str, Any]) -> None:
    validator = runtime.profiles
    settings = runtime.settings
    if validator is None or not settings.validate_profiles_on_write:
        return
    rtype = resource["resourceType"]
    meta = resource.get("meta")
    claimed = meta.get("profile", []) if isinstance(meta, dict) else []
    required = settings.required_profiles.get(rtype, [])
    wanted = [p for p in dict.fromkeys([*claimed, *required]) if isinstance(p, str)]
    issues: list[Issue] = []
    for url in wanted:
        if validator.tree(url) is None:
            problem = f"the profile {url} is unknown to this server"
            if url in required or settings.unknown_profile_on_write == "error":
                issues.append(Issue("error", "not-supported", problem, ("meta.profile",)))
            elif settings.unknown_profile_on_write == "warning":
                log.warning("%s/%s: %s", rtype, resource.get("id", "(new)"), problem)
            continue
        issues.extend(validator.validate(resource, url).errors)
    if issues:
        raise FhirError(422, issues)
