"""The acknowledgment (ACK) of a message, original acknowledgment mode (HL7 v2.5 2.9.2).

MSH with the sending and receiving application and facility swapped, MSA with AA, AE or AR
and the control id of the message acknowledged, and for AE/AR an ERR naming the problem:
ERR-1 (the v2.3/2.4 form: segment^sequence^field^code&text) for older receivers, and
ERR-2 location, ERR-3 HL7 error code (table 0357), ERR-4 severity, ERR-8 the text (v2.5+).
MSA-3 repeats the text for receivers that show only the MSA.
"""

from __future__ import annotations

import datetime
import uuid
from zoneinfo import ZoneInfo

from fhir_server.mappings.er7 import Message, Separators, escape
from fhir_server.mappings.problems import ERROR_TEXT, MessageProblem
from fhir_server.mappings.rules import AdtMapping

DEFAULT_VERSION = "2.5"
SEGMENT_END = "\r"


def _field(values: list[str], seps: Separators) -> str:
    return seps.component.join(values).rstrip(seps.component)


def acknowledgment(
    message: Message | None,
    code: str,
    mapping: AdtMapping,
    problem: MessageProblem | None = None,
    text: str = "",
) -> str:
    """The ACK text (segments ended by CR) for `message` (None: it could not be read)."""
    seps = message.seps if message is not None else Separators()
    msh = message.msh if message is not None else None

    def original(number: int, component: int = 1) -> str:
        return escape(msh.value(number, component), seps) if msh is not None else ""

    def own(value: str) -> str:
        return escape(value, seps)

    sent = datetime.datetime.now(ZoneInfo(mapping.timezone)).strftime("%Y%m%d%H%M%S%z")
    version = original(12) or DEFAULT_VERSION
    event = original(9, 2)
    header = [
        "MSH",
        seps.encoding_characters,
        original(5) or own(mapping.application),
        original(6) or own(mapping.facility),
        original(3),
        original(4),
        sent,
        "",
        _field(["ACK", event, "ACK"] if event else ["ACK"], seps),
        uuid.uuid4().hex[:20],
        original(11) or "P",
        version,
    ]
    summary = problem.text if problem is not None else text
    segments = [
        seps.field.join(header),
        seps.field.join(["MSA", code, original(10), own(summary)]).rstrip(seps.field),
    ]
    if problem is not None:
        segments.append(_err(problem, seps))
    return SEGMENT_END.join(segments) + SEGMENT_END


def _err(problem: MessageProblem, seps: Separators) -> str:
    sub = seps.subcomponent
    code = problem.error_code
    code_text = escape(ERROR_TEXT.get(code, ""), seps)
    field = str(problem.field) if problem.field is not None else ""
    component = str(problem.component) if problem.component is not None else ""
    segment = problem.segment
    sequence = "1" if segment else ""
    text = escape(problem.text, seps)
    # ERR-1 (ELD, before v2.5): segment^sequence^field^code&text&HL70357
    eld = _field([segment, sequence, field, sub.join([code, code_text, "HL70357"])], seps)
    # ERR-2 (ERL): segment^sequence^field^repetition^component
    erl = _field([segment, sequence, field, "1" if field else "", component], seps)
    cwe = _field([code, code_text, "HL70357"], seps)
    return seps.field.join(["ERR", eld, erl, cwe, "E", "", "", "", text])
