"""Our conformance resources as FHIR resources of the server (`GET /StructureDefinition?url=…`).

At start, every definition of ours (profiles/ and terminology/, not the examples: the
StructureDefinitions, SearchParameters, CodeSystems incl. kommun and län, ValueSets and
the SubscriptionTopics as Basic) is stored under its own id, unless the store already
holds the same content. The store is then where clients search and read them, like any
resource; the files stay the source: a changed file is stored as a new version at the next
start. Writes run as the server itself (a context without a caller), so they are not
subject to a client's scopes.
"""

from __future__ import annotations

import logging

from fhir_server import fhirjson
from fhir_server.definitions.content import conformance_raw
from fhir_server.interactions.update import update_in
from fhir_server.runtime import Runtime
from fhir_server.storage.port import RequestContext, Transaction

log = logging.getLogger(__name__)

SERVER = RequestContext(principal="fhir-server")


class ConformancePublisher:
    """A service that publishes the definitions once at start; nothing runs afterwards."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def start(self) -> None:
        if not self.runtime.settings.publish_definitions:
            return
        definitions = [fhirjson.loads(raw) for _, raw in conformance_raw()]

        async def job(tx: Transaction) -> None:
            # update_in keeps the version when the content is the same (a no-op update)
            for resource in definitions:
                await update_in(tx, resource["resourceType"], resource["id"], resource)

        await self.runtime.storage.run(SERVER, job)
        log.info("%d conformance resources of ours are published", len(definitions))

    async def stop(self) -> None:
        return None


def publisher(runtime: Runtime) -> ConformancePublisher:
    return ConformancePublisher(runtime)
