"""A generated data set: Swedish patients with their encounters and observations.

Made with a seeded random generator, so every run has the same data. It is rich in what
search must get right: names with å, ä, ö, é and their folding, personnummer, partial
dates and dateTimes with time zones, Periods open at one end, quantities with and without
UCUM codes and with different precisions, comparators, references relative, absolute to
this server, and to another server.
"""

from __future__ import annotations

import random
from typing import Any

import orjson

PNR = "http://electronichealth.se/identifier/personnummer"
HSA = "urn:oid:1.2.752.29.4.19"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
KOMMUN = "urn:oid:1.2.752.129.2.2.1.17"

GIVEN = ["Åsa", "Asa", "Örjan", "Märta", "Eva", "Björn", "Anders", "Élise", "Zoë", "Lars-Åke"]
FAMILY = [
    "Åkesson",
    "Öberg",
    "Berg",
    "Lindqvist",
    "Ström",
    "Strömberg",
    "Nilsson",
    "Ek",
    "Håkansson",
]
CITIES = [("Malmö", "1280"), ("Göteborg", "1480"), ("Umeå", "2480"), ("Örebro", "1880")]
ORGANISATIONS = ["Vårdcentralen Norr", "Vårdcentralen Söder", "Sjukhuset i Ängelholm"]
ZONES = ["Z", "+01:00", "+02:00", "-05:00", ""]
CODES = [
    (LOINC, "8867-4", "Heart rate", "/min", "/min", "slag/min"),
    (LOINC, "8310-5", "Body temperature", "Cel", "Cel", "°C"),
    (LOINC, "29463-7", "Body weight", "kg", "kg", "kg"),
    (LOINC, "2339-0", "Glucose", "mmol/L", "mmol/L", "mmol/l"),
    (SNOMED, "27113001", "Kroppsvikt", "[lb_av]", "[lb_av]", "lbs"),
]


def _date(rng: random.Random, year_from: int, year_to: int) -> str:
    """A date or dateTime at a random precision, sometimes with a zone."""
    year = rng.randint(year_from, year_to)
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    kind = rng.choice(["year", "month", "day", "minute", "second", "fraction"])
    if kind == "year":
        return f"{year}"
    if kind == "month":
        return f"{year}-{month:02d}"
    if kind == "day":
        return f"{year}-{month:02d}-{day:02d}"
    zone = rng.choice(ZONES[:4])  # a dateTime with a time has a zone in FHIR
    hour, minute, second = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
    if kind == "minute":
        return f"{year}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:00{zone}"
    if kind == "second":
        return f"{year}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}{zone}"
    fraction = str(rng.randint(0, 999)).rjust(rng.choice([1, 3]), "0")[:3]
    return f"{year}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}.{fraction}{zone}"


def _decimal(rng: random.Random, low: float, high: float) -> str:
    """A decimal as JSON text at 0 to 3 decimals (its precision matters to search)."""
    places = rng.choice([0, 1, 1, 2, 3])
    return f"{rng.uniform(low, high):.{places}f}"


