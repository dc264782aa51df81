"""Systems, extension URLs and codes of the LUS workflow, one place (DOMAIN.md)."""

from __future__ import annotations

from fhir_server.definitions.content import CANONICAL_BASE
from fhir_server.validation.profile.swedish import (  # noqa: F401  (one definition each)
    KOMMUNKOD,
    LANSKOD,
    PERSONNUMMER,
    SAMORDNINGSNUMMER,
)

NOTICE_TYPE = f"{CANONICAL_BASE}/CodeSystem/lus-notice-type"
TASK_TYPE = f"{CANONICAL_BASE}/CodeSystem/lus-task-type"
STATE = f"{CANONICAL_BASE}/CodeSystem/lus-state"
TASK_BUSINESS_STATUS = f"{CANONICAL_BASE}/CodeSystem/lus-task-business-status"
CARE_TYPE = f"{CANONICAL_BASE}/CodeSystem/lus-care-type"
ORGANIZATION_TYPE = f"{CANONICAL_BASE}/CodeSystem/lus-organization-type"

STATE_EXTENSION = f"{CANONICAL_BASE}/StructureDefinition/lus-state"
ESTIMATED_DISCHARGE_EXTENSION = f"{CANONICAL_BASE}/StructureDefinition/lus-estimated-discharge"
UTSKRIVNINGSKLAR_EXTENSION = f"{CANONICAL_BASE}/StructureDefinition/lus-utskrivningsklar-time"
REGISTERED_ADDRESS_EXTENSION = f"{CANONICAL_BASE}/StructureDefinition/lus-registered-address"
KOMMUNKOD_EXTENSION = f"{CANONICAL_BASE}/StructureDefinition/lus-kommunkod"

HSA_ID = "urn:oid:1.2.752.29.4.19"  # the HL7 Sweden form we store

# notice types (lus-notice-type)
INSKRIVNINGSMEDDELANDE = "inskrivningsmeddelande"
BERAKNAD_UTSKRIVNING_ANDRAD = "beraknad-utskrivning-andrad"
PLANERING_PABORJAD = "planering-paborjad"
PLANERINGSUNDERLAG = "planeringsunderlag"
FAST_VARDKONTAKT_UTSEDD = "fast-vardkontakt-utsedd"
UTSKRIVNINGSKLAR = "utskrivningsklar"
UTSKRIVNINGSKLAR_ATERKALLAD = "utskrivningsklar-aterkallad"
SIP_KALLELSE = "sip-kallelse"
UTSKRIVNINGSMEDDELANDE = "utskrivningsmeddelande"
MEDDELANDE = "meddelande"
KVITTENS = "kvittens"

# task types (lus-task-type)
SKICKA_INSKRIVNINGSMEDDELANDE = "skicka-inskrivningsmeddelande"
KVITTERA = "kvittera"
PABORJA_PLANERING = "paborja-planering"
SKICKA_PLANERINGSUNDERLAG = "skicka-planeringsunderlag"
UTSE_FAST_VARDKONTAKT = "utse-fast-vardkontakt"
KALLA_TILL_SIP = "kalla-till-sip"
SKICKA_UTSKRIVNINGSMEDDELANDE = "skicka-utskrivningsmeddelande"

TASK_DISPLAY = {
    SKICKA_INSKRIVNINGSMEDDELANDE: "Skicka inskrivningsmeddelande",
    KVITTERA: "Kvittera meddelande",
    PABORJA_PLANERING: "Påbörja planering",
    SKICKA_PLANERINGSUNDERLAG: "Skicka planeringsunderlag",
    UTSE_FAST_VARDKONTAKT: "Utse fast vårdkontakt",
    KALLA_TILL_SIP: "Kalla till SIP",
    SKICKA_UTSKRIVNINGSMEDDELANDE: "Skicka utskrivningsmeddelande",
}

# stay states (lus-state)
INSKRIVEN = "inskriven"
PLANERING = "planering"
STATE_UTSKRIVNINGSKLAR = "utskrivningsklar"
ATERKALLAD = "aterkallad"
HEMGANGSKLAR = "hemgangsklar"
UTSKRIVEN = "utskriven"
MAKULERAD = "makulerad"

STATE_DISPLAY = {
    INSKRIVEN: "Inskriven",
    PLANERING: "Planering",
    STATE_UTSKRIVNINGSKLAR: "Utskrivningsklar",
    ATERKALLAD: "Utskrivningsklar återkallad",
    HEMGANGSKLAR: "Hemgångsklar",
    UTSKRIVEN: "Utskriven",
    MAKULERAD: "Makulerad",
}

# task business status
I_TID = "i-tid"
FORSENAD = "forsenad"

# care types
SOMATISK = "somatisk"
PSYKIATRISK = "psykiatrisk"

STOCKHOLM = "Europe/Stockholm"
