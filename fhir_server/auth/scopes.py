"""SMART on FHIR scopes, v2 and v1 (scopes-and-launch-context.html).

A clinical scope is `context/Type.permissions[?restriction]`:
  context      `system/` (a backend service), `user/` (what a user may), `patient/` (one
               patient's compartment, the `patient` of the token)
  Type         a resource type or `*`
  permissions  v2: a subset of `cruds` in that order; v1: `read` (= rs), `write` (= cud),
               `*` (= cruds)
  restriction  granular v2 scopes: search criteria the resources must match, e.g.
               `?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory`

What each permission allows (SMART v2): c create; r read, vread, instance history;
u update, patch; d delete; s search and type/system history.

Anything else in the scope string (openid, fhirUser, launch/patient, …) grants no access to
resources and is ignored here; so is a malformed clinical scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl

CREATE, READ, UPDATE, DELETE, SEARCH = "c", "r", "u", "d", "s"
ORDER = "cruds"
CONTEXTS = ("system", "user", "patient")
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}
# A scope of its own for addresses and telecom of people with protected identity
# (sekretessmarkering / skyddad folkbokföring); no clinical scope implies it.
PROTECTED_IDENTITY = "protected-identity"

Restriction = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Scope:
    context: str  # system | user | patient
    resource_type: str  # a type or "*"
    permissions: frozenset[str]
    restriction: Restriction = ()

    def covers(self, other: Scope) -> bool:
        """True when everything `other` grants is granted by this scope too."""
        return (
            self.context == other.context
            and self.resource_type in ("*", other.resource_type)
            and other.permissions <= self.permissions
            and (not self.restriction or self.restriction == other.restriction)
        )


def parse_scope(text: str) -> Scope | None:
    """The clinical scope a scope string names, or None for any other scope."""
    context, slash, rest = text.partition("/")
    if not slash or context not in CONTEXTS:
        return None
    resource, dot, permissions = rest.partition(".")
    if not dot or not resource:
        return None
    permissions, question, query = permissions.partition("?")
    if permissions in _V1:
        letters = _V1[permissions]
    elif permissions and _ordered(permissions):
        letters = permissions
    else:
        return None
    restriction: Restriction = ()
    if question:
        pairs = parse_qsl(query, keep_blank_values=False)
        if not pairs:
            return None
        restriction = tuple(pairs)
    return Scope(context, resource, frozenset(letters), restriction)


def _ordered(letters: str) -> bool:
    """v2 permissions: distinct letters of `cruds`, in that order (`rs`, not `sr`)."""
    positions = [ORDER.find(letter) for letter in letters]
    return all(p >= 0 for p in positions) and positions == sorted(set(positions))


@dataclass(frozen=True, slots=True)
class Grants:
    """What a set of scope strings allows."""

    scopes: tuple[Scope, ...]
    protected_identity: bool

    def _applicable(self, resource_type: str, permission: str, patient: bool) -> list[Scope]:
        return [
            s
            for s in self.scopes
            if s.resource_type in ("*", resource_type)
            and permission in s.permissions
            and (patient or s.context != "patient")
        ]

    def allows(self, resource_type: str, permission: str, patient: bool = True) -> bool:
        """Some scope grants `permission` on the type (perhaps only on part of it: see
        `restrictions`). `patient`: whether patient/ scopes count (the token names one)."""
        return bool(self._applicable(resource_type, permission, patient))

    def allows_everything(self, permission: str) -> bool:
        """An unrestricted system/ or user/ scope grants `permission` on every type."""
        return any(
            s.resource_type == "*" and permission in s.permissions and not s.restriction
            for s in self.scopes
            if s.context != "patient"
        )

    def limits(self, resource_type: str, permission: str, patient: bool = True) -> Limits:
        """Which resources of the type `permission` reaches (see `Limits`)."""
        ways = tuple(
            Way(s.context == "patient", s.restriction)
            for s in self._applicable(resource_type, permission, patient)
        )
        return Limits(ways)


@dataclass(frozen=True, slots=True)
class Way:
    """One scope's reach: the patient's compartment only (`compartment`), and/or the
    resources matching `restriction` (granular criteria, all of them)."""

    compartment: bool
    restriction: Restriction


@dataclass(frozen=True, slots=True)
class Limits:
    """A resource is reached when any one way reaches it; no ways: none is."""

    ways: tuple[Way, ...]

    @property
    def unlimited(self) -> bool:
        return any(not w.compartment and not w.restriction for w in self.ways)


@lru_cache(maxsize=4096)
def grants_for(scopes: frozenset[str]) -> Grants:
    """Parsed once per distinct scope set (tokens of one client repeat theirs)."""
    parsed = tuple(s for s in (parse_scope(text) for text in sorted(scopes)) if s is not None)
    return Grants(parsed, PROTECTED_IDENTITY in scopes)


def grantable(requested: list[str], allowed: list[str]) -> list[str]:
    """The requested scopes a client registered with `allowed` may be given: clinical scopes
    some allowed scope covers, and other scopes it was registered with verbatim."""
    allowed_parsed = [s for s in (parse_scope(a) for a in allowed) if s is not None]
    granted = []
    for text in requested:
        scope = parse_scope(text)
        if scope is None:
            if text in allowed:
                granted.append(text)
        elif any(a.covers(scope) for a in allowed_parsed):
            granted.append(text)
    return granted
