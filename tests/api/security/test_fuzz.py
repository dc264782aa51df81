"""Fuzzing with hypothesis (deterministic: derandomized, no example database): the query
parser, search URLs through HTTP and the batch/transaction processor, security on.

Properties: the parser returns a plan or a 400 FhirError, nothing else; every HTTP answer
is a 2xx/4xx FHIR answer (a Bundle or an OperationOutcome), never a 500; a transaction that
fails stores nothing, and one that succeeds stores what its response says."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from fhir_server.config import Settings
from fhir_server.definitions.loader import load_definitions
from fhir_server.outcome import FhirError
from fhir_server.search.criteria import parse_criteria
from tests.support import postgres

ADMIN = "system/*.cruds"
PARSER_EXAMPLES = 400
SEARCH_EXAMPLES = 150
BUNDLE_EXAMPLES = 120


@pytest.fixture
def secure_settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Security on; on PostgreSQL (emptied first) when FHIR_SERVER_TEST_STORE=postgres."""
    database = postgres.store_for_test(request)
    return Settings(
        **database, data_dir=tmp_path / "data", max_body_bytes=1_000_000, insecure_no_auth=False
    )


def _fuzz(examples: int) -> Any:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


TYPES = ["Patient", "Encounter", "Observation", "Communication", "Task", "ValueSet"]
NAMES = [
    "name", "family", "given", "identifier", "gender", "birthdate", "general-practitioner",
    "organization", "subject", "patient", "encounter", "status", "code", "value-quantity",
    "date", "url", "version", "_id", "_lastUpdated", "_text", "_content", "_list", "_has",
    "_sort", "_count", "_include", "_elements", "_format", "nonsense", "",
]  # fmt: skip
MODIFIERS = [
    "", ":exact", ":contains", ":missing", ":not", ":text", ":of-type", ":identifier",
    ":Patient", ":Organization", ":below", ":above", ":in", ":bogus", ":",
]  # fmt: skip
ALPHABET = st.characters(codec="utf-8", exclude_categories=("Cs",))
SPECIAL = st.sampled_from(
    [",", "|", "\\", "$", ":", ".", "%", "_", "'", '"', ";", "--", "eq", "ge", "lt", "ap", "sa"]
)
VALUES = st.lists(
    st.one_of(
        st.text(ALPHABET, max_size=12),
        SPECIAL,
        st.sampled_from(["2020", "2020-01-01T00:00:00Z", "5.4", "1e400", "Patient/1", "a|b"]),
        st.from_regex(r"\A(eq|ne|gt|lt|ge|le|sa|eb|ap)?-?[0-9]{1,4}(\.[0-9]{0,3})?\Z"),
    ),
    max_size=5,
).map("".join)


@st.composite
def parameter_names(draw: st.DrawFn) -> str:
    """A name, a modifier, sometimes a chain or a reverse chain."""
    name = draw(st.sampled_from(NAMES)) + draw(st.sampled_from(MODIFIERS))
    kind = draw(st.sampled_from(["plain", "plain", "chain", "has"]))
    if kind == "chain":
        return f"{name}.{draw(st.sampled_from(NAMES))}"
    if kind == "has":
        source = draw(st.sampled_from([*TYPES, "Nope", ""]))
        return f"_has:{source}:{draw(st.sampled_from(NAMES))}:{draw(st.sampled_from(NAMES))}"
    return name


CRITERIA = st.lists(st.tuples(parameter_names(), VALUES), max_size=4)


@_fuzz(PARSER_EXAMPLES)
@given(resource_type=st.sampled_from([*TYPES, "Nope"]), criteria=CRITERIA)
def test_the_query_parser_returns_a_plan_or_a_400(
    resource_type: str, criteria: list[tuple[str, str]]
) -> None:
    try:
        plan = parse_criteria(load_definitions(), resource_type, criteria)
    except FhirError as refused:
        assert refused.status == 400
        assert all(issue.diagnostics for issue in refused.issues)
        return
    assert plan.resource_type == resource_type