def resources(seed: int = 20261124, patients: int = 120) -> list[bytes]:
    """The data set as JSON documents (decimals written with their precision)."""
    rng = random.Random(seed)
    out: list[bytes] = []

    def add(resource: dict[str, Any], decimals: dict[str, str] | None = None) -> None:
        raw = orjson.dumps(resource).decode()
        for marker, text in (decimals or {}).items():
            raw = raw.replace(f'"{marker}"', text)  # a decimal as written, not as a float
        out.append(raw.encode())

    for i, name in enumerate(ORGANISATIONS):
        add(
            {
                "resourceType": "Organization",
                "id": f"org{i}",
                "name": name,
                "identifier": [{"system": HSA, "value": f"SE2321000016-{i:04d}"}],
                "address": [{"city": CITIES[i][0]}],
            }
        )
    for i in range(6):
        add(
            {
                "resourceType": "Practitioner",
                "id": f"pr{i}",
                "name": [{"family": rng.choice(FAMILY), "given": [rng.choice(GIVEN)]}],
                "identifier": [{"system": HSA, "value": f"SE2321000016-P{i:03d}"}],
                "telecom": [{"system": "phone", "value": f"+46 40 {i:06d}"}],
            }
        )
    for p in range(patients):
        pid = f"pat{p}"
        born = _date(rng, 1920, 2020)[:10] if rng.random() < 0.9 else None
        city, kommun = rng.choice(CITIES)
        patient: dict[str, Any] = {
            "resourceType": "Patient",
            "id": pid,
            "active": rng.random() < 0.8,
            "gender": rng.choice(["female", "male", "other", "unknown"]),
            "name": [
                {
                    "use": "official",
                    "family": rng.choice(FAMILY),
                    "given": rng.sample(GIVEN, rng.randint(1, 2)),
                }
            ],
            "identifier": [{"system": PNR, "value": f"19{rng.randint(10**9, 10**10 - 1)}"}],
            "address": [
                {
                    "line": [f"{rng.choice(['Storgatan', 'Ågatan', 'Östra vägen'])} {p}"],
                    "city": city,
                    "postalCode": f"{rng.randint(10000, 99999)}",
                    "district": kommun,
                }
            ],
            "telecom": [{"system": rng.choice(["phone", "email"]), "value": f"070-{p:07d}"}],
        }
        if born is not None:
            patient["birthDate"] = born
        if rng.random() < 0.15:
            patient["deceasedDateTime"] = _date(rng, 2000, 2025)
        if rng.random() < 0.6:
            patient["managingOrganization"] = {"reference": f"Organization/org{rng.randint(0, 2)}"}
        if rng.random() < 0.5:
            gp = f"Practitioner/pr{rng.randint(0, 5)}"
            if rng.random() < 0.3:
                gp = "http://testserver/" + gp  # absolute, to this server
            patient["generalPractitioner"] = [{"reference": gp}]
        if rng.random() < 0.2:
            patient["meta"] = {"tag": [{"system": "http://example.se/tags", "code": "lus"}]}
        add(patient)
        for e in range(rng.randint(0, 3)):
            eid = f"enc{p}-{e}"
            period: dict[str, str] = {}
            if rng.random() < 0.9:
                period["start"] = _date(rng, 2015, 2025)
            if rng.random() < 0.6:
                period["end"] = _date(rng, 2015, 2025)
            encounter: dict[str, Any] = {
                "resourceType": "Encounter",
                "id": eid,
                "status": rng.choice(["planned", "in-progress", "finished"]),
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": rng.choice(["IMP", "AMB", "EMER"]),
                },
                "subject": {"reference": f"Patient/{pid}"},
                "serviceProvider": {"reference": f"Organization/org{rng.randint(0, 2)}"},
                "participant": [
                    {"individual": {"reference": f"Practitioner/pr{rng.randint(0, 5)}"}}
                ],
            }
            if "start" in period and "end" in period:
                low, high = sorted((period["start"], period["end"]))  # years compare
                if low[:4] != high[:4]:
                    period["start"], period["end"] = low, high
                else:  # start <= end (per-1): a period within one year
                    period["start"], period["end"] = low[:4], low[:4]
            if period:
                encounter["period"] = period
            if rng.random() < 0.5:
                encounter["length"] = {
                    "value": "LENGTH",
                    "unit": "min",
                    "system": UCUM,
                    "code": "min",
                }
            add(encounter, {"LENGTH": _decimal(rng, 5, 600)})
            for o in range(rng.randint(0, 4)):
                system, code, display, _, unit_code, unit = rng.choice(CODES)
                observation: dict[str, Any] = {
                    "resourceType": "Observation",
                    "id": f"obs{p}-{e}-{o}",
                    "status": rng.choice(["final", "amended", "preliminary"]),
                    "code": {
                        "coding": [{"system": system, "code": code, "display": display}],
                        "text": rng.choice([display, f"{display} (mätt)"]),
                    },
                    "subject": {"reference": f"Patient/{pid}"},
                    "encounter": {"reference": f"Encounter/{eid}"},
                }
                when = rng.random()
                if when < 0.6:
                    observation["effectiveDateTime"] = _date(rng, 2015, 2025)
                elif when < 0.8:
                    observation["effectivePeriod"] = {"start": _date(rng, 2015, 2025)}
                elif when < 0.9:
                    observation["effectiveInstant"] = (
                        f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T10:00:00Z"
                    )
                quantity: dict[str, Any] = {"value": "VALUE", "unit": unit}
                if rng.random() < 0.7:
                    quantity.update(
                        system=UCUM if system == LOINC else "http://x.se/units", code=unit_code
                    )
                if rng.random() < 0.1:
                    quantity["comparator"] = rng.choice(["<", ">="])
                if rng.random() < 0.9:
                    observation["valueQuantity"] = quantity
                add(observation, {"VALUE": _decimal(rng, 0, 200)})
        if rng.random() < 0.3:
            add(
                {
                    "resourceType": "RiskAssessment",
                    "id": f"risk{p}",
                    "status": "final",
                    "subject": {"reference": f"Patient/{pid}"},
                    "prediction": [{"probabilityDecimal": "PROBABILITY"}],
                },
                {"PROBABILITY": _decimal(rng, 0, 1)},
            )
    _panels(random.Random(seed + 1), patients, add)
    return out


def _panels(rng: random.Random, patients: int, add: Any) -> None:
    """Blood pressure panels (composite search: a code and a value of ONE component) and
    coded findings, from a generator of their own so that the data above stays as it is."""
    for p in range(patients):
        for n in range(rng.randint(0, 2)):
            systolic, diastolic = rng.randint(90, 190), rng.randint(50, 120)
            components = [
                ("8480-6", "Systoliskt blodtryck", systolic),
                ("8462-4", "Diastoliskt blodtryck", diastolic),
            ]
            rng.shuffle(components)
            add(
                {
                    "resourceType": "Observation",
                    "id": f"bp{p}-{n}",
                    "status": "final",
                    "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
                    "subject": {"reference": f"Patient/pat{p}"},
                    "effectiveDateTime": _date(rng, 2018, 2025),
                    "component": [
                        {
                            "code": {"coding": [{"system": LOINC, "code": code, "display": text}]},
                            "valueQuantity": {
                                "value": value,
                                "unit": "mmHg",
                                "system": UCUM,
                                "code": "mm[Hg]",
                            },
                        }
                        for code, text, value in components
                    ],
                }
            )
        if rng.random() < 0.3:
            add(
                {
                    "resourceType": "Observation",
                    "id": f"smoke{p}",
                    "status": "final",
                    "code": {"coding": [{"system": LOINC, "code": "72166-2"}]},
                    "subject": {"reference": f"Patient/pat{p}"},
                    "valueCodeableConcept": {
                        "coding": [
                            {
                                "system": SNOMED,
                                "code": rng.choice(["8517006", "266919005", "77176002"]),
                            }
                        ]
                    },
                }
            )
