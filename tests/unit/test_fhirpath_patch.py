"""FHIRPath Patch: the 33 official FHIR test cases (converted from XML), plus hand-written ones."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from fhir_server.definitions import Definitions, load_definitions
from fhir_server.patch import MalformedPatchError, PatchError, apply_fhirpath_patch
from fhir_server.patch.json_patch import json_equal

CASES_FILE = (
    Path(__file__).resolve().parents[3] / "shared" / "fhir-data" / "patch" / "fhir-patch-tests.xml"
)

# Official cases that cannot pass, by case name, with the exact gap. None at present.
XFAIL: dict[str, str] = {}


def _official_cases() -> list[Any]:
    if not CASES_FILE.exists():
        reason = f"official FHIRPath Patch cases not present ({CASES_FILE})"
        return [
            pytest.param(None, id="official-cases-absent", marks=pytest.mark.skip(reason=reason))
        ]
    from tests.support.fhir_xml import parse_test_cases

    params = []
    for case in parse_test_cases(str(CASES_FILE)):
        reason = XFAIL.get(case["name"])
        marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
        params.append(pytest.param(case, id=case["name"], marks=marks))
    return params


@pytest.fixture(scope="module")
def definitions() -> Definitions:
    return load_definitions()


@pytest.mark.parametrize("case", _official_cases())
def test_official_case(case: dict[str, Any], definitions: Definitions) -> None:
    before = copy.deepcopy(case["input"])
    if "error" in case:
        with pytest.raises(PatchError):
            apply_fhirpath_patch(case["input"], case["diff"], definitions)
    else:
        result = apply_fhirpath_patch(case["input"], case["diff"], definitions)
        assert json_equal(result, case["output"]), (result, case["output"])
    assert case["input"] == before


def test_official_suite_has_33_cases() -> None:
    if not CASES_FILE.exists():
        pytest.skip(f"official FHIRPath Patch cases not present ({CASES_FILE})")
    from tests.support.fhir_xml import parse_test_cases

    assert len(parse_test_cases(str(CASES_FILE))) == 33


# ---- helpers ------------------------------------------------------------------------------


def op(kind: str, path: str, **parts: Any) -> dict[str, Any]:
    """An `operation` parameter; keyword values are parts given as value[x] dicts or lists."""
    entries: list[dict[str, Any]] = [
        {"name": "type", "valueCode": kind},
        {"name": "path", "valueString": path},
    ]
    for name, value in parts.items():
        if isinstance(value, list):
            entries.append({"name": name, "part": value})
        elif isinstance(value, dict):
            entries.append({"name": name, **value})
        elif isinstance(value, int):
            entries.append({"name": name, "valueInteger": value})
        else:
            entries.append({"name": name, "valueString": value})
    return {"name": "operation", "part": entries}


def params(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": list(operations)}


def patient() -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": "p1",
        "identifier": [{"system": "urn:oid:1.2.752.129.2.1.3.1", "value": "191212121212"}],
        "name": [{"family": "Svensson", "given": ["Anna", "Maria"]}],
        "telecom": [
            {"system": "phone", "value": "08-123 45"},
            {"system": "email", "value": "anna@example.se"},
            {"system": "phone", "value": "070-111 22 33", "use": "mobile"},
        ],
        "gender": "female",
        "birthDate": "1912-12-12",
    }


@pytest.fixture
def apply(definitions: Definitions) -> Any:
    def run(resource: dict[str, Any], *operations: dict[str, Any]) -> dict[str, Any]:
        return apply_fhirpath_patch(resource, params(*operations), definitions)

    return run


# ---- hand-written cases -----------------------------------------------------------------


def test_add_to_identifier(apply: Any) -> None:
    new = {"system": "http://example.org/mrn", "value": "X1"}
    out = apply(patient(), op("add", "Patient", name="identifier", value={"valueIdentifier": new}))
    assert out["identifier"][-1] == new
    assert len(out["identifier"]) == 2


def test_replace_birth_date(apply: Any) -> None:
    out = apply(patient(), op("replace", "Patient.birthDate", value={"valueDate": "1913-01-01"}))
    assert out["birthDate"] == "1913-01-01"


def test_delete_second_telecom(apply: Any) -> None:
    out = apply(patient(), op("delete", "Patient.telecom[1]"))
    assert [t["value"] for t in out["telecom"]] == ["08-123 45", "070-111 22 33"]


def test_delete_nothing_is_not_an_error(apply: Any) -> None:
    assert apply(patient(), op("delete", "Patient.address")) == patient()


def test_delete_of_several_is_an_error(apply: Any) -> None:
    with pytest.raises(PatchError, match="3 elements"):
        apply(patient(), op("delete", "Patient.telecom"))


def test_delete_last_item_removes_array_and_emptied_parents(apply: Any) -> None:
    resource = {"resourceType": "Patient", "contact": [{"name": {"text": "x"}}]}
    assert apply(resource, op("delete", "Patient.contact.name.text")) == {"resourceType": "Patient"}


def test_add_choice_element_takes_type_suffix(apply: Any) -> None:
    out = apply(patient(), op("add", "Patient", name="deceased", value={"valueBoolean": True}))
    assert out["deceasedBoolean"] is True
    out = apply(out, op("replace", "Patient.deceased", value={"valueDateTime": "2020-01-01"}))
    assert "deceasedBoolean" not in out
    assert out["deceasedDateTime"] == "2020-01-01"
    with pytest.raises(PatchError, match="cannot be of type"):
        apply(patient(), op("add", "Patient", name="deceased", value={"valueString": "yes"}))


def test_add_single_valued_that_exists_is_an_error(apply: Any) -> None:
    with pytest.raises(PatchError, match="already has a value"):
        apply(patient(), op("add", "Patient", name="gender", value={"valueCode": "male"}))


def test_add_unknown_element_is_an_error(apply: Any) -> None:
    with pytest.raises(PatchError, match="not an element"):
        apply(patient(), op("add", "Patient", name="nickname", value={"valueString": "A"}))


def test_wrong_value_type_is_an_error(apply: Any) -> None:
    with pytest.raises(PatchError, match="does not fit"):
        apply(patient(), op("replace", "Patient.birthDate", value={"valueBoolean": True}))
    with pytest.raises(PatchError, match="does not fit"):
        coding = {"valueCoding": {"code": "x"}}
        apply(patient(), op("add", "Patient", name="maritalStatus", value=coding))


def test_replace_needs_exactly_one(apply: Any) -> None:
    with pytest.raises(PatchError, match="no element"):
        apply(patient(), op("replace", "Patient.address.city", value={"valueString": "Lund"}))
    with pytest.raises(PatchError, match="2 elements"):
        apply(patient(), op("replace", "Patient.name.given", value={"valueString": "X"}))


def test_insert_and_move_on_primitive_list(apply: Any) -> None:
    out = apply(
        patient(),
        op("insert", "Patient.name[0].given", index=0, value={"valueString": "Lisa"}),
        op("move", "Patient.name[0].given", source=2, destination=0),
    )
    assert out["name"][0]["given"] == ["Maria", "Lisa", "Anna"]
    with pytest.raises(PatchError, match="beyond the end"):
        apply(patient(), op("insert", "Patient.identifier", index=5, value={"valueIdentifier": {}}))
    with pytest.raises(PatchError, match="outside the list"):
        apply(patient(), op("move", "Patient.telecom", source=3, destination=0))


def test_insert_into_absent_list(apply: Any) -> None:
    line = {"valueString": "Storgatan 1"}
    out = apply(
        patient(),
        op("add", "Patient", name="address", value=[{"name": "city", "valueString": "Lund"}]),
        op("insert", "Patient.address[0].line", index=0, value=line),
    )
    assert out["address"] == [{"city": "Lund", "line": ["Storgatan 1"]}]


def test_primitive_extensions_stay_aligned(apply: Any) -> None:
    ext = {"extension": [{"url": "http://example.org/q", "valueCode": "CL"}]}
    resource = {
        "resourceType": "Patient",
        "name": [{"given": ["A", "B", "C"], "_given": [None, ext, None]}],
        "birthDate": "2000-01-01",
        "_birthDate": ext,
    }
    out = apply(resource, op("delete", "Patient.name.given[0]"))
    assert out["name"][0] == {"given": ["B", "C"], "_given": [ext, None]}
    out = apply(resource, op("delete", "Patient.name.given[1]"))
    assert out["name"][0] == {"given": ["A", "C"]}
    out = apply(resource, op("move", "Patient.name.given", source=1, destination=2))
    assert out["name"][0] == {"given": ["A", "C", "B"], "_given": [None, None, ext]}
    out = apply(resource, op("insert", "Patient.name.given", index=0,
                             value={"valueString": "Z", "_valueString": ext}))  # fmt: skip
    assert out["name"][0]["_given"] == [ext, None, ext, None]
    out = apply(resource, op("delete", "Patient.birthDate"))
    assert "birthDate" not in out and "_birthDate" not in out
    out = apply(resource, op("replace", "Patient.birthDate", value={"valueDate": "2001-02-03"}))
    assert out["birthDate"] == "2001-02-03" and "_birthDate" not in out
    out = apply(resource, op("delete", "Patient.birthDate.extension[0]"))
    assert out["birthDate"] == "2000-01-01" and "_birthDate" not in out


def test_add_extension_to_primitive(apply: Any) -> None:
    ext = {"url": "http://example.org/e", "valueString": "x"}
    out = apply(
        patient(), op("add", "Patient.birthDate", name="extension", value={"valueExtension": ext})
    )
    assert out["_birthDate"] == {"extension": [ext]}
    assert out["birthDate"] == "1912-12-12"


def test_nested_parts_build_backbone_with_choice(apply: Any) -> None:
    resource = {"resourceType": "Observation", "status": "final", "code": {"text": "bp"}}
    component = [
        {"name": "code", "valueCodeableConcept": {"text": "systolic"}},
        {"name": "value", "valueQuantity": {"value": 120, "unit": "mm[Hg]"}},
    ]
    out = apply(resource, op("add", "Observation", name="component", value=component))
    assert out["component"] == [
        {"code": {"text": "systolic"}, "valueQuantity": {"value": 120, "unit": "mm[Hg]"}}
    ]


def test_where_and_text_div(apply: Any) -> None:
    resource = patient()
    resource["text"] = {
        "status": "generated",
        "div": '<div xmlns="http://www.w3.org/1999/xhtml">a</div>',
    }
    new_div = '<div xmlns="http://www.w3.org/1999/xhtml">b</div>'
    out = apply(
        resource,
        op(
            "replace",
            "Patient.telecom.where(system = 'email').value",
            value={"valueString": "a@b.se"},
        ),
        op("replace", "Patient.text.div", value={"valueString": new_div}),
    )
    assert out["telecom"][1]["value"] == "a@b.se"
    assert out["text"]["div"] == new_div


def test_contained_resource(apply: Any) -> None:
    resource = patient()
    resource["contained"] = [{"resourceType": "Organization", "id": "o1", "name": "Old"}]
    out = apply(resource, op("replace", "Patient.contained[0].name", value={"valueString": "New"}))
    assert out["contained"][0]["name"] == "New"
    out = apply(out, op("add", "Patient.contained[0]", name="alias", value={"valueString": "N"}))
    assert out["contained"][0]["alias"] == ["N"]


def test_atomic_failure_leaves_input_unchanged(apply: Any) -> None:
    resource = patient()
    before = copy.deepcopy(resource)
    with pytest.raises(PatchError, match=r"operation 3 \(replace at 'Patient.address.city'\)"):
        apply(
            resource,
            op("replace", "Patient.birthDate", value={"valueDate": "2000-01-01"}),
            op("delete", "Patient.telecom[0]"),
            op("replace", "Patient.address.city", value={"valueString": "Lund"}),
        )
    assert resource == before


def test_input_not_modified_on_success(apply: Any) -> None:
    resource = patient()
    before = copy.deepcopy(resource)
    apply(resource, op("delete", "Patient.name[0].given[1]"))
    assert resource == before


@pytest.mark.parametrize(
    "body",
    [
        {"resourceType": "Patient"},
        {"resourceType": "Parameters", "parameter": [{"name": "other"}]},
        params({"name": "operation", "part": [{"name": "type", "valueCode": "upsert"}]}),
        params({"name": "operation", "part": [{"name": "type", "valueCode": "delete"}]}),
        params(op("add", "Patient", value={"valueString": "x"})),  # name missing
        params(op("replace", "Patient.gender")),  # value missing
        params(op("insert", "Patient.identifier", value={"valueIdentifier": {}})),  # no index
        params(op("move", "Patient.identifier", source=0)),  # destination missing
        params(op("delete", "Patient.gender", colour="red")),  # unknown part
    ],
)
def test_malformed_parameters(body: dict[str, Any], definitions: Definitions) -> None:
    with pytest.raises(MalformedPatchError):
        apply_fhirpath_patch(patient(), body, definitions)


def test_invalid_fhirpath_is_a_patch_error(apply: Any) -> None:
    with pytest.raises(PatchError, match="cannot be evaluated"):
        apply(patient(), op("delete", "Patient.name[0"))


def test_definitions_load_lazily_without_argument() -> None:
    out = apply_fhirpath_patch(patient(), params(op("delete", "Patient.gender")))
    assert "gender" not in out
