"""The ER7 parser: separators from MSH-1/MSH-2, fields, repetitions, components,
subcomponents, escape sequences, segment terminators."""

from __future__ import annotations

import pytest

from fhir_server.mappings.er7 import Separators, escape, parse, unescape
from fhir_server.mappings.problems import MessageProblem

MSH = "MSH|^~\\&|PAS|KALMAR|LUS|REGION|20260209142000||ADT^A01^ADT_A01|C1|P|2.5"


def test_fields_components_repetitions_and_subcomponents() -> None:
    message = parse(
        MSH + "\rPID|1||191212121212^^^&1.2.752.129.2.1.3.1&ISO^NNSWE~4711^^^PAS^PI||A^B\r"
    )
    msh, pid = message.msh, message.segment("PID")
    assert pid is not None
    assert msh.value(1) == "|" and msh.value(2) == "^~\\&"
    assert msh.value(3) == "PAS" and msh.value(9, 2) == "A01" and message.control_id == "C1"
    assert message.version == "2.5"
    ids = pid.field(3).repetitions
    assert [r.get(1) for r in ids] == ["191212121212", "4711"]
    assert ids[0].get(4, 2) == "1.2.752.129.2.1.3.1" and ids[0].get(4, 3) == "ISO"
    assert ids[0].get(4, 1) == "" and ids[1].get(4) == "PAS" and ids[1].get(5) == "PI"
    assert pid.value(5, 2) == "B" and pid.value(5, 9) == "" and pid.value(40) == ""


def test_escape_sequences() -> None:
    pid = parse(
        MSH
        + "\rPID|1||x||Lind\\T\\qvist\\S\\Karin|Ö\\F\\\\R\\ \\E\\ \\.br\\\\X4142\\\\H\\b\\N\\\\Z1\\"
    ).segment("PID")
    assert pid is not None
    assert pid.value(5, 1) == "Lind&qvist^Karin"
    assert pid.value(6) == "Ö|~ \\ \nABb\\Z1\\"


def test_separators_are_the_messages_own() -> None:
    text = "MSH#*@!$#PAS#KALMAR#LUS#R#2026##ADT*A08#C2#P#2.5\rPID#1##A!F!B*C$D@E"
    message = parse(text)
    pid = message.segment("PID")
    assert pid is not None
    assert message.seps == Separators("#", "*", "@", "!", "$")
    assert message.msh.value(9, 2) == "A08"
    first, second = pid.field(3).repetitions
    assert first.get(1) == "A#B" and first.get(2, 2) == "D" and second.get(1) == "E"


@pytest.mark.parametrize("end", ["\r", "\n", "\r\n"])
def test_segment_terminators_cr_lf_crlf(end: str) -> None:
    message = parse(end.join([MSH, "EVN|A01|2026", "PID|1||x", ""]) + end)
    assert [s.name for s in message.segments] == ["MSH", "EVN", "PID"]


def test_null_is_told_from_empty() -> None:
    pid = parse(MSH + '\rPID|1||x|""|').segment("PID")
    assert pid is not None
    assert pid.field(4).null and not pid.field(5).null and pid.field(5).empty


def test_v27_truncation_character() -> None:
    message = parse("MSH|^~\\&#|PAS|K|L|R|2026||ADT^A01|C|P|2.7\rPID|1||a\\P\\b")
    assert message.seps.truncation == "#"
    pid = message.segment("PID")
    assert pid is not None and pid.value(3) == "a#b"


@pytest.mark.parametrize(
    ("text", "field", "code"),
    [
        ("PID|1||x", 1, "100"),  # no MSH
        ("", 1, "100"),
        ("MSHA^~\\&|x", 1, "102"),  # a letter as field separator
        ("MSH|^~\\|PAS", 2, "102"),  # three encoding characters
        ("MSH|^^\\&|PAS", 2, "102"),  # the same character twice
        ("MSH|^~|&|PAS", 2, "102"),  # the field separator among them: "^~" is too short
        ("MSH|^~\\A|PAS", 2, "102"),  # a letter
    ],
)
def test_bad_separators_are_rejected_naming_msh(text: str, field: int, code: str) -> None:
    with pytest.raises(MessageProblem) as caught:
        parse(text)
    problem = caught.value
    assert (problem.ack_code, problem.segment, problem.field, problem.error_code) == (
        "AR",
        "MSH",
        field,
        code,
    )


def test_a_line_that_is_no_segment_is_rejected() -> None:
    with pytest.raises(MessageProblem) as caught:
        parse(MSH + "\rhello world\r")
    assert caught.value.ack_code == "AR" and "Segment 2" in caught.value.text


def test_escape_round_trips() -> None:
    seps = Separators()
    text = "a|b^c~d\\e&f\ng"
    escaped = escape(text, seps)
    assert not set("|^~&") & set(escaped.replace("\\", ""))
    assert unescape(escaped, seps) == text
