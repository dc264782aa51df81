"""Organisation-scoped access (PDL: a unit sees only patients it has a care relation to) and
protected identity.

Who sees what, for a caller whose token names an organisation (HSA-id or kommunkod):
- a stay (Encounter) its unit provides (`serviceProvider`), a notice (Communication) it
  sends or receives, a Task it owns or requested, a CarePlan it authors, contributes to or
  performs in, an EpisodeOfCare it manages: the *relation* resources;
- a stay a visible notice or Task is about (`encounter`, `focus`);
- a Patient who is the subject of a visible relation resource, and everything else in that
  patient's compartment;
- resources outside every patient's compartment (Organization, Practitioner, ValueSet, …).
Everything else answers 404, as if it did not exist.

An organisation is referenced either logically (`reference.identifier.value`) or as an
`Organization/<id>` whose identifier carries it; the ids are looked up once and kept for
`_ORG_TTL` seconds.

Protected identity: a Patient (or RelatedPerson, Person) labelled in `meta.security` with
sekretessmarkering / skyddad folkbokföring, or confidentiality R / V, leaves the server
without `address` and `telecom` (also in `contact` and contained resources) unless the token
holds the `protected-identity` scope; the answer is then marked SUBSETTED.

Searches, reads and history are narrowed in the store, not filtered afterwards:
`OrganisationPolicy.visibility` gives, per resource type, the plan clauses a visible
resource meets (search/narrowing.py ANDs them into every plan, nested ones too):
- a relation type: an OR of "param refers to the organisation" (`Organization/<id>` or
  the identifier of a logical reference) over its relation parameters (`RELATION_SEARCH`);
  a stay also when a visible notice or Task refers to it (`_has`) or its patient is visible;
- Patient: some relation resource refers to it through its patient parameter (`_has`);
- another type of the patient compartment: one of its compartment parameters refers to a
  visible Patient (a chain into the Patient plan above);
- the audit trail (`OWN_RECORDS`): the events the organisation is an agent of;
- any other type: no clause (visible).
Reads ask the store the same question of one resource (fhir_server/auth/storage.py), so a
read and a search agree. `visible` judges one resource from its body where the store cannot
(the version a write replaces, a deleted resource's last content for a subscription): the
relation paths there and the parameters here name the same elements; it finds a resource's
patients in its top-level subject / patient / for / beneficiary, the narrowing in all of
the type's compartment parameters.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from fhir_server.definitions import Definitions
from fhir_server.search.compartments import compartment_params
from fhir_server.search.indexer import IDENTIFIER
from fhir_server.search.narrowing import Visibility
from fhir_server.search.plan import (
    AnyOfClause,
    ChainClause,
    Clause,
    HasClause,
    Plan,
    ReferenceClause,
    ReferenceMatch,
    TokenClause,
    TokenMatch,
)
from fhir_server.storage.port import Criteria, RequestContext

HSA_SYSTEMS = ("urn:oid:1.2.752.29.4.19", "urn:oid:1.2.752.129.2.1.4.1")
KOMMUNKOD_SYSTEM = "urn:oid:1.2.752.129.2.2.1.17"

# Where each relation type names the organisations it relates to (dotted paths).
RELATION_PATHS: dict[str, tuple[str, ...]] = {
    "Encounter": ("serviceProvider",),
    "Communication": ("sender", "recipient"),
    "Task": ("owner", "requester", "restriction.recipient"),
    "CarePlan": ("author", "contributor", "activity.detail.performer"),
    "EpisodeOfCare": ("managingOrganization",),
}
# The same relations as search parameters, and the parameter naming the patient.
RELATION_SEARCH: dict[str, tuple[tuple[str, ...], str]] = {
    "Encounter": (("service-provider",), "patient"),
    "Communication": (("recipient", "sender"), "patient"),
    "Task": (("owner", "requester", "restriction-recipient"), "patient"),
    "CarePlan": (("author", "contributor", "performer"), "patient"),
    "EpisodeOfCare": (("organization",), "patient"),
}
# Records of what the organisation itself did (the audit trail): its own are visible to it,
# and they make no patient visible. Type: (search parameters, dotted paths) naming it.
OWN_RECORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "AuditEvent": (("agent",), ("agent.who",)),
}
# Relation resources that make a stay visible: (type, parameter naming the stay).
STAY_LINKS = (("Communication", "encounter"), ("Task", "encounter"), ("Task", "focus"))
PERSON_TYPES = frozenset({"Patient", "RelatedPerson", "Person"})
PROTECTED_CODES = frozenset({"sekretessmarkering", "skyddadFolkbokforing", "skyddad-folkbokforing"})
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
}
_ORG_TTL = 10.0

# Does any current resource of this type match these criteria? (storage.search or tx.find)
Exists = Callable[[str, Criteria], Awaitable[bool]]


def organisation_scoped(ctx: RequestContext) -> bool:
    return ctx.enforced and ctx.organisation is not None


class OrganisationPolicy:
    def __init__(self, definitions: Definitions) -> None:
        self._definitions = definitions
        self._compartment: dict[str, tuple[str, ...]] = {
            entry["code"]: tuple(entry.get("param", ()))
            for entry in definitions.compartments["Patient"].get("resource", [])
            if entry.get("param")
        }
        self._org_refs: dict[str, tuple[float, tuple[str, ...]]] = {}

    def in_patient_compartment(self, resource_type: str) -> bool:
        return resource_type in self._compartment or resource_type == "Task"

    def compartment_params(self, resource_type: str) -> tuple[str, ...]:
        return self._compartment.get(resource_type, ())

    async def organisation_refs(self, organisation: str, exists_ids: OrgLookup) -> tuple[str, ...]:
        """`Organization/<id>` of every Organization carrying the caller's identifier."""
        cached = self._org_refs.get(organisation)
        now = time.monotonic()
        if cached is not None and now - cached[0] < _ORG_TTL:
            return cached[1]
        refs = tuple(f"Organization/{rid}" for rid in await exists_ids(organisation))
        if refs:  # an organisation registered a moment from now must not wait for the TTL
            self._org_refs[organisation] = (now, refs)
        return refs

    async def visible(
        self,
        ctx: RequestContext,
        resource_type: str,
        rid: str,
        resource: dict[str, Any],
        refs: tuple[str, ...],
        exists: Exists,
    ) -> bool:
        if not organisation_scoped(ctx):
            return True
        organisation = ctx.organisation or ""
        if resource_type in OWN_RECORDS:
            return _relates(resource, OWN_RECORDS[resource_type][1], organisation, refs)
        if resource_type in RELATION_PATHS:
            if _relates(resource, RELATION_PATHS[resource_type], organisation, refs):
                return True
            if resource_type == "Encounter" and refs:
                for link_type, param in STAY_LINKS:
                    related = self._related_criteria(link_type, refs)
                    for criteria in related:
                        if await exists(link_type, [(param, f"Encounter/{rid}"), criteria]):
                            return True
            if resource_type != "Encounter":
                return False
        patients = (
            [rid] if resource_type == "Patient" else list(patients_of(resource_type, resource))
        )
        if not patients:
            # outside every patient's compartment: not patient data
            return not self.in_patient_compartment(resource_type) and resource_type not in (
                RELATION_PATHS
            )
        for patient in patients:
            if await self._patient_visible(patient, refs, exists):
                return True
        return False

    async def _patient_visible(self, patient: str, refs: tuple[str, ...], exists: Exists) -> bool:
        if not refs:
            return False
        for relation_type, (_, patient_param) in RELATION_SEARCH.items():
            for criteria in self._related_criteria(relation_type, refs):
                if await exists(relation_type, [(patient_param, f"Patient/{patient}"), criteria]):
                    return True
        return False

    def visibility(self, ctx: RequestContext, refs: tuple[str, ...]) -> Visibility | None:
        """What this caller may see as plan clauses per type (see the module's docstring);
        None when it may see everything. `refs`: `organisation_refs` of its organisation."""
        if not organisation_scoped(ctx):
            return None
        return _Narrowing(self, ctx.organisation or "", refs)

    @staticmethod
    def _related_criteria(relation_type: str, refs: tuple[str, ...]) -> list[tuple[str, str]]:
        params, _ = RELATION_SEARCH[relation_type]
        return [(param, ",".join(refs)) for param in params]


