"""Settings: one place, from FHIR_SERVER_* environment variables."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_FILE_VARIABLE = "FHIR_SERVER_CONFIG"


class Settings(BaseSettings):
    """Defaults run a complete server. Precedence: arguments, FHIR_SERVER_* environment
    variables, then the TOML file named by FHIR_SERVER_CONFIG (keys as the field names)."""

    model_config = SettingsConfigDict(env_prefix="FHIR_SERVER_", extra="ignore")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_FILE_VARIABLE)
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("fhir-data")
    # Public base URL used in Location headers and Bundle fullUrls; derived from the
    # request when empty.
    base_url: str = ""
    # Largest request body accepted, in bytes (413 above it).
    max_body_bytes: int = 16 * 1024 * 1024
    # Default and largest page size for history and search.
    default_page_size: int = 50
    max_page_size: int = 1000
    # SQLite durability: NORMAL survives a process crash (kill -9) under WAL;
    # FULL also survives power loss at the cost of an fsync per group commit.
    sqlite_synchronous: str = "NORMAL"
    # Most write jobs one group commit may hold.
    sqlite_group_commit_max: int = 256
    # postgresql://user:password@host:port/database runs on PostgreSQL (several server
    # processes may share it); empty runs on the embedded SQLite store in data_dir.
    database_url: str = ""
    # Connections per server process (see docs/postgres.md for sizing).
    database_pool_size: int = 10
    log_level: str = "info"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "fhir.sqlite3"
