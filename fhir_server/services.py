"""Background services that live as long as the server: started after the store, stopped
before it.

A service is built from the runtime by a factory named in `FACTORIES`
("module:function"); the subscription delivery worker, the LUS clocks and the HL7 v2
MLLP listener are services.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Callable
from typing import Protocol

from fhir_server.runtime import Runtime

log = logging.getLogger(__name__)


class Service(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


FACTORIES: tuple[str, ...] = (
    "fhir_server.conformance.publish:publisher",  # first: the others may read definitions
    "fhir_server.subscriptions.service:create",
    # after the service above: the worker process finds the subscriptions opened
    "fhir_server.subscriptions.worker:supervisor",
    "fhir_server.transitions.clocks:create",
    "fhir_server.mappings.mllp:create",  # the HL7 v2 ADT feed, when mllp_port is set
)


def build(runtime: Runtime) -> list[Service]:
    services = []
    for path in FACTORIES:
        module_name, _, function = path.partition(":")
        module = importlib.import_module(module_name)
        factory: Callable[[Runtime], Service] = getattr(module, function)
        services.append(factory(runtime))
    return services


async def start_all(services: list[Service]) -> None:
    started: list[Service] = []
    try:
        for service in services:
            await service.start()
            started.append(service)
    except BaseException:
        await stop_all(started)
        raise


STOP_SECONDS = 15.0


async def stop_all(services: list[Service]) -> None:
    for service in reversed(services):
        try:
            # a service that does not stop must not keep the server (and its store) up
            async with asyncio.timeout(STOP_SECONDS):
                await service.stop()
        except Exception:  # one service failing to stop must not keep the others running
            log.exception("could not stop %r", service)
