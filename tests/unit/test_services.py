"""Background services start after the store and stop before it, in reverse order."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from fhir_server import services
from fhir_server.app import create_app

EVENTS: list[str] = []


class _Recorder:
    def __init__(self, name: str, fail: bool = False) -> None:
        self.name = name
        self.fail = fail

    async def start(self) -> None:
        if self.fail:
            raise RuntimeError("cannot start")
        EVENTS.append(f"start {self.name}")

    async def stop(self) -> None:
        EVENTS.append(f"stop {self.name}")


def first(runtime):
    assert runtime.storage is not None
    return _Recorder("first")


def second(runtime):
    return _Recorder("second")


def broken(runtime):
    return _Recorder("broken", fail=True)


def test_services_start_in_order_and_stop_in_reverse(monkeypatch, settings):
    EVENTS.clear()
    monkeypatch.setattr(services, "FACTORIES", (f"{__name__}:first", f"{__name__}:second"))
    with TestClient(create_app(settings)) as client:
        assert client.get("/metadata").status_code == 200
        assert EVENTS == ["start first", "start second"]
    assert EVENTS == ["start first", "start second", "stop second", "stop first"]


def test_a_failing_service_stops_the_started_ones_and_fails_start(monkeypatch, settings):
    EVENTS.clear()
    monkeypatch.setattr(services, "FACTORIES", (f"{__name__}:first", f"{__name__}:broken"))
    with pytest.raises(RuntimeError), TestClient(create_app(settings)):
        pass
    assert EVENTS == ["start first", "stop first"]
