"""The application: settings → definitions → storage → the FHIR API as one ASGI app.

The HTTP layer is Starlette's Request and Response with our own dispatcher
(rest/routes.py). FastAPI's routing was measured at ~180 µs per request on this class of
machine (3 600 req/s for a trivial endpoint against 10 800 for the same endpoint on bare
ASGI), more than a whole FHIR read costs; the FHIR API has eight URL shapes and needs
none of FastAPI's parameter binding.
"""

from __future__ import annotations

import logging

from starlette.datastructures import State
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from fhir_server import services
from fhir_server.auth.security import Security
from fhir_server.auth.storage import SecuredStorage
from fhir_server.config import Settings
from fhir_server.definitions import load_definitions
from fhir_server.heap import freeze_startup_objects
from fhir_server.rest import operation_list
from fhir_server.rest.errors import answer_exception
from fhir_server.rest.routes import dispatch
from fhir_server.runtime import Runtime
from fhir_server.storage.configured import describe, storage_for
from fhir_server.storage.port import Storage
from fhir_server.subscriptions import service as subscription_service
from fhir_server.subscriptions import websocket as subscription_websocket
from fhir_server.transitions.reactions import Workflow
from fhir_server.transitions.rules import load_rules
from fhir_server.transitions.storage import WorkflowStorage
from fhir_server.validation import default_validator
from fhir_server.validation.profile import load_profile_validator

log = logging.getLogger(__name__)

INSECURE_WARNING = (
    "\n" + "!" * 78 + "\n"
    "!! SECURITY IS OFF (insecure_no_auth): no tokens are checked, every caller may read\n"
    "!! and change everything, and no audit trail is kept. For local development only.\n" + "!" * 78
)


class FhirApp:
    """An ASGI application serving the FHIR RESTful API."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.state = State()
        self.state.security = None

    async def startup(self) -> None:
        if self.settings.insecure_no_auth:
            log.warning(INSECURE_WARNING)
        else:
            security = Security(self.settings)
            self.state.security = security
            await security.start()
        runtime = build_runtime(self.settings)
        await runtime.storage.start()
        self.state.runtime = runtime
        started = services.build(runtime)
        await services.start_all(started)  # on failure it stops those it started
        self.state.services = started
        freeze_startup_objects()
        log.info("FHIR server ready, data in %s", describe(self.settings))

    async def shutdown(self) -> None:
        await services.stop_all(getattr(self.state, "services", []))
        self.state.services = []
        runtime: Runtime | None = getattr(self.state, "runtime", None)
        if runtime is not None:
            await runtime.storage.close()
        security: Security | None = self.state.security
        if security is not None:
            security.close()
            self.state.security = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "websocket":  # apps bound to websocket subscriptions
            runtime = getattr(self.state, "runtime", None)
            service = subscription_service.running(runtime) if runtime is not None else None
            await subscription_websocket.serve(scope, receive, send, service)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self
        request = Request(scope, receive)
        try:
            response = await dispatch(request)
        except Exception as exc:
            response = answer_exception(request, exc)
        try:
            await response(scope, receive, send)
        except Exception:  # the client went away, or the response broke half-way
            log.exception("could not send the response to %s %s", request.method, scope["path"])

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    log.exception("start-up failed")
                    await self.shutdown()  # release what did start: the store, services
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    raise  # as Starlette's router does: the server sees the failure
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


def build_runtime(settings: Settings, *, secondary: bool = False) -> Runtime:
    """The runtime of a process serving the store: its storage (not started yet) wrapped in
    the LUS workflow and, while security is on, in the access policy and audit trail.
    `secondary`: a second process on the server's SQLite store (subscriptions/worker.py)."""
    definitions = load_definitions()
    storage: Storage = storage_for(settings, definitions, secondary=secondary)
    # the LUS workflow reacts to notices inside each write's own transaction
    profiles = load_profile_validator(definitions, tuple(settings.conformance_dirs))
    workflow = Workflow(load_rules(settings.lus_workflow_rules))
    lus_checked = profiles if settings.lus_profiles_on_write else None
    storage = WorkflowStorage(storage, workflow, lus_checked)
    if not settings.insecure_no_auth:
        # every access goes through scope limits, the organisation policy and the audit
        storage = SecuredStorage(storage, definitions, audit=settings.audit_enabled)
    return Runtime(settings, definitions, default_validator(), storage, profiles, workflow)


def create_app(settings: Settings | None = None) -> FhirApp:
    operation_list.install()
    return FhirApp(settings or Settings())
