"""Hostile input through HTTP, security on: SQL metacharacters and huge values in every kind
of search parameter, deeply nested and oversized bodies, huge Bundles, malformed UTF-8, wrong
Content-Types. Each answer is a clear FHIR answer in time (a 4xx OperationOutcome, or for a
search that is merely odd a searchset that matches nothing), never a 500; the server serves
afterwards, and nothing is stored."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from starlette.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.config import Settings
from tests.support import postgres

ADMIN = "system/*.cruds"
# Every answer comes within this many seconds (no hang; generous for a shared CI machine).
BOUND = 10.0


@pytest.fixture
def secure_settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Security on; on PostgreSQL (emptied first) when FHIR_SERVER_TEST_STORE=postgres."""
    database = postgres.store_for_test(request)
    return Settings(
        **database, data_dir=tmp_path / "data", max_body_bytes=1_000_000, insecure_no_auth=False
    )


HOSTILE_VALUES: dict[str, str] = {
    "sql-or": "' OR 1=1 --",
    "sql-drop": '"; DROP TABLE resource; --',
    "sql-union": "x' UNION SELECT data FROM resource --",
    "percent": "%",
    "underscore": "_",
    "backslashes": "\\\\a\\",
    "nul": "a\x00b",
    "unicode": "Ω\u202e\u0301😀\ufeff",
    # a URL carries at most 64 KiB (the HTTP client's limit; a real server's is lower):
    # 100 000 characters go in a POST _search body (test_huge_values_in_search_by_post)
    "huge": "x" * 60_000,
    "many-values": ",".join(f"v{i}" for i in range(10_000)),
}
HUGE = "x" * 100_000
FORM = "application/x-www-form-urlencoded"

# (type, query parameter name): one of every kind the server has, and the special ones
CRITERIA: list[tuple[str, str]] = [
    ("Patient", "name"),  # string
    ("Patient", "family:exact"),
    ("Patient", "name:contains"),
    ("Patient", "identifier"),  # token
    ("Patient", "gender"),
    ("Patient", "identifier:of-type"),
    ("Patient", "general-practitioner"),  # reference
    ("Patient", "general-practitioner:identifier"),
    ("Patient", "birthdate"),  # date
    ("RiskAssessment", "probability"),  # number
    ("Observation", "value-quantity"),  # quantity
    ("ValueSet", "url"),  # uri
    ("ValueSet", "url:below"),
    ("Observation", "code-value-quantity"),  # composite
    ("Patient", "_id"),
    ("Patient", "_lastUpdated"),
    ("Patient", "_text"),
    ("Patient", "_content"),
    ("Patient", "_list"),
    ("Patient", "name:missing"),
    ("Encounter", "subject:Patient.name"),  # chained
    ("Encounter", "subject.general-practitioner.name"),
    ("Patient", "_has:Encounter:subject:status"),  # reverse chain
    ("Patient", "_has:Encounter:subject:_has:Communication:encounter:status"),
]
# parameters that shape the result: an odd value may be refused or ignored, never a 500
RESULT = ["_sort", "_include", "_revinclude", "_count", "_elements", "_summary", "_total"]


