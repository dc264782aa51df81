"""SMART scopes decide each interaction: the permission it needs lets it through (2xx or an
ordinary 4xx), any other set of permissions gets 403 with a Bearer challenge."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.responses import Response
from starlette.testclient import TestClient

from fhir_server.auth.scopes import Scope, grantable, parse_scope
from fhir_server.rest import operations
from fhir_server.rest.responses import json_response

PATIENT = {"resourceType": "Patient", "name": [{"family": "Berg"}]}
ALL = "system/*.cruds"


@pytest.fixture
def patient_id(secure: TestClient, token_for: Any) -> str:
    return str(secure.post("/Patient", json=PATIENT, headers=token_for(ALL)).json()["id"])


def _requests(pid: str) -> dict[str, Callable[[TestClient, dict[str, str]], Any]]:
    """Each interaction, and the one v2 permission it needs on Patient."""
    body = {**PATIENT, "id": pid}
    patch = [{"op": "replace", "path": "/name/0/family", "value": "Ek"}]
    return {
        "r read": lambda c, h: c.get(f"/Patient/{pid}", headers=h),
        "r vread": lambda c, h: c.get(f"/Patient/{pid}/_history/1", headers=h),
        "r history-instance": lambda c, h: c.get(f"/Patient/{pid}/_history", headers=h),
        "s search-type": lambda c, h: c.get("/Patient?family=Berg", headers=h),
        "s search-post": lambda c, h: c.post(
            "/Patient/_search", data={"family": "Berg"}, headers=h
        ),
        "s history-type": lambda c, h: c.get("/Patient/_history", headers=h),
        "c create": lambda c, h: c.post("/Patient", json=PATIENT, headers=h),
        "u update": lambda c, h: c.put(f"/Patient/{pid}", json=body, headers=h),
        "u patch": lambda c, h: c.patch(
            f"/Patient/{pid}",
            json=patch,
            headers={**h, "Content-Type": "application/json-patch+json"},
        ),
        "cs conditional-create": lambda c, h: c.post(
            "/Patient", json=PATIENT, headers={**h, "If-None-Exist": "family=Nobody"}
        ),
        "us conditional-update": lambda c, h: c.put(f"/Patient?_id={pid}", json=PATIENT, headers=h),
        "ds conditional-delete": lambda c, h: c.delete("/Patient?family=Nobody", headers=h),
        "d delete": lambda c, h: c.delete(f"/Patient/{pid}", headers=h),
    }


def _assert_403(answer: Any) -> None:
    assert answer.status_code == 403, answer.text
    assert answer.json()["issue"][0]["code"] == "forbidden"
    assert 'error="insufficient_scope"' in answer.headers["www-authenticate"]
    assert "Berg" not in answer.text


def test_scope_matrix(secure: TestClient, patient_id: str, token_for: Any) -> None:
    for name, send in _requests(patient_id).items():
        needed, interaction = name.split(" ")
        allowed = send(secure, token_for(f"system/Patient.{needed}"))
        assert allowed.status_code < 400, (interaction, allowed.text)
        for letter in "cruds":
            if letter in needed:
                continue
            others = "".join(x for x in "cruds" if x not in needed)
            _assert_403(send(secure, token_for(f"system/Patient.{others}")))
            break
        # a scope on another type does not help
        _assert_403(send(secure, token_for("system/Observation.cruds")))


def test_each_missing_letter_is_refused(
    secure: TestClient, patient_id: str, token_for: Any
) -> None:
    for name, send in _requests(patient_id).items():
        needed = name.split(" ")[0]
        for missing in needed:
            partial = "".join(x for x in "cruds" if x != missing)
            _assert_403(send(secure, token_for(f"system/Patient.{partial}")))


def test_v1_scopes(secure: TestClient, patient_id: str, token_for: Any) -> None:
    read = token_for("system/Patient.read")
    assert secure.get(f"/Patient/{patient_id}", headers=read).status_code == 200
    assert secure.get("/Patient", headers=read).status_code == 200
    _assert_403(secure.post("/Patient", json=PATIENT, headers=read))
    write = token_for("system/Patient.write")
    assert secure.post("/Patient", json=PATIENT, headers=write).status_code == 201
    _assert_403(secure.get(f"/Patient/{patient_id}", headers=write))
    star = token_for("system/*.*")
    assert secure.get(f"/Patient/{patient_id}", headers=star).status_code == 200


def test_update_that_creates_needs_create(secure: TestClient, token_for: Any) -> None:
    body = {**PATIENT, "id": "new-one"}
    _assert_403(secure.put("/Patient/new-one", json=body, headers=token_for("system/Patient.u")))
    assert secure.get("/Patient/new-one", headers=token_for(ALL)).status_code == 404
    made = secure.put("/Patient/new-one", json=body, headers=token_for("system/Patient.cu"))
    assert made.status_code == 201


def test_system_history_needs_every_type(secure: TestClient, token_for: Any) -> None:
    _assert_403(secure.get("/_history", headers=token_for("system/Patient.rs")))
    assert secure.get("/_history", headers=token_for("system/*.s")).status_code == 200


def test_patient_scopes_need_a_patient(secure: TestClient, patient_id: str, token_for: Any) -> None:
    _assert_403(secure.get(f"/Patient/{patient_id}", headers=token_for("patient/Patient.r")))
    mine = token_for("patient/Patient.rs", patient=patient_id)
    assert secure.get(f"/Patient/{patient_id}", headers=mine).status_code == 200


# batch and transaction -------------------------------------------------------------------


def _bundle(kind: str, pid: str) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {"request": {"method": "GET", "url": f"Patient/{pid}"}},
            {
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"text": "Vikt"},
                },
                "request": {"method": "POST", "url": "Observation"},
            },
            {
                "resource": {**PATIENT, "id": pid},
                "request": {"method": "PUT", "url": f"Patient/{pid}"},
            },
        ],
    }


def test_batch_entries_are_checked_one_by_one(
    secure: TestClient, patient_id: str, token_for: Any
) -> None:
    headers = token_for("system/Patient.r system/Observation.c")
    answer = secure.post("/", json=_bundle("batch", patient_id), headers=headers)
    assert answer.status_code == 200
    statuses = [e["response"]["status"] for e in answer.json()["entry"]]
    assert statuses[0].startswith("200") and statuses[1].startswith("201")
    assert statuses[2].startswith("403")  # no Patient.u
    outcome = answer.json()["entry"][2]["response"]["outcome"]
    assert outcome["issue"][0]["expression"] == ["Bundle.entry[2]"]


def test_transaction_with_one_forbidden_entry_fails_whole(
    secure: TestClient, patient_id: str, token_for: Any
) -> None:
    headers = token_for("system/Patient.r system/Observation.cs")
    answer = secure.post("/", json=_bundle("transaction", patient_id), headers=headers)
    _assert_403(answer)
    assert answer.json()["issue"][0]["expression"] == ["Bundle.entry[2]"]
    found = secure.get("/Observation", headers=token_for("system/Observation.s"))
    assert found.json()["total"] == 0  # nothing of it was stored
    allowed = token_for("system/Patient.ru system/Observation.c")
    answer = secure.post("/", json=_bundle("transaction", patient_id), headers=allowed)
    assert answer.status_code == 200


def test_conditional_entries_need_search(
    secure: TestClient, patient_id: str, token_for: Any
) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": PATIENT,
                "request": {"method": "POST", "url": "Patient", "ifNoneExist": "family=Berg"},
            }
        ],
    }
    _assert_403(secure.post("/", json=bundle, headers=token_for("system/Patient.c")))
    assert secure.post("/", json=bundle, headers=token_for("system/Patient.cs")).status_code == 200


# operations -------------------------------------------------------------------------------


async def _answer(invocation: operations.Invocation) -> Response:
    return json_response({"resourceType": "Parameters"}, invocation.call.negotiated)


@pytest.fixture
def test_operations() -> Iterator[None]:
    reading = operations.Operation(
        name="test-look",
        handler=_answer,
        levels=frozenset({operations.SYSTEM, operations.TYPE, operations.INSTANCE}),
        definition="http://example.org/OperationDefinition/test-look",
    )
    writing = operations.Operation(
        name="test-change",
        handler=_answer,
        levels=frozenset({operations.TYPE}),
        definition="http://example.org/OperationDefinition/test-change",
        affects_state=True,
    )
    free = operations.Operation(
        name="test-free",
        handler=_answer,
        levels=frozenset({operations.SYSTEM}),
        definition="http://example.org/OperationDefinition/test-free",
        permissions="",
    )
    for operation in (reading, writing, free):
        operations.register(operation)
    yield
    for name in ("test-look", "test-change", "test-free"):
        operations._REGISTRY.pop(name)


def test_operations_need_their_permissions(
    secure: TestClient, patient_id: str, token_for: Any, test_operations: None
) -> None:
    read = token_for("system/Patient.r")
    assert secure.get(f"/Patient/{patient_id}/$test-look", headers=read).status_code == 200
    assert secure.get("/Patient/$test-look", headers=read).status_code == 200
    _assert_403(secure.get("/Observation/$test-look", headers=read))
    _assert_403(secure.get("/$test-look", headers=read))  # system level: every type
    assert secure.get("/$test-look", headers=token_for("system/*.r")).status_code == 200
    params = {"resourceType": "Parameters"}
    _assert_403(secure.post("/Patient/$test-change", json=params, headers=read))
    change = token_for("system/Patient.cu")
    assert secure.post("/Patient/$test-change", json=params, headers=change).status_code == 200
    assert secure.get("/$test-free", headers=read).status_code == 200
    assert secure.get("/$test-free").status_code == 401


# the scope language ------------------------------------------------------------------------


def test_scope_parsing() -> None:
    assert parse_scope("system/Patient.rs") == Scope("system", "Patient", frozenset("rs"))
    assert parse_scope("user/*.read") == Scope("user", "*", frozenset("rs"))
    assert parse_scope("patient/*.write") == Scope("patient", "*", frozenset("cud"))
    granular = parse_scope("system/Observation.rs?category=laboratory")
    assert granular is not None and granular.restriction == (("category", "laboratory"),)
    for bad in (
        "system/Patient.sr",
        "system/Patient.rr",
        "system/Patient.x",
        "openid",
        "launch/patient",
        "admin/Patient.r",
        "system/.r",
        "system/Patient",
    ):
        assert parse_scope(bad) is None, bad
    allowed = ["system/*.rs", "system/Task.cruds", "system/Observation.rs?category=lab"]
    assert grantable(
        [
            "system/Patient.r",
            "system/Task.cu",
            "system/Patient.c",
            "system/Observation.rs",
            "system/Observation.r?category=lab",
            "user/Patient.r",
        ],
        allowed,
    ) == [
        "system/Patient.r",
        "system/Task.cu",
        "system/Observation.rs",  # system/*.rs covers it
        "system/Observation.r?category=lab",
    ]
