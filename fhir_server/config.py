"""Settings: one place, from FHIR_SERVER_* environment variables."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_FILE_VARIABLE = "FHIR_SERVER_CONFIG"


class ExternalIssuer(BaseModel):
    """An identity provider whose access tokens this server accepts."""

    issuer: str  # the exact `iss` of its tokens
    jwks_url: str = ""  # where its public keys are published, or
    jwks_file: str = ""  # a file holding them (a JWKS document)
    # accepted `aud` values besides the server's base URL
    audience: list[str] = []


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
    # Most entries a batch or transaction Bundle may hold (413 above it): one request
    # must not hold the store for long.
    max_bundle_entries: int = 10_000
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
    # How long one search may query the store (seconds): a search still running then is
    # stopped and answered 400 (too-costly), so that no single query holds a reader.
    search_timeout_seconds: float = 30.0
    log_level: str = "info"
    # Profile validation on create/update/transaction: resources claiming a known profile
    # in meta.profile are validated against it (errors: 422, nothing stored).
    validate_profiles_on_write: bool = True
    # A claimed profile the server does not know: "warning" (logged, the write goes on),
    # "error" (422) or "ignore".
    unknown_profile_on_write: str = "warning"
    # Profiles every resource of a type must meet on write, claimed or not:
    # {"Communication": ["http://…/StructureDefinition/…"]}.
    required_profiles: dict[str, list[str]] = {}
    # More folders of conformance resources (JSON) besides profiles/ and terminology/.
    conformance_dirs: list[Path] = []
    # Subscriptions. Hosts (a name or address, optionally with :port) that rest-hook
    # endpoints may name: none by default, so that no notification leaves the server for an
    # address nobody configured (e.g. an internal service). JSON list in the environment.
    subscription_endpoint_hosts: list[str] = []
    # Retries of a failed notification: first delay, largest delay (seconds; exponential
    # with jitter in between), and the failed tries in a row after which the subscription
    # is in error (it keeps its events and goes on trying at the largest delay).
    subscription_retry_base: float = 1.0
    subscription_retry_max: float = 300.0
    subscription_error_after: int = 5
    # Seconds one notification may take (a subscription may ask for less).
    subscription_timeout: float = 10.0
    # Notifications in flight at once, over all subscriptions.
    subscription_max_in_flight: int = 64
    # Several server processes on one database share the subscriptions: each delivers those
    # it holds a lease on, renewed every third of this (seconds); a stopped process's
    # subscriptions move to another after at most this long.
    subscription_lease_seconds: float = 15.0
    # On the embedded SQLite store, rest-hook notifications are sent by a second process
    # (`fhir-server subscriptions-worker`, started, watched and stopped by the server), so
    # that matching, numbering and sending them takes little of the server's CPU time from
    # requests and a slow or failing receiver never competes with them (measured with
    # bench/subscriptions.py, 100 subscriptions, one notification per write: writes −5 to
    # −7 % instead of −22 % in the server process (medians of 3 rounds); notification latency
    # p50 ~4 ms, p99 ~9 ms at 200 writes/s; one more process, ~210 MB). False: the server
    # process delivers them itself. Ignored on PostgreSQL, where every server process
    # delivers its share.
    subscription_process: bool = True
    # How long a websocket binding token is valid (seconds).
    subscription_ws_token_seconds: int = 600
    # TLS of rest-hook endpoints (https): a PEM file of further CAs their certificates may
    # chain to, besides the system's (e.g. SITHS), and this server's client certificate and
    # key (PEM) for endpoints that require one (mutual TLS).
    subscription_tls_ca_file: Path | None = None
    subscription_tls_cert_file: Path | None = None
    subscription_tls_key_file: Path | None = None
    # Security. Tokens are required unless this is set: for local development only (the
    # server then logs a loud warning and keeps no audit trail).
    insecure_no_auth: bool = False
    # Store our definitions (profiles/, terminology/) as resources at start, so clients can
    # read and search them (GET /StructureDefinition?url=…).
    publish_definitions: bool = True
    # Lifetime of the access tokens the built-in authorization server issues, in seconds.
    access_token_lifetime: int = 300
    # Accepted `aud` values of access tokens besides the server's base URL.
    auth_audience: list[str] = []
    # External identity providers (JSON in FHIR_SERVER_AUTH_ISSUERS).
    auth_issuers: list[ExternalIssuer] = []
    # The claim of an access token naming the caller's organisation (HSA-id or kommunkod).
    auth_organisation_claim: str = "organisation"
    # LUS reports: a TOML file of payment-liability rule sets and daily amounts replacing
    # the shipped fhir_server/transitions/reports/rule_sets.toml (docs/reports.md).
    report_rule_sets: str = ""
    # The PDL audit trail (an AuditEvent for every access) while security is on.
    audit_enabled: bool = True
    # The HL7 v2 ADT feed over MLLP (fhir_server/mappings/mllp.py): the TCP port (0: off)
    # and address. MLLP has no authentication: reachable only from the PAS integration
    # network. A larger frame is answered AR and the connection closed; a connection
    # sending no complete frame for mllp_timeout seconds is closed.
    mllp_port: int = 0
    mllp_host: str = "127.0.0.1"
    mllp_max_frame_bytes: int = 1024 * 1024
    mllp_timeout: float = 300.0

    # The LUS workflow's deadlines, regions and hemgångsklar checklists (TOML; see
    # fhir_server/transitions/workflow_rules.toml, the default).
    lus_workflow_rules: Path | None = None
    # Our LUS resources (notices, Tasks, stays, care plans) are validated against their
    # profile on write whether they claim it or not (at the end of the write, with what the
    # server adds, e.g. a notice's receivers).
    lus_profiles_on_write: bool = True
    # How often the LUS clocks look for Tasks past their deadline (seconds).
    lus_clock_interval: float = 30.0

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "fhir.sqlite3"

    @property
    def auth_path(self) -> Path:
        """Registered clients and used client-assertion ids of the authorization server."""
        return self.data_dir / "auth.sqlite3"

    @property
    def signing_key_path(self) -> Path:
        return self.data_dir / "signing-key.jwk.json"
