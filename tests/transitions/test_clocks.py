"""The LUS clocks: Tasks past their deadline turn forsenad and every miss is a deviation
(DetectedIssue) listed per party and period; deadlines in Swedish time across DST."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from starlette.testclient import TestClient

from fhir_server.transitions import codes as c
from fhir_server.transitions.clock import DeadlineRule, fhir_instant, instant
from tests.transitions.conftest import KOMMUN, VC, kind, send, tasks_of


def _wait_for(client: TestClient, query: str, count: int) -> dict:
    """Poll (bounded: 10 s) until the search finds `count` resources."""
    deadline = time.monotonic() + 10
    while True:
        found = client.get(query).json()
        if found["total"] == count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_overdue_tasks_are_marked_and_recorded_once(clock_client: TestClient) -> None:
    # sent in February: every deadline of the admission notice has passed
    send(
        clock_client,
        c.INSKRIVNINGSMEDDELANDE,
        "2026-02-10T09:15:00+01:00",
        estimated="2026-02-16T12:00:00+01:00",
    )
    overdue = _wait_for(clock_client, f"/Task?business-status={c.FORSENAD}", 5)
    assert overdue["total"] == 5
    tasks = tasks_of(clock_client)
    assert {t["businessStatus"]["coding"][0]["code"] for t in tasks} == {c.FORSENAD}
    assert {t["status"] for t in tasks} == {"requested"}  # still to do, but late
    # the deviations of the municipality in February 2026
    query = f"/DetectedIssue?implicated={KOMMUN}&identified=ge2026-02-01&identified=lt2026-03-01"
    municipality = clock_client.get(query).json()
    missed = sorted(e["resource"]["code"]["coding"][0]["code"] for e in municipality["entry"])
    assert missed == [c.KVITTERA, c.PABORJA_PLANERING]
    issue = municipality["entry"][0]["resource"]
    assert issue["patient"]["reference"] == "Patient/tolvan"
    assert issue["detail"].startswith("Tidsfristen 2026-02-1")
    assert clock_client.get(f"/DetectedIssue?implicated={VC}").json()["total"] == 3
    before = f"/DetectedIssue?implicated={KOMMUN}&identified=lt2026-02-10"
    assert clock_client.get(before).json()["total"] == 0
    time.sleep(0.6)  # three more rounds of the clocks: nothing twice
    assert clock_client.get("/DetectedIssue").json()["total"] == 5


def test_tasks_not_yet_due_stay_in_time(clock_client: TestClient) -> None:
    now = datetime.now(UTC)
    send(
        clock_client,
        c.INSKRIVNINGSMEDDELANDE,
        fhir_instant(now),
        estimated=fhir_instant(now + timedelta(days=5)),
    )
    time.sleep(0.6)
    tasks = tasks_of(clock_client)
    assert len(tasks) == 5
    assert {t["businessStatus"]["coding"][0]["code"] for t in tasks} == {c.I_TID}
    assert clock_client.get("/DetectedIssue").json()["total"] == 0


def test_a_completed_task_is_not_marked(clock_client: TestClient) -> None:
    notice = send(
        clock_client,
        c.INSKRIVNINGSMEDDELANDE,
        "2026-02-10T09:15:00+01:00",
        estimated="2026-02-16T12:00:00+01:00",
    )
    # the municipality acknowledged in time
    send(
        clock_client,
        c.KVITTENS,
        "2026-02-10T10:00:00+01:00",
        sender=KOMMUN,
        in_response_to=f"Communication/{notice['id']}",
    )
    _wait_for(clock_client, f"/Task?business-status={c.FORSENAD}", 4)
    ack = next(
        t
        for t in tasks_of(clock_client)
        if kind(t) == c.KVITTERA and t["owner"]["reference"] == KOMMUN
    )
    assert ack["status"] == "completed"
    assert ack["businessStatus"]["coding"][0]["code"] == c.I_TID


def test_deadlines_count_swedish_calendar_days_across_daylight_saving() -> None:
    three_days = DeadlineRule(days=3)
    # spring forward (2026-03-29 02:00 → 03:00): 3 days is 71 hours
    spring = instant("2026-03-27T10:00:00+01:00")
    assert fhir_instant(three_days.due(spring)) == "2026-03-30T10:00:00+02:00"
    assert three_days.due(spring) - spring == timedelta(hours=71)
    # fall back (2026-10-25 03:00 → 02:00): 3 days is 73 hours
    autumn = instant("2026-10-23T16:30:00+02:00")
    assert fhir_instant(three_days.due(autumn)) == "2026-10-26T16:30:00+01:00"
    assert three_days.due(autumn) - autumn == timedelta(hours=73)
    # 24 h is elapsed time, whatever the clock on the wall says
    assert fhir_instant(DeadlineRule(hours=24).due(spring + timedelta(days=1))) == (
        "2026-03-29T11:00:00+02:00"
    )
    # an end-of-day deadline on the day of the change
    end_of_day = DeadlineRule(days=0, at="23:59:59")
    assert fhir_instant(end_of_day.due(instant("2026-10-25T01:30:00+02:00"))) == (
        "2026-10-25T23:59:59+01:00"
    )
    # a notice sent in UTC counts in Swedish days
    late_evening = instant("2026-01-31T23:30:00Z")  # 00:30 on 1 February in Sweden
    assert fhir_instant(DeadlineRule(days=1, at="12:00").due(late_evening)) == (
        "2026-02-02T12:00:00+01:00"
    )
