"""The operation router: `$name` at system, type and instance level, GET and POST input."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.responses import Response

from fhir_server.rest import operations
from fhir_server.rest.responses import json_response


async def _echo(invocation: operations.Invocation) -> Response:
    return json_response(
        {
            "resourceType": "Parameters",
            "parameter": [
                {"name": "level", "valueString": invocation.level},
                {"name": "type", "valueString": invocation.resource_type or ""},
                {"name": "id", "valueString": invocation.rid or ""},
                {"name": "count", "valueInteger": invocation.value("count", 0)},
                {"name": "names", "valueString": ",".join(invocation.values("name"))},
            ],
        },
        invocation.call.negotiated,
    )


@pytest.fixture
def echo() -> Iterator[None]:
    reading = operations.Operation(
        name="test-echo",
        handler=_echo,
        levels=frozenset({operations.SYSTEM, operations.TYPE, operations.INSTANCE}),
        definition="http://example.org/OperationDefinition/test-echo",
        types=frozenset({"Patient"}),
        query_types={"count": "Integer"},
    )
    writing = operations.Operation(
        name="test-write",
        handler=_echo,
        levels=frozenset({operations.TYPE}),
        definition="http://example.org/OperationDefinition/test-write",
        affects_state=True,
    )
    operations.register(reading)
    operations.register(writing)
    yield
    operations._REGISTRY.pop("test-echo")
    operations._REGISTRY.pop("test-write")


def _values(body: dict) -> dict:
    return {
        p["name"]: next(v for k, v in p.items() if k.startswith("value")) for p in body["parameter"]
    }


def test_levels_and_query_input(client, echo):
    system = client.get("/$test-echo?count=3&name=a&name=b")
    assert system.status_code == 200
    assert _values(system.json()) == {
        "level": "system",
        "type": "",
        "id": "",
        "count": 3,
        "names": "a,b",
    }
    typed = _values(client.get("/Patient/$test-echo").json())
    assert (typed["level"], typed["type"]) == ("type", "Patient")
    instance = _values(client.get("/Patient/abc/$test-echo").json())
    assert (instance["level"], instance["id"]) == ("instance", "abc")


def test_post_parameters_body(client, echo):
    body = {"resourceType": "Parameters", "parameter": [{"name": "count", "valueInteger": 7}]}
    answer = client.post("/Patient/$test-echo", json=body)
    assert answer.status_code == 200
    assert _values(answer.json())["count"] == 7


def test_errors_are_operation_outcomes(client, echo):
    unknown = client.get("/Patient/$no-such-operation")
    assert unknown.status_code == 404
    assert unknown.json()["resourceType"] == "OperationOutcome"
    wrong_type = client.get("/Observation/$test-echo")
    assert wrong_type.status_code == 404
    assert "Observation" in wrong_type.json()["issue"][0]["diagnostics"]
    not_integer = client.get("/$test-echo?count=many")
    assert not_integer.status_code == 400
    assert not_integer.json()["issue"][0]["expression"] == ["count"]
    repeated = client.get("/$test-echo?count=1&count=2")
    assert repeated.status_code == 400
    get_on_writer = client.get("/Patient/$test-write")
    assert get_on_writer.status_code == 405
    assert get_on_writer.headers["Allow"] == "POST"
    not_a_resource = client.post("/Patient/$test-echo", json=[1, 2])
    assert not_a_resource.status_code == 400


def test_capability_statement_lists_operations(client, echo):
    statement = client.get("/metadata").json()
    rest = statement["rest"][0]
    assert {
        "name": "test-echo",
        "definition": "http://example.org/OperationDefinition/test-echo",
    } in rest["operation"]
    patient = next(r for r in rest["resource"] if r["type"] == "Patient")
    assert {"test-echo", "test-write", "everything"} <= {op["name"] for op in patient["operation"]}
    observation = next(r for r in rest["resource"] if r["type"] == "Observation")
    assert "test-write" in [op["name"] for op in observation["operation"]]
    assert "test-echo" not in [op["name"] for op in observation["operation"]]