def _fhir_answer(response: Any) -> dict[str, Any]:
    assert response.status_code < 500, response.text[:500]
    body: dict[str, Any] = response.json()
    if response.status_code >= 400:
        assert body["resourceType"] == "OperationOutcome", body
        assert body["issue"], body
    else:
        assert body["resourceType"] in ("Bundle", "OperationOutcome"), body
    return body


def test_search_urls(secure: TestClient, token_for: Any) -> None:
    headers = token_for(ADMIN)
    patient = {"resourceType": "Patient", "name": [{"family": "Fuzz"}], "gender": "female"}
    pid = secure.post("/Patient", json=patient, headers=headers).json()["id"]
    encounter = {
        "resourceType": "Encounter",
        "status": "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": f"Patient/{pid}"},
    }
    assert secure.post("/Encounter", json=encounter, headers=headers).status_code == 201
    seen = {"answers": 0}

    @_fuzz(SEARCH_EXAMPLES)
    @given(
        resource_type=st.sampled_from(TYPES),
        criteria=CRITERIA,
        raw=st.one_of(st.none(), st.text(ALPHABET, max_size=40)),
        by_post=st.booleans(),
    )
    def search(
        resource_type: str, criteria: list[tuple[str, str]], raw: str | None, by_post: bool
    ) -> None:
        query = "&".join(f"{quote(n, safe=':._')}={quote(v, safe='')}" for n, v in criteria)
        if raw is not None:  # a query string not even well-formed
            query = f"{query}&{quote(raw, safe='=&%?,')}"
        if by_post:
            response = secure.post(
                f"/{resource_type}/_search",
                content=query.encode(),
                headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
            )
        else:
            response = secure.get(f"/{resource_type}?{query}", headers=headers)
        body = _fhir_answer(response)
        if response.status_code == 200:
            assert body["type"] == "searchset"
        seen["answers"] += 1

    search()
    assert seen["answers"] >= SEARCH_EXAMPLES
    assert secure.get(f"/Patient/{pid}", headers=headers).status_code == 200


FULL_URLS = ["urn:uuid:8d2ab8d5-3b43-4a51-9f05-e4b1a0c3f9d1", "urn:uuid:1b7e", "urn:oid:1.2.3"]
URLS = [
    "Patient", "Patient/fz1", "Patient/fz2", "Patient?name=Fuzz", "Patient?nonsense=1",
    "Observation", "Observation/fz3", "Patient/fz1/_history/1", "Patient/$validate",
    "Patient/_search", "http://other.example/Patient/1", "", "/", "Nope/1", "Patient/bad id",
    "metadata", "Patient?_id=fz1", "Patient/fz1?_elements=name",
]  # fmt: skip
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "FOO", None]
HEADERS_VALUES = st.one_of(
    st.none(),
    st.sampled_from(['W/"1"', 'W/"2"', "*", "name=Fuzz", "_id=fz1", "2020-01-01", "bogus", ""]),
    st.text(ALPHABET, max_size=10),
)


@st.composite
def references(draw: st.DrawFn) -> dict[str, Any]:
    target = draw(
        st.one_of(
            st.sampled_from([*FULL_URLS, "Patient/fz1", "Patient/missing", "Patient?name=Fuzz"]),
            st.text(ALPHABET, max_size=10),
        )
    )
    return {"reference": target}


@st.composite
def resources(draw: st.DrawFn, resource_type: str) -> Any:
    kind = draw(st.sampled_from(["good", "good", "odd", "not-an-object"]))
    if kind == "not-an-object":
        return draw(st.one_of(st.none(), st.integers(), st.text(max_size=5), st.just([])))
    resource: dict[str, Any] = {"resourceType": draw(st.sampled_from([resource_type, "Nope"]))}
    if draw(st.booleans()):
        resource["id"] = draw(st.sampled_from(["fz1", "fz2", "fz3", "bad id", ""]))
    if resource_type == "Observation":
        resource.update(
            {"status": draw(st.sampled_from(["final", "bogus"])), "code": {"text": "x"}}
        )
        resource["subject"] = draw(references())
    elif draw(st.booleans()):
        resource["name"] = [{"family": draw(st.text(ALPHABET, max_size=8))}]
    if resource_type == "Patient" and draw(st.booleans()):
        resource["generalPractitioner"] = [draw(references())]
    if kind == "odd":
        resource[draw(st.sampled_from(["bogus", "gender", "meta", "text"]))] = draw(
            st.one_of(st.integers(), st.text(max_size=4), st.just({"x": [1]}))
        )
    return resource


