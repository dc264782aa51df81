"""Patient-sized FHIR resources with realistic Swedish content, varied per request.

The same generator is written in Lua for wrk (bench/wrk/common.lua); keep them alike.
Bodies are ~1.8-2.7 KB of UTF-8: names with å ä ö, a valid personnummer (Luhn check
digit) under http://electronichealth.se/identifier/personnummer, address, telecom,
next of kin, general practitioner by HSA-id, and a generated narrative.
"""

from __future__ import annotations

import random
from typing import Any

import orjson

PERSONNUMMER = "http://electronichealth.se/identifier/personnummer"
HSA_ID = "urn:oid:1.2.752.29.4.19"

GIVEN_F = [
    "Åsa",
    "Märta",
    "Ingrid",
    "Birgitta",
    "Gunnel",
    "Solveig",
    "Ulla",
    "Karin",
    "Margareta",
    "Britt-Marie",
    "Göta",
    "Elsa",
    "Anna-Lena",
    "Kerstin",
    "Maj-Britt",
]
GIVEN_M = [
    "Åke",
    "Göran",
    "Björn",
    "Sören",
    "Örjan",
    "Lennart",
    "Bengt",
    "Håkan",
    "Kjell",
    "Per-Olof",
    "Stig",
    "Jöns",
    "Rune",
    "Sven-Åke",
    "Ture",
]
FAMILY = [
    "Åström",
    "Öberg",
    "Ängström",
    "Sjöström",
    "Bäckström",
    "Löfgren",
    "Lindqvist",
    "Nordström",
    "Håkansson",
    "Jönsson",
    "Sjögren",
    "Ekström",
    "Strömberg",
    "Östlund",
    "Fältskog",
    "Söderberg",
    "Wåhlin",
    "Hägglund",
]
STREETS = [
    "Storgatan",
    "Kyrkogatan",
    "Västra Ågatan",
    "Östra Hamngatan",
    "Björkvägen",
    "Ringvägen",
    "Järnvägsgatan",
    "Skolgatan",
    "Sjövägen",
    "Tallstigen",
    "Ängsvägen",
    "Gärdesgatan",
    "Hälsingegatan",
    "Ödegårdsvägen",
]
# (city, postal code prefix, municipality, county)
CITIES = [
    ("Uppsala", "752", "Uppsala kommun", "Uppsala län"),
    ("Örebro", "702", "Örebro kommun", "Örebro län"),
    ("Västerås", "722", "Västerås stad", "Västmanlands län"),
    ("Linköping", "582", "Linköpings kommun", "Östergötlands län"),
    ("Jönköping", "553", "Jönköpings kommun", "Jönköpings län"),
    ("Umeå", "903", "Umeå kommun", "Västerbottens län"),
    ("Gävle", "802", "Gävle kommun", "Gävleborgs län"),
    ("Luleå", "972", "Luleå kommun", "Norrbottens län"),
    ("Malmö", "211", "Malmö stad", "Skåne län"),
    ("Göteborg", "413", "Göteborgs stad", "Västra Götalands län"),
]
CLINICS = [
    "Vårdcentralen Fjärdingen",
    "Vårdcentralen Östermalm",
    "Hälsocentralen Ålidhem",
    "Vårdcentralen Tärnan",
    "Närhälsan Högsbo",
    "Vårdcentralen Bäckby",
    "Hälsocentralen Södermalm",
    "Vårdcentralen Årstaberg",
]
RELATIONS = [("C", "Emergency Contact"), ("N", "Next-of-Kin"), ("F", "Federal Agency")]
MARITAL = [("M", "Married"), ("W", "Widowed"), ("D", "Divorced"), ("S", "Never Married")]


def luhn_digit(nine: str) -> int:
    total = 0
    for i, ch in enumerate(nine):
        p = int(ch) * (2 if i % 2 == 0 else 1)
        total += p // 10 + p % 10
    return (10 - total % 10) % 10


def personnummer(rng: random.Random) -> tuple[str, str, str]:
    """(12-digit personnummer, birthDate, gender) for someone born 1925-1960."""
    year = rng.randint(1925, 1960)
    month = rng.randint(1, 12)
    day = rng.randint(1, 28)
    serial = rng.randint(0, 99)
    sex_digit = rng.randint(0, 9)
    nine = f"{year % 100:02d}{month:02d}{day:02d}{serial:02d}{sex_digit}"
    gender = "female" if sex_digit % 2 == 0 else "male"
    return f"{year // 100}{nine}{luhn_digit(nine)}", f"{year}-{month:02d}-{day:02d}", gender


def phone(rng: random.Random, mobile: bool) -> str:
    if mobile:
        return f"+4670{rng.randint(0, 9_999_999):07d}"
    return f"+4618{rng.randint(100_000, 999_999)}"


