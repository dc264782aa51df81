"""The MLLP listener as a background service: off unless configured, and it stops promptly
with connections open (idle, and half-way through a frame)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.config import Settings
from fhir_server.mappings import mllp
from fhir_server.outcome import error
from fhir_server.services import STOP_SECONDS
from tests.mappings.messages import VISIT_SYSTEM, adt, segments
from tests.mappings.mllp_client import START, MllpClient
from tests.support.server_process import free_port
from tests.support.smart import bearer, server_token


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_off_without_a_port(settings: Settings) -> None:
    assert settings.mllp_port == 0
    with TestClient(create_app(settings)) as client:
        assert client.get("/metadata").status_code == 200
        services = client.app.state.services  # type: ignore[attr-defined]
        (listener,) = [s for s in services if type(s).__name__ == "MllpListener"]
        assert listener.port is None


@pytest.fixture
def mllp_settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        insecure_no_auth=True,
        publish_definitions=False,
        mllp_port=free_port(),
    )


def test_stops_promptly_with_connections_open(mllp_settings: Settings) -> None:
    port = mllp_settings.mllp_port
    with TestClient(create_app(mllp_settings)):
        with MllpClient(port) as pas:
            assert segments(pas.send(adt("A01")))["MSA"][1] == "AA"
        idle = MllpClient(port)
        half = MllpClient(port)
        half.send_bytes(START + b"MSH|^~\\&|PAS|")  # a frame that never ends
        time.sleep(0.2)
        stopping = time.monotonic()
    took = time.monotonic() - stopping
    assert took < min(5.0, STOP_SECONDS), took
    assert idle.closed_by_server() and half.closed_by_server()
    idle.sock.close()
    half.sock.close()
    assert _refused(port)


def test_with_security_on_mllp_writes_are_the_feeds_and_audited(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        insecure_no_auth=False,
        publish_definitions=False,
        mllp_port=free_port(),
    )
    reader = bearer(server_token(settings.data_dir, "system/*.rs"))
    with TestClient(create_app(settings)) as client:
        with MllpClient(settings.mllp_port) as pas:
            assert segments(pas.send(adt("A01", visit="VT-SEC-1")))["MSA"][1] == "AA"
        found = client.get(
            "/Encounter", params={"identifier": f"{VISIT_SYSTEM}|VT-SEC-1"}, headers=reader
        )
        assert len(found.json()["entry"]) == 1
        audit = client.get("/AuditEvent", params={"altid": "hl7v2-mllp"}, headers=reader).json()
        (event,) = [e["resource"] for e in audit["entry"]]
        assert event["agent"][0]["network"]["address"] == "127.0.0.1"
        entities = str(event["entity"])
        assert "Patient/" in entities and "Encounter/" in entities


def test_a_store_that_cannot_write_now_gets_no_ack(
    mllp_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unavailable(*args: object) -> None:
        raise error(503, "transient", "the store could not commit the change")

    with TestClient(create_app(mllp_settings)):
        monkeypatch.setattr(mllp, "process", unavailable)
        with MllpClient(mllp_settings.mllp_port) as pas:
            pas.send_bytes(START + adt("A01").encode() + b"\x1c\r")
            assert pas.closed_by_server() and pas.buffer == b""
        monkeypatch.undo()
        with MllpClient(mllp_settings.mllp_port) as pas:  # sent again, it is applied
            assert segments(pas.send(adt("A01")))["MSA"][1] == "AA"
