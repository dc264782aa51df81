"""$hl7v2-adt (system level): one HL7 v2 ADT message, as the `message` string of a
Parameters body or as the raw ER7 body (text/plain, x-application/hl7-v2+er7), applied as
over MLLP. The answer is a Parameters with the ACK (`ack`), its code (`code`), the
resources written (`written`) and an OperationOutcome (`outcome`): 200 for AA, 422 for AE,
400 for AR; nothing is stored unless AA.
"""

from __future__ import annotations

from starlette.responses import Response

from fhir_server.definitions.content import CANONICAL_BASE
from fhir_server.mappings.adt import ACCEPTED, ERROR, Outcome, process
from fhir_server.outcome import Issue, bad_request, operation_outcome
from fhir_server.rest.operations import SYSTEM, Invocation, Operation
from fhir_server.rest.responses import json_response

NAME = "hl7v2-adt"
_STATUS = {ACCEPTED: 200, ERROR: 422}  # AR: 400


def _issues(outcome: Outcome) -> list[Issue]:
    problem = outcome.problem
    if problem is None:
        written = ", ".join(outcome.written) or "nothing changed"
        return [Issue("information", "informational", f"{outcome.event} applied: {written}")]
    code = "processing" if problem.ack_code == ERROR else "structure"
    text = f"{problem.ack_code}: {problem} (HL7 error {problem.error_code}); nothing was stored"
    return [Issue("error", code, text)]


async def hl7v2_adt(invocation: Invocation) -> Response:
    message = invocation.value("message")
    if not isinstance(message, str) or not message.strip():
        raise bad_request(
            f"${NAME} needs the message: a Parameters 'message' valueString, or the ER7 text"
            " as the body (Content-Type: text/plain or x-application/hl7-v2+er7)",
            "message",
        )
    call = invocation.call
    outcome = await process(call.runtime, call.context, message)
    parameters = [
        {"name": "code", "valueCode": outcome.code},
        {"name": "ack", "valueString": outcome.ack},
        *({"name": "written", "valueReference": {"reference": w}} for w in outcome.written),
        {"name": "outcome", "resource": operation_outcome(_issues(outcome))},
    ]
    return json_response(
        {"resourceType": "Parameters", "parameter": parameters},
        call.negotiated,
        _STATUS.get(outcome.code, 400),
    )


OPERATIONS = [
    Operation(
        name=NAME,
        handler=hl7v2_adt,
        levels=frozenset({SYSTEM}),
        definition=f"{CANONICAL_BASE}/OperationDefinition/{NAME}",
        affects_state=True,
        documentation="An HL7 v2 ADT message (A01, A02, A03, A08, A11, A13) → Patient and"
        " Encounter, mapped by mappings/hl7v2-adt.toml; answers with the HL7 ACK",
        permissions="crus",
        system_types=frozenset({"Patient", "Encounter"}),
        text_input="message",
        text_media_types=frozenset(
            {"text/plain", "x-application/hl7-v2+er7", "application/hl7-v2"}
        ),
    )
]