def patient(rng: random.Random, seq: int = 0, rid: str | None = None) -> dict[str, Any]:
    pnr, birth, gender = personnummer(rng)
    given_pool = GIVEN_F if gender == "female" else GIVEN_M
    given = [rng.choice(given_pool), rng.choice(given_pool)]
    family = rng.choice(FAMILY)
    city, postal, kommun, county = rng.choice(CITIES)
    street = f"{rng.choice(STREETS)} {rng.randint(1, 120)}"
    if rng.random() < 0.4:
        street += f" lgh {rng.randint(1001, 1405)}"
    postal_code = f"{postal} {rng.randint(10, 99)}"
    kin_given = rng.choice(GIVEN_F + GIVEN_M)
    kin_family = rng.choice(FAMILY)
    rel_code, rel_display = rng.choice(RELATIONS)
    mar_code, mar_display = rng.choice(MARITAL)
    clinic = rng.choice(CLINICS)
    full = f"{' '.join(given)} {family}"
    resource: dict[str, Any] = {"resourceType": "Patient"}
    if rid is not None:
        resource["id"] = rid
    resource.update(
        {
            "text": {
                "status": "generated",
                "div": (
                    '<div xmlns="http://www.w3.org/1999/xhtml"><p>'
                    f"{full}, född {birth}, {street}, {postal_code} {city}. "
                    f"Listad på {clinic}. Närstående: {kin_given} {kin_family}."
                    "</p></div>"
                ),
            },
            "identifier": [
                {
                    "use": "official",
                    "system": PERSONNUMMER,
                    "value": pnr,
                }
            ],
            "active": True,
            "name": [
                {"use": "official", "text": full, "family": family, "given": given},
                {"use": "usual", "given": [given[0]]},
            ],
            "telecom": [
                {"system": "phone", "value": phone(rng, False), "use": "home"},
                {"system": "phone", "value": phone(rng, True), "use": "mobile", "rank": 1},
                {
                    "system": "email",
                    "value": f"{given[0].lower()}.{family.lower()}{seq % 1000}@exempel.se".replace(
                        "å", "a"
                    )
                    .replace("ä", "a")
                    .replace("ö", "o")
                    .replace("Å", "a")
                    .replace("Ä", "a")
                    .replace("Ö", "o"),
                    "use": "home",
                },
            ],
            "gender": gender,
            "birthDate": birth,
            "address": [
                {
                    "use": "home",
                    "type": "physical",
                    "text": f"{street}, {postal_code} {city}",
                    "line": [street],
                    "city": city,
                    "district": kommun,
                    "state": county,
                    "postalCode": postal_code,
                    "country": "SE",
                }
            ],
            "maritalStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus",
                        "code": mar_code,
                        "display": mar_display,
                    }
                ]
            },
            "contact": [
                {
                    "relationship": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/v2-0131",
                                    "code": rel_code,
                                    "display": rel_display,
                                }
                            ]
                        }
                    ],
                    "name": {"use": "official", "family": kin_family, "given": [kin_given]},
                    "telecom": [{"system": "phone", "value": phone(rng, True), "use": "mobile"}],
                }
            ],
            "communication": [
                {
                    "language": {
                        "coding": [
                            {"system": "urn:ietf:bcp:47", "code": "sv-SE", "display": "Svenska"}
                        ],
                        "text": "svenska",
                    },
                    "preferred": True,
                }
            ],
            "generalPractitioner": [
                {
                    "identifier": {
                        "system": HSA_ID,
                        "value": f"SE2321000032-{rng.randint(1000, 9999)}",
                    },
                    "display": clinic,
                }
            ],
            "managingOrganization": {
                "identifier": {"system": HSA_ID, "value": "SE2321000032-0001"},
                "display": f"Region {county.replace(' län', '')}",
            },
        }
    )
    # Some patients carry more: a temporary address (short-term care) and a second
    # next of kin, so sizes spread from ~1.8 to ~3.3 KB.
    if rng.random() < 0.35:
        t_city, t_postal, t_kommun, t_county = rng.choice(CITIES)
        t_street = f"{rng.choice(STREETS)} {rng.randint(1, 60)}"
        t_code = f"{t_postal} 4{rng.randint(0, 9)}"
        resource["address"].append(
            {
                "use": "temp",
                "type": "physical",
                "text": f"Korttidsboende Solgården, {t_street}, {t_code} {t_city}",
                "line": ["Korttidsboende Solgården", t_street],
                "city": t_city,
                "district": t_kommun,
                "state": t_county,
                "postalCode": t_code,
                "country": "SE",
                "period": {"start": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"},
            }
        )
    if rng.random() < 0.5:
        kin2_given = rng.choice(GIVEN_F + GIVEN_M)
        resource["contact"].append(
            {
                "relationship": [
                    {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/v2-0131",
                                "code": "N",
                                "display": "Next-of-Kin",
                            }
                        ]
                    }
                ],
                "name": {"use": "official", "family": rng.choice(FAMILY), "given": [kin2_given]},
                "telecom": [
                    {"system": "phone", "value": phone(rng, True), "use": "mobile"},
                    {"system": "phone", "value": phone(rng, False), "use": "work"},
                ],
                "address": {
                    "line": [f"{rng.choice(STREETS)} {rng.randint(1, 99)}"],
                    "city": rng.choice(CITIES)[0],
                    "country": "SE",
                },
            }
        )
    return resource


def patient_bytes(rng: random.Random, seq: int = 0, rid: str | None = None) -> bytes:
    return orjson.dumps(patient(rng, seq, rid))


def updated_bytes(rng: random.Random, rid: str, seq: int) -> bytes:
    """A full replacement for Patient/rid: a new body whose `id` is rid, mobile changed."""
    resource = patient(rng, seq, rid)
    resource["telecom"][1]["value"] = phone(rng, True)
    resource["active"] = seq % 7 != 0
    return orjson.dumps(resource)


if __name__ == "__main__":
    r = random.Random(1)
    sizes = [len(patient_bytes(r, i)) for i in range(1000)]
    print(f"min {min(sizes)} max {max(sizes)} mean {sum(sizes) / len(sizes):.0f} bytes")
    print(orjson.dumps(patient(r), option=orjson.OPT_INDENT_2).decode())
