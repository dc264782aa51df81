"""Why a message was not accepted: what the ACK's MSA and ERR segments say.

AR (application reject): the message cannot be taken at all — not parseable, not an ADT
message, an event or version we do not support. AE (application error): a message we
understand whose content we cannot apply — a required field missing, a personnummer that is
not one, a visit we do not know. Either way nothing is stored.
"""

from __future__ import annotations

from dataclasses import dataclass

# HL7 table 0357 (message error condition codes)
ERROR_TEXT = {
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "202": "Unsupported processing id",
    "203": "Unsupported version id",
    "204": "Unknown key identifier",
    "205": "Duplicate key identifier",
    "206": "Application record locked",
    "207": "Application internal error",
}


@dataclass
class MessageProblem(Exception):
    ack_code: str  # AE or AR
    segment: str  # where: the segment's name ("" when it is the whole message)
    field: int | None  # the field's position, when one field is the problem
    error_code: str  # HL7 table 0357
    text: str  # what is wrong, for a person
    component: int | None = None

    def __str__(self) -> str:
        return f"{self.location}: {self.text}" if self.location else self.text

    @property
    def location(self) -> str:
        """SEG-n(.c) as people write it."""
        if not self.segment:
            return ""
        if self.field is None:
            return self.segment
        where = f"{self.segment}-{self.field}"
        return f"{where}.{self.component}" if self.component else where

    @classmethod
    def reject(cls, segment: str, field: int | None, code: str, text: str) -> MessageProblem:
        return cls("AR", segment, field, code, text)

    @classmethod
    def error(
        cls,
        segment: str,
        field: int | None,
        code: str,
        text: str,
        component: int | None = None,
    ) -> MessageProblem:
        return cls("AE", segment, field, code, text, component)
