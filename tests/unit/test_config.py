"""Settings come from arguments, FHIR_SERVER_* variables and an optional TOML file."""

from __future__ import annotations

from pathlib import Path

import pytest

from fhir_server.config import Settings


def test_defaults_need_no_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FHIR_SERVER_PORT", "FHIR_SERVER_CONFIG", "FHIR_SERVER_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.port == 8080
    assert settings.sqlite_path == Path("fhir-data") / "fhir.sqlite3"


def test_environment_and_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "fhir-server.toml"
    config.write_text('port = 9001\nmax_body_bytes = 1234\ndata_dir = "/srv/fhir"\n')
    monkeypatch.setenv("FHIR_SERVER_CONFIG", str(config))
    monkeypatch.setenv("FHIR_SERVER_PORT", "9002")
    settings = Settings()
    assert settings.port == 9002  # the environment wins over the file
    assert settings.max_body_bytes == 1234
    assert settings.data_dir == Path("/srv/fhir")
    assert Settings(port=9003).port == 9003  # arguments win over both
