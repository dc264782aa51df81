"""Swedish identifier rules, checked wherever such an identifier or code appears.

- personnummer: 12 digits YYYYMMDDNNNC, a real date, NNN not 000, and C the Luhn check
  digit over YYMMDDNNN (Skatteverket SKV 704);
- samordningsnummer: the same with the day of month plus 60;
- HSA-id: `SE` + a 10-digit organisation number + `-` + a local part of letters and digits;
- kommunkod: a code of the municipality CodeSystem (checked by the caller, which has the
  terminology).
"""

from __future__ import annotations

import datetime
import re

PERSONNUMMER = "http://electronichealth.se/identifier/personnummer"
SAMORDNINGSNUMMER = "http://electronichealth.se/identifier/samordningsnummer"
HSA_ID_SYSTEMS = frozenset({"urn:oid:1.2.752.29.4.19", "urn:oid:1.2.752.129.2.1.4.1"})
KOMMUNKOD = "urn:oid:1.2.752.129.2.2.1.17"
LANSKOD = "urn:oid:1.2.752.129.2.2.1.18"

_TWELVE_DIGITS = re.compile(r"[0-9]{12}")
_HSA_ID = re.compile(r"SE[0-9]{10}-[A-Za-z0-9]+")


def luhn_check_digit(digits: str) -> int:
    total = 0
    for position, char in enumerate(digits):
        product = int(char) * (2 if position % 2 == 0 else 1)
        total += product - 9 if product > 9 else product
    return (10 - total % 10) % 10


def personal_number_problem(value: str, coordination: bool) -> str | None:
    """Why `value` is not a valid personnummer (or samordningsnummer), or None."""
    kind = "samordningsnummer" if coordination else "personnummer"
    if not _TWELVE_DIGITS.fullmatch(value):
        return f"a {kind} has 12 digits (YYYYMMDDNNNC), not '{value}'"
    year, month, day = int(value[:4]), int(value[4:6]), int(value[6:8])
    if coordination:
        if day <= 60:
            return f"the day of a samordningsnummer is the day of birth plus 60: '{value}'"
        day -= 60
    try:
        datetime.date(year, month, day)
    except ValueError:
        return f"'{value}' does not hold a valid date of birth"
    if value[8:11] == "000":
        return f"the birth number of '{value}' must not be 000"
    expected = luhn_check_digit(value[2:11])
    if int(value[11]) != expected:
        return f"the check digit of '{value}' is wrong (expected {expected})"
    return None


def hsa_id_problem(value: str) -> str | None:
    if _HSA_ID.fullmatch(value):
        return None
    return f"an HSA-id is SE + 10-digit organisation number + '-' + local part, not '{value}'"


_WRITTEN_FORMS = re.compile(r"([0-9]{2})?([0-9]{6})([-+]?)([0-9]{4})")


def twelve_digit_form(text: str, today: datetime.date) -> str | None:
    """A personnummer or samordningsnummer as written (YYYYMMDD-NNNC, YYYYMMDDNNNC,
    YYMMDD-NNNC, YYMMDD+NNNC for someone 100 or older, YYMMDDNNNC) in the 12-digit form we
    store, or None when it is none of those forms. The century of a 10-digit form is the
    one that puts the birth date on or before `today` (Skatteverket SKV 704); the number's
    own rules are `personal_number_problem`'s."""
    found = _WRITTEN_FORMS.fullmatch(text.strip())
    if found is None:
        return None
    century, date_part, sign, rest = found.groups()
    if century is not None:
        return century + date_part + rest
    yy, month, day = int(date_part[:2]), int(date_part[2:4]), int(date_part[4:6])
    day = day - 60 if day > 60 else day  # a samordningsnummer's day is the day plus 60
    year = today.year - (today.year - yy) % 100
    if (year, month, day) > (today.year, today.month, today.day):
        year -= 100
    if sign == "+":
        year -= 100
    return f"{year:04d}{date_part[2:]}{rest}"