@pytest.fixture
def hostile(secure: TestClient, token_for: Any) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The secure app with one Patient every string search with `%`/`_` as a wildcard, or an
    injected `OR 1=1`, would find."""
    headers = token_for(ADMIN)
    alice = {
        "resourceType": "Patient",
        "name": [{"family": "Andersson", "given": ["Alice"]}],
        "identifier": [{"system": "urn:test", "value": "a1"}],
        "birthDate": "1950-01-01",
    }
    assert secure.post("/Patient", json=alice, headers=headers).status_code == 201
    yield secure, headers


def _timed(call: Any) -> Any:
    started = time.monotonic()
    response = call()
    elapsed = time.monotonic() - started
    assert elapsed < BOUND, f"answered after {elapsed:.1f}s"
    return response


def _is_outcome_4xx(response: Any) -> bool:
    if not 400 <= response.status_code < 500:
        return False
    body = response.json()
    return bool(
        body.get("resourceType") == "OperationOutcome"
        and body.get("issue")
        and all(issue.get("diagnostics") or issue.get("details") for issue in body["issue"])
    )


def _search(client: TestClient, headers: dict[str, str], path: str) -> Any:
    return _timed(lambda: client.get(path, headers=headers))


def _assert_no_match_or_refused(response: Any, what: str) -> None:
    assert response.status_code != 500, f"{what}: 500 {response.text[:300]}"
    if response.status_code == 200:
        bundle = response.json()
        assert bundle["resourceType"] == "Bundle", what
        assert bundle["type"] in ("searchset", "history"), what  # history: of no resource
        matched = [
            e for e in bundle.get("entry", []) if e.get("search", {}).get("mode") != "include"
        ]
        assert matched == [], f"{what}: a hostile value matched {len(matched)} resources"
    else:
        assert _is_outcome_4xx(response), f"{what}: {response.status_code} {response.text[:300]}"


def _count(client: TestClient, headers: dict[str, str], resource_type: str) -> int:
    bundle = client.get(f"/{resource_type}?_summary=count", headers=headers).json()
    return int(bundle["total"])


def _still_serving(client: TestClient, headers: dict[str, str]) -> None:
    found = client.get("/Patient?name=Andersson", headers=headers)
    assert found.status_code == 200 and found.json()["total"] == 1


@pytest.mark.parametrize(("resource_type", "name"), CRITERIA)
def test_hostile_values_in_every_kind_of_criterion(
    hostile: tuple[TestClient, dict[str, str]], resource_type: str, name: str
) -> None:
    client, headers = hostile
    for label, value in HOSTILE_VALUES.items():
        path = f"/{resource_type}?{quote(name, safe=':._')}={quote(value, safe=',')}"
        response = _search(client, headers, path)
        _assert_no_match_or_refused(response, f"{name}={label}")
    repeated = "&".join(f"{quote(name, safe=':._')}=v{i}" for i in range(1_000))
    _assert_no_match_or_refused(
        _search(client, headers, f"/{resource_type}?{repeated}"), f"{name} x1000"
    )
    _still_serving(client, headers)
    assert _count(client, headers, "Patient") == 1


@pytest.mark.parametrize("name", RESULT)
def test_hostile_values_in_result_parameters(
    hostile: tuple[TestClient, dict[str, str]], name: str
) -> None:
    client, headers = hostile
    for label, value in HOSTILE_VALUES.items():
        response = _search(client, headers, f"/Patient?{name}={quote(value, safe=',')}")
        assert response.status_code != 500, f"{name}={label}: {response.text[:300]}"
        if response.status_code != 200:
            assert _is_outcome_4xx(response), f"{name}={label}: {response.text[:300]}"
    repeated = "&".join(f"{name}=v{i}" for i in range(1_000))
    response = _search(client, headers, f"/Patient?{repeated}")
    assert response.status_code == 200 or _is_outcome_4xx(response), response.text[:300]
    _still_serving(client, headers)


def test_hostile_values_in_search_by_post_and_in_the_path(
    hostile: tuple[TestClient, dict[str, str]],
) -> None:
    client, headers = hostile
    form = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
    for label, value in HOSTILE_VALUES.items():
        body = f"name={quote(value, safe='')}"
        response = _timed(lambda b=body: client.post("/Patient/_search", content=b, headers=form))
        _assert_no_match_or_refused(response, f"_search name={label}")
        response = _timed(
            lambda v=value: client.get(f"/Patient/{quote(v, safe=',')}", headers=headers)
        )
        assert response.status_code in (400, 404) and _is_outcome_4xx(response), label
        response = _timed(
            lambda v=value: client.get(f"/Patient/{quote(v, safe=',')}/_history/1", headers=headers)
        )
        assert response.status_code in (400, 404) and _is_outcome_4xx(response), label
    _still_serving(client, headers)


@pytest.mark.parametrize(("resource_type", "name"), CRITERIA)
def test_huge_values_in_search_by_post(
    hostile: tuple[TestClient, dict[str, str]], resource_type: str, name: str
) -> None:
    client, headers = hostile
    form = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
    key = quote(name, safe=":._")
    for label, body in (
        ("100 000 characters", f"{key}={HUGE}"),
        ("10 000 values", f"{key}=" + ",".join(f"w{i}" for i in range(10_000))),
        ("10 000 repeated", "&".join(f"{key}=w{i}" for i in range(10_000))),
    ):
        response = _timed(
            lambda b=body: client.post(f"/{resource_type}/_search", content=b, headers=form)
        )
        _assert_no_match_or_refused(response, f"{name} {label}")
    _still_serving(client, headers)


def _nested(depth: int, kind: str) -> bytes:
    if kind == "array":
        inner = b"[" * depth + b"]" * depth
    else:
        inner = b'{"a":' * depth + b"1" + b"}" * depth
    return b'{"resourceType":"Patient","extension":' + inner + b"}"


@pytest.mark.parametrize("kind", ["array", "object"])
@pytest.mark.parametrize("depth", [200, 10_000])
def test_deeply_nested_bodies(
    hostile: tuple[TestClient, dict[str, str]], kind: str, depth: int
) -> None:
    client, headers = hostile
    fhir = {**headers, "Content-Type": "application/fhir+json"}
    body = _nested(depth, kind)
    bundle = (
        b'{"resourceType":"Bundle","type":"transaction","entry":[{"request":'
        b'{"method":"POST","url":"Patient"},"resource":' + body + b"}]}"
    )
    patch = b'[{"op":"add","path":"/extension","value":' + body + b"}]"
    calls = [
        ("POST", "/Patient", body, fhir),
        ("PUT", "/Patient/x1", body.replace(b"{", b'{"id":"x1",', 1), fhir),
        ("POST", "/", bundle, fhir),
        ("PATCH", "/Patient/x1", patch, {**headers, "Content-Type": "application/json-patch+json"}),
    ]
    for method, path, content, sent in calls:
        response = _timed(
            lambda m=method, p=path, c=content, h=sent: client.request(m, p, content=c, headers=h)
        )
        assert _is_outcome_4xx(response), (
            f"{method} {path}: {response.status_code} {response.text[:300]}"
        )
    validated = _timed(lambda: client.post("/Patient/$validate", content=body, headers=fhir))
    assert validated.status_code in (200, 400), validated.text[:300]  # $validate: 200 + errors
    issues = validated.json()["issue"]
    assert validated.json()["resourceType"] == "OperationOutcome"
    assert any(issue["severity"] in ("error", "fatal") for issue in issues)
    _still_serving(client, headers)
    assert _count(client, headers, "Patient") == 1


def test_bodies_over_the_limit(
    hostile: tuple[TestClient, dict[str, str]], secure_settings: Settings
) -> None:
    client, headers = hostile
    fhir = {**headers, "Content-Type": "application/fhir+json"}
    padding = "x" * (secure_settings.max_body_bytes + 10)
    body = orjson.dumps({"resourceType": "Patient", "name": [{"text": padding}]})

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while reading
        for start in range(0, len(body), 65_536):
            yield body[start : start + 65_536]

    form = orjson.dumps({"x": padding})
    calls = [("POST", "/Patient", fhir), ("PUT", "/Patient/big", fhir), ("POST", "/", fhir)]
    calls.append(("POST", "/Patient/_search", {**headers, "Content-Type": FORM}))
    for method, path, sent in calls:
        for content in (body if "_search" not in path else b"name=" + form, chunks()):
            response = _timed(
                lambda m=method, p=path, c=content, h=sent: client.request(
                    m, p, content=c, headers=h
                )
            )
            assert response.status_code == 413 and _is_outcome_4xx(response), response.text[:300]
    _still_serving(client, headers)
    assert _count(client, headers, "Patient") == 1


@pytest.mark.parametrize("kind", ["transaction", "batch"])
def test_a_bundle_over_the_entry_limit_is_refused(
    hostile: tuple[TestClient, dict[str, str]], secure_settings: Settings, kind: str
) -> None:
    client, headers = hostile
    entries = secure_settings.max_bundle_entries + 1
    bundle = {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {
                "request": {"method": "POST", "url": "Patient"},
                "resource": {"resourceType": "Patient"},
            }
            for _ in range(entries)
        ],
    }
    response = _timed(lambda: client.post("/", json=bundle, headers=headers))
    assert response.status_code == 413 and _is_outcome_4xx(response)
    assert str(secure_settings.max_bundle_entries) in response.text
    _still_serving(client, headers)
    assert _count(client, headers, "Patient") == 1


def test_a_bundle_at_the_entry_limit_is_processed(tmp_path: Any) -> None:
    settings = Settings(data_dir=tmp_path / "data", insecure_no_auth=True, max_bundle_entries=50)
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "request": {"method": "POST", "url": "Patient"},
                "resource": {"resourceType": "Patient"},
            }
            for _ in range(50)
        ],
    }
    with TestClient(create_app(settings)) as client:
        assert client.post("/", json=bundle).status_code == 200
        bundle["entry"].append(bundle["entry"][0])
        assert client.post("/", json=bundle).status_code == 413
        assert client.get("/Patient?_summary=count").json()["total"] == 50


MALFORMED_UTF8 = [
    b'{"resourceType":"Patient","name":[{"family":"\xff\xfe"}]}',
    b'{"resourceType":"Patient","name":[{"family":"\xc3\x28"}]}',  # invalid continuation
    b'{"resourceType":"Patient","name":[{"family":"\xed\xa0\x80"}]}',  # a lone surrogate
    b'{"resourceType":"Patient","name":[{"family":"\xc0\xaf"}]}',  # overlong
    b'\xef\xbb\xbf\xff{"resourceType":"Patient"}',
    # well-formed, but control characters FHIR strings cannot hold (PostgreSQL text: no NUL)
    b'{"resourceType":"Patient","name":[{"family":"a\\u0000b"}]}',
    b'{"resourceType":"Patient","extension":[{"url":"http://x","valueString":"\\u001f"}]}',
]


def test_malformed_utf8_in_bodies(hostile: tuple[TestClient, dict[str, str]]) -> None:
    client, headers = hostile
    fhir = {**headers, "Content-Type": "application/fhir+json"}
    for body in MALFORMED_UTF8:
        transaction = (
            b'{"resourceType":"Bundle","type":"transaction","entry":[{"request":'
            b'{"method":"POST","url":"Patient"},"resource":' + body + b"}]}"
        )
        for method, path, content in (
            ("POST", "/Patient", body),
            ("PUT", "/Patient/u1", body),
            ("POST", "/", transaction),
        ):
            response = _timed(
                lambda m=method, p=path, c=content: client.request(m, p, content=c, headers=fhir)
            )
            assert _is_outcome_4xx(response), f"{path} {body!r}: {response.text[:300]}"
    form = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
    response = _timed(
        lambda: client.post("/Patient/_search", content=b"name=\xff\xfe", headers=form)
    )
    _assert_no_match_or_refused(response, "form \\xff")
    _still_serving(client, headers)
    assert _count(client, headers, "Patient") == 1


def test_malformed_utf8_in_urls(hostile: tuple[TestClient, dict[str, str]]) -> None:
    client, headers = hostile
    for path in (
        "/Patient?name=%FF%FE",
        "/Patient?name=%C3%28",
        "/Patient?na%FFme=x",
        "/Patient?_has:Enc%FF:subject:status=x",
        "/Patient?_sort=%FF",
        "/Patient/%FF%FE",
        "/Pat%FFient",
        "/Patient/%ED%A0%80/_history",
    ):
        response = _search(client, headers, path)
        _assert_no_match_or_refused(response, path)
    _still_serving(client, headers)


def test_malformed_utf8_and_garbage_in_headers(
    hostile: tuple[TestClient, dict[str, str]],
) -> None:
    client, headers = hostile
    pid = client.get("/Patient?name=Andersson", headers=headers).json()["entry"][0]["resource"][
        "id"
    ]
    fhir = {**headers, "Content-Type": "application/fhir+json"}
    patient = orjson.dumps({"resourceType": "Patient", "id": pid, "active": True})
    bad = [b"\xff\xfe", b"' OR 1=1 --", b"x" * 8_000, b'W/"\xff"', b"name=\xff&_id=" + b"a," * 2000]
    for value in bad:
        cases: list[tuple[str, str, bytes | None, dict[str, Any]]] = [
            ("POST", "/Patient", patient, {**fhir, "If-None-Exist": value}),
            ("PUT", f"/Patient/{pid}", patient, {**fhir, "If-Match": value}),
            ("GET", f"/Patient/{pid}", None, {**headers, "If-None-Match": value}),
            ("GET", f"/Patient/{pid}", None, {**headers, "If-Modified-Since": value}),
            ("GET", f"/Patient/{pid}", None, {**headers, "Accept": value}),
            ("GET", f"/Patient/{pid}", None, {**headers, "Prefer": value}),
            ("POST", "/Patient", patient, {**fhir, "Content-Type": value}),
            ("GET", f"/Patient/{pid}", None, {"Authorization": b"Bearer " + value}),
            ("GET", f"/Patient/{pid}", None, {"Authorization": value}),
        ]
        for method, path, content, sent in cases:
            response = _timed(
                lambda m=method, p=path, c=content, h=sent: client.request(
                    m, p, content=c, headers=h
                )
            )
            assert response.status_code != 500, f"{method} {path} {sent}: {response.text[:300]}"
            if response.status_code >= 400:
                assert _is_outcome_4xx(response), f"{method} {path}: {response.text[:300]}"
    _still_serving(client, headers)
    assert _count(client, headers, "Patient") == 1
    version = client.get(f"/Patient/{pid}", headers=headers).json()["meta"]["versionId"]
    assert version == "1"  # no hostile If-Match let an update through


def test_wrong_or_missing_content_type(hostile: tuple[TestClient, dict[str, str]]) -> None:
    client, headers = hostile
    patient = orjson.dumps({"resourceType": "Patient", "active": True})
    for content_type in (
        "text/plain",
        "application/xml",
        "application/fhir+xml",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        "application/fhir+json; charset=latin-1",
        "application/json; charset=utf-16",
        "application/json-patch+json",  # a patch document, only for PATCH
        b"\xff\xfe",
        "",
    ):
        sent: dict[str, Any] = {**headers, "Content-Type": content_type}
        for method, path in (("POST", "/Patient"), ("PUT", "/Patient/ct1"), ("POST", "/")):
            response = _timed(
                lambda m=method, p=path, h=sent: client.request(m, p, content=patient, headers=h)
            )
            assert response.status_code == 415 and _is_outcome_4xx(response), (
                f"{content_type!r} {method} {path}: {response.status_code} {response.text[:300]}"
            )
    assert _count(client, headers, "Patient") == 1
    # no Content-Type at all: the body is taken as FHIR JSON (what it is here)
    assert client.post("/Patient", content=patient, headers=headers).status_code == 201
    assert _count(client, headers, "Patient") == 2
    _still_serving(client, headers)
