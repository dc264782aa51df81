"""Settings come from arguments, FHIR_SERVER_* variables and an optional TOML file."""

from __future__ import annotations

from pathlib import Path

import pytest

from fhir_server.config import Settings
from fhir_server.storage.configured import subscription_worker_wanted


def test_defaults_need_no_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PORT", "CONFIG", "DATA_DIR", "SUBSCRIPTION_PROCESS", "DATABASE_URL"):
        monkeypatch.delenv(f"FHIR_SERVER_{name}", raising=False)
    settings = Settings()
    assert settings.port == 8080
    assert settings.sqlite_path == Path("fhir-data") / "fhir.sqlite3"
    # rest-hook delivery in the worker process beside a SQLite server; not on PostgreSQL
    assert subscription_worker_wanted(settings)
    assert not subscription_worker_wanted(Settings(database_url="postgresql://db/fhir"))


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