@st.composite
def entries(draw: st.DrawFn) -> dict[str, Any]:
    url = draw(st.one_of(st.sampled_from(URLS), st.text(ALPHABET, max_size=12)))
    request: dict[str, Any] = {}
    method = draw(st.sampled_from(METHODS))
    if method is not None:
        request["method"] = method
    if draw(st.integers(0, 9)) > 0:
        request["url"] = url
    for header in ("ifNoneExist", "ifMatch", "ifNoneMatch", "ifModifiedSince"):
        value = draw(HEADERS_VALUES)
        if value is not None:
            request[header] = value
    entry: dict[str, Any] = {"request": request}
    if draw(st.booleans()):
        entry["fullUrl"] = draw(st.one_of(st.sampled_from(FULL_URLS), st.text(max_size=8)))
    if method in ("POST", "PUT") or draw(st.integers(0, 4)) == 0:
        resource_type = "Observation" if url.startswith("Observation") else "Patient"
        entry["resource"] = draw(resources(resource_type))
    if method == "PATCH" and draw(st.booleans()):
        entry["resource"] = {
            "resourceType": "Binary",
            "contentType": "application/json-patch+json",
            "data": draw(st.sampled_from(["W10=", "bm9wZQ==", "!!", ""])),
        }
    return entry


BUNDLES = st.fixed_dictionaries(
    {
        "resourceType": st.sampled_from(["Bundle", "Bundle", "Bundle", "Patient"]),
        "type": st.sampled_from(["transaction", "transaction", "batch", "batch", "history"]),
        "entry": st.lists(entries(), max_size=6),
    }
)


def _stored(client: TestClient, headers: dict[str, str]) -> tuple[int, ...]:
    return tuple(
        int(client.get(f"/{t}?_summary=count", headers=headers).json()["total"])
        for t in ("Patient", "Observation")
    )


def test_bundles(secure: TestClient, token_for: Any) -> None:
    headers = token_for(ADMIN)
    seed = {"resourceType": "Patient", "id": "fz1", "name": [{"family": "Fuzz"}]}
    assert secure.put("/Patient/fz1", json=seed, headers=headers).status_code == 201
    tally = {"transaction-ok": 0, "transaction-refused": 0, "batch": 0, "refused": 0}

    @_fuzz(BUNDLE_EXAMPLES)
    @given(bundle=BUNDLES)
    def process(bundle: dict[str, Any]) -> None:
        before = _stored(secure, headers)
        response = secure.post("/", json=bundle, headers=headers)
        body = _fhir_answer(response)
        after = _stored(secure, headers)
        kind = bundle["type"]
        if response.status_code >= 400:
            assert after == before, f"a refused {kind} changed the store: {bundle}"
            tally["transaction-refused" if kind == "transaction" else "refused"] += 1
            return
        assert bundle["resourceType"] == "Bundle" and kind in ("transaction", "batch")
        assert body["resourceType"] == "Bundle" and body["type"] == f"{kind}-response"
        answers = body.get("entry", [])
        assert len(answers) == len(bundle["entry"])
        for answer in answers:
            status = int(answer["response"]["status"].split()[0])
            assert status < 500, answer
            if status >= 400:
                assert answer["response"]["outcome"]["resourceType"] == "OperationOutcome"
        if kind == "transaction":
            assert all(int(a["response"]["status"].split()[0]) < 400 for a in answers)
            tally["transaction-ok"] += 1
        else:
            tally["batch"] += 1

    process()
    print(f"\nbundle fuzz: {tally}")
    assert sum(tally.values()) >= BUNDLE_EXAMPLES
    assert tally["transaction-refused"] and tally["transaction-ok"] and tally["batch"], tally
    assert secure.get("/Patient/fz1", headers=headers).status_code in (200, 410)