OrgLookup = Callable[[str], Awaitable[list[str]]]


def _relates(
    resource: dict[str, Any], paths: Iterable[str], organisation: str, refs: tuple[str, ...]
) -> bool:
    for path in paths:
        for reference in _walk(resource, path.split(".")):
            if not isinstance(reference, dict):
                continue
            if reference.get("reference") in refs:
                return True
            identifier = reference.get("identifier")
            if isinstance(identifier, dict) and identifier.get("value") == organisation:
                return True
    return False


def _walk(value: Any, steps: list[str]) -> Iterable[Any]:
    if not steps:
        yield from value if isinstance(value, list) else [value]
        return
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, dict) and steps[0] in item:
            yield from _walk(item[steps[0]], steps[1:])


# Top-level elements that name the patient a resource is about.
_PATIENT_FIELDS = ("subject", "patient", "for", "beneficiary")


def patients_of(resource_type: str, resource: dict[str, Any]) -> Iterable[str]:
    """The ids of the patients a resource is about (cheap: the usual top-level elements)."""
    if resource_type == "Patient":
        rid = resource.get("id")
        if isinstance(rid, str):
            yield rid
        return
    for name in _PATIENT_FIELDS:
        for reference in _walk(resource, [name]):
            if isinstance(reference, dict):
                text = reference.get("reference")
                if isinstance(text, str) and text.startswith("Patient/"):
                    yield text[len("Patient/") :].split("/", 1)[0]


