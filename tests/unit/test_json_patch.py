"""JSON Patch (RFC 6902): the official FHIR test cases, plus edge cases of the RFCs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest

from fhir_server.patch import MalformedPatchError, PatchError, apply_json_patch
from fhir_server.patch.json_patch import json_equal

CASES_FILE = (
    Path(__file__).resolve().parents[3] / "shared" / "fhir-data" / "patch" / "json-patch-tests.json"
)


def _official_cases() -> list[Any]:
    if not CASES_FILE.exists():
        reason = f"official JSON Patch cases not present ({CASES_FILE})"
        return [
            pytest.param(None, id="official-cases-absent", marks=pytest.mark.skip(reason=reason))
        ]
    cases = orjson.loads(CASES_FILE.read_bytes())
    return [pytest.param(case, id=case["comment"]) for case in cases]


@pytest.mark.parametrize("case", _official_cases())
def test_official_case(case: dict[str, Any]) -> None:
    before = copy.deepcopy(case["doc"])
    if "error" in case:
        with pytest.raises(PatchError):
            apply_json_patch(case["doc"], case["patch"])
    else:
        assert json_equal(apply_json_patch(case["doc"], case["patch"]), case["expected"])
    assert case["doc"] == before  # the input is never modified


def test_official_suite_has_16_cases() -> None:
    if not CASES_FILE.exists():
        pytest.skip(f"official JSON Patch cases not present ({CASES_FILE})")
    assert len(orjson.loads(CASES_FILE.read_bytes())) == 16


# ---- atomicity --------------------------------------------------------------------------


def test_failed_patch_leaves_input_unchanged_and_applies_nothing() -> None:
    doc = {"resourceType": "Patient", "id": "p1", "name": [{"family": "A"}]}
    before = copy.deepcopy(doc)
    patch = [
        {"op": "replace", "path": "/name/0/family", "value": "B"},
        {"op": "add", "path": "/active", "value": True},
        {"op": "remove", "path": "/telecom"},  # fails: there is no telecom
    ]
    with pytest.raises(PatchError, match="operation 3"):
        apply_json_patch(doc, patch)
    assert doc == before


def test_success_returns_new_document() -> None:
    doc = {"a": {"b": [1]}}
    out = apply_json_patch(doc, [{"op": "add", "path": "/a/b/-", "value": 2}])
    assert out == {"a": {"b": [1, 2]}}
    assert doc == {"a": {"b": [1]}}


# ---- malformed patch documents ----------------------------------------------------------


@pytest.mark.parametrize(
    "patch",
    [
        {"op": "add", "path": "/a", "value": 1},  # not a list
        [{"path": "/a", "value": 1}],  # op missing
        [{"op": "frobnicate", "path": "/a"}],  # unknown op
        [{"op": "add", "value": 1}],  # path missing
        [{"op": "add", "path": "/a"}],  # value missing
        [{"op": "replace", "path": "/a"}],
        [{"op": "test", "path": "/a"}],
        [{"op": "move", "path": "/a"}],  # from missing
        [{"op": "copy", "path": "/a"}],
        [{"op": "add", "path": "a", "value": 1}],  # pointer without leading '/'
        [{"op": "add", "path": "/a~2", "value": 1}],  # bad escape
        ["add"],
    ],
)
def test_malformed_patch(patch: Any) -> None:
    with pytest.raises(MalformedPatchError):
        apply_json_patch({"a": 1}, patch)


# ---- pointer and array rules ------------------------------------------------------------


def test_escapes() -> None:
    doc = {"a/b": 1, "m~n": 2}
    assert apply_json_patch(doc, [{"op": "replace", "path": "/a~1b", "value": 3}])["a/b"] == 3
    assert apply_json_patch(doc, [{"op": "remove", "path": "/m~0n"}]) == {"a/b": 1}


@pytest.mark.parametrize(
    ("path", "ok"),
    [("/a/0", True), ("/a/2", True), ("/a/-", True), ("/a/3", False), ("/a/01", False),
     ("/a/-1", False), ("/a/x", False)],
)  # fmt: skip
def test_add_array_index_rules(path: str, ok: bool) -> None:
    patch = [{"op": "add", "path": path, "value": 9}]
    if ok:
        apply_json_patch({"a": [1, 2]}, patch)
    else:
        with pytest.raises(PatchError):
            apply_json_patch({"a": [1, 2]}, patch)


@pytest.mark.parametrize("path", ["/a/2", "/a/-", "/a/01"])
def test_remove_and_replace_need_existing_index(path: str) -> None:
    for op in ({"op": "remove", "path": path}, {"op": "replace", "path": path, "value": 0}):
        with pytest.raises(PatchError):
            apply_json_patch({"a": [1, 2]}, [op])


def test_replace_missing_member_fails() -> None:
    with pytest.raises(PatchError):
        apply_json_patch({"a": 1}, [{"op": "replace", "path": "/b", "value": 2}])


def test_whole_document_replace_and_add() -> None:
    replaced = apply_json_patch({"a": 1}, [{"op": "replace", "path": "", "value": {"b": 2}}])
    assert replaced == {"b": 2}
    added = apply_json_patch({"a": 1}, [{"op": "add", "path": "", "value": {"c": 3}}])
    assert added == {"c": 3}


def test_move_and_copy() -> None:
    doc = {"a": {"x": [1, 2]}, "b": {}}
    moved = apply_json_patch(doc, [{"op": "move", "from": "/a/x", "path": "/b/y"}])
    assert moved == {"a": {}, "b": {"y": [1, 2]}}
    copied = apply_json_patch(doc, [{"op": "copy", "from": "/a/x", "path": "/b/y"}])
    assert copied == {"a": {"x": [1, 2]}, "b": {"y": [1, 2]}}
    copied["b"]["y"].append(3)
    assert copied["a"]["x"] == [1, 2]  # a copy, not a shared object
    with pytest.raises(PatchError):
        apply_json_patch(doc, [{"op": "move", "from": "/a", "path": "/a/x/0"}])


def test_test_op_equality() -> None:
    doc = {"n": 1, "f": 1.0, "t": True, "o": {"a": [1, {"b": None}]}}
    passing = [
        {"op": "test", "path": "/n", "value": 1.0},
        {"op": "test", "path": "/f", "value": 1},
        {"op": "test", "path": "/t", "value": True},
        {"op": "test", "path": "/o", "value": {"a": [1.0, {"b": None}]}},
    ]
    assert apply_json_patch(doc, passing) == doc
    for value, path in ((1, "/t"), (True, "/n"), ("1", "/n"), ({"a": [1]}, "/o"), (None, "/n")):
        with pytest.raises(PatchError):
            apply_json_patch(doc, [{"op": "test", "path": path, "value": value}])


def test_error_names_operation_and_path() -> None:
    with pytest.raises(PatchError, match=r"operation 2 \(remove at '/nope'\)"):
        apply_json_patch({"a": 1}, [{"op": "test", "path": "/a", "value": 1},
                                    {"op": "remove", "path": "/nope"}])  # fmt: skip
