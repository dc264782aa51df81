"""The workflow's reactions to notices, through the REST API (DOMAIN.md "The process and its
clocks"): receivers, Tasks with deadlines, completion, withdrawal, retraction, the state."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from fhir_server.transitions import codes as c
from tests.transitions.conftest import (
    KOMMUN,
    PATIENT,
    STAY,
    VC,
    WARD,
    by_owner,
    kind,
    send,
    state,
    stay,
    tasks_of,
)

ADMITTED = "2026-02-10T09:15:00+01:00"
ESTIMATE = "2026-02-16T12:00:00+01:00"


def admit(client: TestClient) -> dict:
    return send(client, c.INSKRIVNINGSMEDDELANDE, ADMITTED, estimated=ESTIMATE)


def test_admission_notice_finds_receivers_and_makes_their_tasks(party_client: TestClient) -> None:
    notice = admit(party_client)
    # not addressed: the server adds the municipality (kommunkod 0880) and the listing unit,
    # and answers with the notice as stored
    assert [r["reference"] for r in notice["recipient"]] == [KOMMUN, VC]
    stored = party_client.get(f"/Communication/{notice['id']}").json()
    assert [r["reference"] for r in stored["recipient"]] == [KOMMUN, VC]
    tasks = tasks_of(party_client)
    assert by_owner(tasks) == {
        (c.KVITTERA, KOMMUN, "requested"),
        (c.KVITTERA, VC, "requested"),
        (c.PABORJA_PLANERING, KOMMUN, "requested"),
        (c.PABORJA_PLANERING, VC, "requested"),
        (c.UTSE_FAST_VARDKONTAKT, VC, "requested"),
    }
    due = {(kind(t), t["owner"]["reference"]): t["restriction"]["period"]["end"] for t in tasks}
    # deadlines from workflow_rules.toml: kvittera 12 h, planning 24 h; fast vårdkontakt
    # before the estimated discharge
    assert due[(c.KVITTERA, KOMMUN)] == "2026-02-10T21:15:00+01:00"
    assert due[(c.PABORJA_PLANERING, VC)] == "2026-02-11T09:15:00+01:00"
    assert due[(c.UTSE_FAST_VARDKONTAKT, VC)] == ESTIMATE
    for task in tasks:
        assert task["for"]["reference"] == PATIENT and task["encounter"]["reference"] == STAY
        assert task["requester"]["reference"] == WARD
        assert task["businessStatus"]["coding"][0]["code"] == c.I_TID
        assert task["meta"]["profile"] == [
            f"https://lus.example.se/fhir/StructureDefinition/lus-task-{kind(task)}"
        ]
    assert state(party_client) == c.PLANERING
    extensions = {e["url"].rsplit("/", 1)[1]: e for e in stay(party_client)["extension"]}
    assert extensions["lus-estimated-discharge"]["valueDateTime"] == ESTIMATE


def test_server_made_tasks_meet_their_profiles(party_client: TestClient) -> None:
    admit(party_client)
    for task in tasks_of(party_client):
        checked = party_client.post("/Task/$validate", json=task).json()
        errors = [i for i in checked["issue"] if i["severity"] in ("error", "fatal")]
        assert errors == [], (kind(task), errors)


def test_patient_registered_in_another_county_gets_their_own_municipality(
    party_client: TestClient,
) -> None:
    # the notice's registered address (law content) says Göteborg (1480, Västra Götaland)
    notice = send(
        party_client, c.INSKRIVNINGSMEDDELANDE, ADMITTED, estimated=ESTIMATE, kommunkod="1480"
    )
    found = party_client.get("/Organization?identifier=urn:oid:1.2.752.129.2.2.1.17|1480").json()
    assert found["total"] == 1
    goteborg = found["entry"][0]["resource"]
    assert goteborg["name"] == "Göteborg kommun"
    stored = party_client.get(f"/Communication/{notice['id']}").json()
    receivers = [r["reference"] for r in stored["recipient"]]
    assert receivers == [f"Organization/{goteborg['id']}", VC]
    assert KOMMUN not in receivers


def test_addressed_receivers_are_kept(party_client: TestClient) -> None:
    notice = send(
        party_client,
        c.INSKRIVNINGSMEDDELANDE,
        ADMITTED,
        estimated=ESTIMATE,
        recipients=(KOMMUN,),
    )
    assert [r["reference"] for r in notice["recipient"]] == [KOMMUN, VC]
    assert notice["meta"]["versionId"] == "2"  # the server added the listing unit


def test_utskrivningsklar_before_any_admission_notice_is_refused(
    party_client: TestClient,
) -> None:
    from tests.support import lus

    notice = lus.notice(c.UTSKRIVNINGSKLAR, STAY, ADMITTED, patient=PATIENT, sender=WARD)
    answer = party_client.post("/Communication", json=notice)
    assert answer.status_code == 422
    issue = answer.json()["issue"][0]
    assert issue["code"] == "business-rule"
    assert "inskrivningsmeddelande first" in issue["diagnostics"]
    assert party_client.get("/Communication").json()["total"] == 0
    assert tasks_of(party_client) == []
    assert state(party_client) == c.INSKRIVEN


def test_utskrivningsklar_starts_the_clock_and_calls_to_sip_within_three_days(
    party_client: TestClient,
) -> None:
    admit(party_client)
    # sent before the spring change (2026-03-29): due 3 calendar days later, same wall time
    ready = send(party_client, c.UTSKRIVNINGSKLAR, "2026-03-27T10:00:00+01:00")
    assert state(party_client) == c.STATE_UTSKRIVNINGSKLAR
    extensions = {e["url"].rsplit("/", 1)[1]: e for e in stay(party_client)["extension"]}
    assert extensions["lus-utskrivningsklar-time"]["valueDateTime"] == ready["sent"]
    sip = [t for t in tasks_of(party_client) if kind(t) == c.KALLA_TILL_SIP]
    assert [(t["owner"]["reference"], t["status"]) for t in sip] == [(VC, "requested")]
    assert sip[0]["restriction"]["period"]["end"] == "2026-03-30T10:00:00+02:00"
    assert sip[0]["focus"]["reference"] == f"Communication/{ready['id']}"
    # the receivers acknowledge this notice too
    acks = tasks_of(party_client, f"&focus=Communication/{ready['id']}&code={c.TASK_TYPE}|kvittera")
    assert {t["owner"]["reference"] for t in acks} == {KOMMUN, VC}


def test_withdrawal_stops_the_clock_and_a_second_notice_starts_a_new_one(
    party_client: TestClient,
) -> None:
    admit(party_client)
    first = send(party_client, c.UTSKRIVNINGSKLAR, "2026-02-14T10:00:00+01:00")
    send(party_client, c.UTSKRIVNINGSKLAR_ATERKALLAD, "2026-02-14T18:00:00+01:00")
    assert state(party_client) == c.ATERKALLAD
    urls = [e["url"] for e in stay(party_client)["extension"]]
    assert not any(u.endswith("/lus-utskrivningsklar-time") for u in urls)
    sip = [t for t in tasks_of(party_client) if kind(t) == c.KALLA_TILL_SIP]
    assert [(t["status"], t["statusReason"]["text"]) for t in sip] == [
        ("cancelled", "Utskrivningsklar återkallad")
    ]
    second = send(party_client, c.UTSKRIVNINGSKLAR, "2026-02-16T08:30:00+01:00")
    assert state(party_client) == c.STATE_UTSKRIVNINGSKLAR
    sip = {
        t["focus"]["reference"]: t["status"]
        for t in tasks_of(party_client)
        if kind(t) == c.KALLA_TILL_SIP
    }
    assert sip == {
        f"Communication/{first['id']}": "cancelled",
        f"Communication/{second['id']}": "requested",
    }
    # a second withdrawal of the same clock is fine; utskrivningsklar twice in a row is not
    from tests.support import lus

    again = lus.notice(c.UTSKRIVNINGSKLAR, STAY, "2026-02-16T09:00:00+01:00", sender=WARD)
    assert party_client.post("/Communication", json=again).status_code == 422


def test_acknowledgement_completes_the_receivers_task_with_its_time(
    party_client: TestClient,
) -> None:
    notice = admit(party_client)
    ref = f"Communication/{notice['id']}"
    ack = send(
        party_client,
        c.KVITTENS,
        "2026-02-10T10:02:00+01:00",
        sender=KOMMUN,
        recipients=(WARD,),
        in_response_to=ref,
    )
    kvittera = {t["owner"]["reference"]: t for t in tasks_of(party_client) if kind(t) == c.KVITTERA}
    done = kvittera[KOMMUN]
    assert done["status"] == "completed"
    assert done["executionPeriod"]["end"] == "2026-02-10T10:02:00+01:00"
    assert done["output"][0]["valueReference"]["reference"] == f"Communication/{ack['id']}"
    assert done["businessStatus"]["coding"][0]["code"] == c.I_TID
    assert kvittera[VC]["status"] == "requested"  # the other receiver's is still open


def test_completing_the_task_directly_records_the_time(party_client: TestClient) -> None:
    admit(party_client)
    task = next(t for t in tasks_of(party_client) if kind(t) == c.PABORJA_PLANERING)
    task["status"] = "completed"
    answer = party_client.put(f"/Task/{task['id']}", json=task)
    assert answer.status_code == 200, answer.text
    stored = party_client.get(f"/Task/{task['id']}").json()
    assert stored["executionPeriod"]["end"].startswith("20")
    # done long after the 24 h deadline (in 2026-02): a missed deadline, recorded
    assert stored["businessStatus"]["coding"][0]["code"] == c.FORSENAD
    issues = party_client.get(f"/DetectedIssue?implicated=Task/{task['id']}").json()
    assert issues["total"] == 1


def test_receivers_notices_complete_their_obligations(party_client: TestClient) -> None:
    admit(party_client)
    send(party_client, c.PLANERING_PABORJAD, "2026-02-10T11:00:00+01:00", sender=KOMMUN)
    send(party_client, c.FAST_VARDKONTAKT_UTSEDD, "2026-02-11T11:00:00+01:00", sender=VC)
    send(party_client, c.UTSKRIVNINGSKLAR, "2026-02-15T10:00:00+01:00")
    send(party_client, c.SIP_KALLELSE, "2026-02-16T10:00:00+01:00", sender=VC)
    status = {(kind(t), t["owner"]["reference"]): t["status"] for t in tasks_of(party_client)}
    assert status[(c.PABORJA_PLANERING, KOMMUN)] == "completed"
    assert status[(c.PABORJA_PLANERING, VC)] == "requested"
    assert status[(c.UTSE_FAST_VARDKONTAKT, VC)] == "completed"
    assert status[(c.KALLA_TILL_SIP, VC)] == "completed"


def test_retraction_cancels_the_tasks_and_reverts_the_state(party_client: TestClient) -> None:
    admit(party_client)
    ready = send(party_client, c.UTSKRIVNINGSKLAR, "2026-02-15T10:00:00+01:00")
    ready["status"] = "entered-in-error"
    answer = party_client.put(f"/Communication/{ready['id']}", json=ready)
    assert answer.status_code == 200, answer.text
    assert state(party_client) == c.PLANERING
    caused = tasks_of(party_client, f"&focus=Communication/{ready['id']}")
    assert caused and {t["status"] for t in caused} == {"cancelled"}
    assert {t["statusReason"]["text"] for t in caused} == {"Meddelandet makulerat"}
    urls = [e["url"] for e in stay(party_client)["extension"]]
    assert not any(u.endswith("/lus-utskrivningsklar-time") for u in urls)


def test_a_notice_is_never_deleted(party_client: TestClient) -> None:
    notice = admit(party_client)
    answer = party_client.delete(f"/Communication/{notice['id']}")
    assert answer.status_code == 405
    assert "entered-in-error" in answer.json()["issue"][0]["diagnostics"]
    assert party_client.get(f"/Communication/{notice['id']}").status_code == 200


def test_the_state_is_the_servers(party_client: TestClient) -> None:
    admit(party_client)
    encounter = stay(party_client)
    for extension in encounter["extension"]:
        if extension["url"].endswith("/lus-state"):
            extension["valueCoding"]["code"] = c.STATE_UTSKRIVNINGSKLAR
    answer = party_client.put(f"/{STAY}", json=encounter)
    assert answer.status_code == 422
    assert "follows the stay's notices" in answer.json()["issue"][0]["diagnostics"]
    assert state(party_client) == c.PLANERING
    # without the extension the server fills it in
    encounter["extension"] = [e for e in encounter["extension"] if "lus-state" not in e["url"]]
    encounter["location"] = [{"location": {"display": "Avd 12, sal 3"}}]
    assert party_client.put(f"/{STAY}", json=encounter).status_code == 200
    assert state(party_client) == c.PLANERING


def test_discharge_notice_closes_the_stay(party_client: TestClient) -> None:
    admit(party_client)
    send(party_client, c.UTSKRIVNINGSKLAR, "2026-02-15T10:00:00+01:00")
    send(party_client, c.UTSKRIVNINGSMEDDELANDE, "2026-02-17T13:40:00+01:00")
    encounter = stay(party_client)
    assert state(party_client) == c.UTSKRIVEN
    assert encounter["status"] == "finished"
    assert encounter["period"]["end"] == "2026-02-17T13:40:00+01:00"
    # after discharge: no new utskrivningsklar
    from tests.support import lus

    late = lus.notice(c.UTSKRIVNINGSKLAR, STAY, "2026-02-18T09:00:00+01:00", sender=WARD)
    assert party_client.post("/Communication", json=late).status_code == 422


def test_stay_in_error_cancels_every_open_task(party_client: TestClient) -> None:
    admit(party_client)
    encounter = stay(party_client)
    encounter["status"] = "entered-in-error"
    encounter["extension"] = [e for e in encounter["extension"] if "lus-state" not in e["url"]]
    assert party_client.put(f"/{STAY}", json=encounter).status_code == 200
    assert state(party_client) == c.MAKULERAD
    tasks = tasks_of(party_client)
    assert tasks and {t["status"] for t in tasks} == {"cancelled"}


def test_discharge_by_the_ward_without_notice_asks_for_one(party_client: TestClient) -> None:
    admit(party_client)
    encounter = stay(party_client)
    encounter["status"] = "finished"
    encounter["period"]["end"] = "2026-02-17T13:40:00+01:00"
    encounter["extension"] = [e for e in encounter["extension"] if "lus-state" not in e["url"]]
    assert party_client.put(f"/{STAY}", json=encounter).status_code == 200
    assert state(party_client) == c.UTSKRIVEN
    due = [t for t in tasks_of(party_client) if kind(t) == c.SKICKA_UTSKRIVNINGSMEDDELANDE]
    assert [(t["owner"]["reference"], t["restriction"]["period"]["end"]) for t in due] == [
        (WARD, "2026-02-17T23:59:59+01:00")
    ]
    # the fast vårdkontakt is due by the discharge at the latest
    fvk = next(t for t in tasks_of(party_client) if kind(t) == c.UTSE_FAST_VARDKONTAKT)
    assert fvk["restriction"]["period"]["end"] == ESTIMATE  # the estimate was earlier
    send(party_client, c.UTSKRIVNINGSMEDDELANDE, "2026-02-17T15:00:00+01:00")
    due = [t for t in tasks_of(party_client) if kind(t) == c.SKICKA_UTSKRIVNINGSMEDDELANDE]
    assert [t["status"] for t in due] == ["completed"]


def test_a_whole_admission_in_one_transaction(party_client: TestClient) -> None:
    from tests.support import lus

    bundle = lus.transaction(
        lus.patient("p2", "195001012383", kommunkod="0880", listed_at=VC),
        lus.encounter("stay2", "Patient/p2", ward=WARD, start=ADMITTED),
        lus.notice(
            c.INSKRIVNINGSMEDDELANDE,
            "Encounter/stay2",
            ADMITTED,
            patient="Patient/p2",
            sender=WARD,
            estimated=ESTIMATE,
        ),
    )
    answer = party_client.post("/", json=bundle)
    assert answer.status_code == 200, answer.text
    found = party_client.get("/Task?encounter=Encounter/stay2").json()
    assert found["total"] == 5
    assert state(party_client, "Encounter/stay2") == c.PLANERING


def test_a_notice_meets_its_profile_without_claiming_it(party_client: TestClient) -> None:
    from tests.support import lus

    notice = lus.notice(c.INSKRIVNINGSMEDDELANDE, STAY, ADMITTED, patient=PATIENT)
    assert "meta" not in notice
    del notice["subject"]["identifier"]  # the personnummer the law requires
    answer = party_client.post("/Communication", json=notice)
    assert answer.status_code == 422
    issue = answer.json()["issue"][0]
    assert "(lus-inskrivningsmeddelande)" in issue["diagnostics"]
    assert issue["expression"] == ["Communication.subject.identifier"]
    assert party_client.get("/Communication").json()["total"] == 0
    assert tasks_of(party_client) == []


def test_profiles_of_lus_resources_can_be_turned_off(fast_clocks: Any) -> None:
    from fhir_server.app import create_app
    from tests.support import lus

    relaxed = fast_clocks.model_copy(update={"lus_profiles_on_write": False})
    with TestClient(create_app(relaxed)) as client:
        client.put("/Encounter/stay", json=lus.encounter("stay"))
        notice = lus.notice(c.INSKRIVNINGSMEDDELANDE, STAY, ADMITTED)
        del notice["subject"]["identifier"]
        assert client.post("/Communication", json=notice).status_code == 201