# protected identity -------------------------------------------------------------------------


def protected(resource: dict[str, Any]) -> bool:
    meta = resource.get("meta")
    if not isinstance(meta, dict):
        return False
    for coding in meta.get("security", []) or []:
        if not isinstance(coding, dict):
            continue
        code = coding.get("code")
        if code in PROTECTED_CODES:
            return True
        if coding.get("system") == CONFIDENTIALITY and code in ("R", "V"):
            return True
    return False


def redact(resource: dict[str, Any]) -> bool:
    """Remove address and telecom of protected people, in place; True if anything was."""
    changed = False
    if resource.get("resourceType") in PERSON_TYPES and protected(resource):
        for name in ("address", "telecom"):
            changed |= resource.pop(name, None) is not None
        for contact in resource.get("contact", []) or []:
            if isinstance(contact, dict):
                for name in ("address", "telecom"):
                    changed |= contact.pop(name, None) is not None
    for contained in resource.get("contained", []) or []:
        if isinstance(contained, dict):
            changed |= redact(contained)
    if changed:
        meta = resource.setdefault("meta", {})
        tags = meta.setdefault("security", [])
        if SUBSETTED not in tags:
            tags.append(dict(SUBSETTED))
    return changed


def may_hold_protected(data: bytes) -> bool:
    """A cheap test before parsing: only labelled resources can need redaction."""
    return b"sekretessmarkering" in data or b"kyddad" in data or b"Confidentiality" in data


class _Narrowing:
    """`OrganisationPolicy.visibility` for one organisation: the clauses of each type,
    built once per request."""

    def __init__(self, policy: OrganisationPolicy, organisation: str, refs: tuple[str, ...]):
        self._policy = policy
        self._organisation = organisation
        self._ids = tuple(ref.partition("/")[2] for ref in refs)
        self._by_type: dict[str, tuple[Clause, ...]] = {}
        patients = AnyOfClause(
            tuple(
                HasClause(patient_param, self._related(relation_type))
                for relation_type, (_, patient_param) in RELATION_SEARCH.items()
            )
        )
        self._patient: tuple[Clause, ...] = (patients,)

    def __call__(self, resource_type: str) -> tuple[Clause, ...]:
        found = self._by_type.get(resource_type)
        if found is None:
            found = self._by_type[resource_type] = self._clauses(resource_type)
        return found

    def _relates(self, relation_type: str) -> list[Clause]:
        return self._refers(RELATION_SEARCH[relation_type][0])

    def _refers(self, params: tuple[str, ...]) -> list[Clause]:
        """One of these parameters refers to the organisation, as `Organization/<id>` or
        logically by its identifier."""
        alternatives: list[Clause] = []
        for param in params:
            if self._ids:
                targets = tuple(ReferenceMatch("Organization", rid) for rid in self._ids)
                alternatives.append(ReferenceClause(param, targets))
            logical = (TokenMatch(code=self._organisation),)
            alternatives.append(TokenClause(f"{param}{IDENTIFIER}", logical))
        return alternatives

    def _related(self, relation_type: str) -> Plan:
        return Plan(relation_type, (AnyOfClause(tuple(self._relates(relation_type))),))

    def _via_patient(self, resource_type: str) -> list[Clause]:
        params = compartment_params(self._policy._definitions, "Patient", resource_type) or ()
        patient = Plan("Patient", self._patient)
        return [ChainClause(param, (patient,)) for param in params]

    def _clauses(self, resource_type: str) -> tuple[Clause, ...]:
        if resource_type == "Patient":
            return self._patient
        if resource_type in OWN_RECORDS:
            return (AnyOfClause(tuple(self._refers(OWN_RECORDS[resource_type][0]))),)
        if resource_type in RELATION_SEARCH:
            alternatives = self._relates(resource_type)
            if resource_type == "Encounter":
                alternatives += [
                    HasClause(param, self._related(link_type)) for link_type, param in STAY_LINKS
                ]
                alternatives += self._via_patient(resource_type)
            return (AnyOfClause(tuple(alternatives)),)
        if not self._policy.in_patient_compartment(resource_type):
            return ()  # not patient data
        return (AnyOfClause(tuple(self._via_patient(resource_type))),)
