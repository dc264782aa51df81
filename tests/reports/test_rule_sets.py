"""The rule-set file: the shipped four, schema errors named, the digest, the override setting."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.config import Settings
from fhir_server.transitions.reports import rule_sets
from fhir_server.transitions.reports.rule_sets import RuleSetError, parse


def _document(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = tomllib.loads(rule_sets.SHIPPED.read_text(encoding="utf-8"))
    for dotted, value in changes.items():
        *path, last = dotted.split("__")
        table = document
        for key in path:
            table = table[key]
        if value is None:
            del table[last]
        else:
            table[last] = value
    return document


def test_the_shipped_rule_sets_are_four_choices_of_the_same_mechanisms() -> None:
    book = rule_sets.load()
    assert set(book.rule_sets) == {"lag", "stockholm", "kalmar", "halland"}
    assert book.default == "lag"
    assert dict(book.daily_amounts) == {2019: 7800, 2022: 9300}
    lag, stockholm = book.get("lag"), book.get("stockholm")
    kalmar, halland = book.get("kalmar"), book.get("halland")
    assert stockholm.cutoff is not None and stockholm.cutoff.isoformat() == "12:00:00"
    assert lag.cutoff is None and halland.cutoff is None and kalmar.cutoff is None
    assert (stockholm.rule("somatisk").free_days, stockholm.rule("psykiatrisk").free_days) == (2, 5)
    assert {r.rule("somatisk").model for r in (lag, stockholm, kalmar)} == {
        "individual",
        "average",
        "threshold",
    }
    assert kalmar.rule("somatisk").threshold == 3.0
    assert kalmar.rule("psykiatrisk").free_days == 20
    assert lag.region_conditions == ("inskrivningsmeddelande", "kalla-till-sip")


def test_the_digest_changes_with_any_figure() -> None:
    book = parse(_document())
    same = parse(_document())
    lag = book.get("lag")
    assert book.digest(lag, [2022]) == same.digest(same.get("lag"), [2022])
    assert book.digest(lag, [2022]) != book.digest(book.get("halland"), [2022])
    cheaper = parse(_document(daily_amounts__2022=9000))
    assert book.digest(lag, [2022]) != cheaper.digest(cheaper.get("lag"), [2022])
    other_rule = parse(_document(rule_sets__lag__somatisk={"free_days": 3, "model": "individual"}))
    assert book.digest(lag, [2022]) != other_rule.digest(other_rule.get("lag"), [2022])


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"rule_sets__lag__somatisk": {"free_days": 2, "model": "median"}}, "lag.somatisk.model"),
        ({"rule_sets__lag__somatisk": {"free_days": -1, "model": "individual"}}, "free_days"),
        ({"rule_sets__kalmar__somatisk": {"free_days": 3, "model": "threshold"}}, "threshold"),
        ({"rule_sets__lag__cutoff": "noon"}, "lag.cutoff"),
        ({"rule_sets__lag__region_conditions": ["sip"]}, "region_conditions"),
        ({"rule_sets__lag__psykiatrisk": None}, "psykiatrisk"),
        ({"rule_sets__lag__free_days": 2}, "unknown key"),
        ({"daily_amounts__2023": 0}, "daily_amounts.2023"),
        ({"daily_amounts__next": 9000}, "daily_amounts.next"),
        ({"settings__default_rule_set": "uppsala"}, "default_rule_set"),
    ],
)
def test_schema_errors_name_the_key(changes: dict[str, Any], named: str) -> None:
    with pytest.raises(RuleSetError, match=named.replace(".", r"\.")):
        parse(_document(**changes))


def test_an_override_file_from_the_setting(tmp_path: Path) -> None:
    text = rule_sets.SHIPPED.read_text(encoding="utf-8").replace(
        "[daily_amounts]", "[daily_amounts]\n2026 = 10000"
    )
    override = tmp_path / "regler.toml"
    override.write_text(text, encoding="utf-8")
    settings = Settings(
        data_dir=tmp_path / "data",
        insecure_no_auth=True,
        publish_definitions=False,
        report_rule_sets=str(override),
    )
    with TestClient(create_app(settings)) as client:
        answer = client.get("/$betalningsansvar", params={"month": "2026-02"})
        assert answer.status_code == 200, answer.text
        rule_set = answer.json()["extension"][0]["extension"]
        (amount,) = [e for e in rule_set if e["url"] == "dailyAmount"]
        assert amount["extension"][1]["valueMoney"]["value"] == 10000
    broken = tmp_path / "trasig.toml"
    broken.write_text('[rule_sets.lag]\ntitle = "x"\n', encoding="utf-8")
    settings = Settings(
        data_dir=tmp_path / "data2",
        insecure_no_auth=True,
        publish_definitions=False,
        report_rule_sets=str(broken),
    )
    with TestClient(create_app(settings)) as client:
        answer = client.get("/$betalningsansvar", params={"month": "2022-02"})
        assert answer.status_code == 500
        assert "the care type somatisk has no rule" in answer.json()["issue"][0]["diagnostics"]
