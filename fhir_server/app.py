"""The application factory: settings → definitions → storage → routers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from fhir_server.config import Settings
from fhir_server.definitions import load_definitions
from fhir_server.rest import capability, history, instance, system, type_level
from fhir_server.rest.errors import install_error_handlers
from fhir_server.runtime import Runtime
from fhir_server.storage.sqlite import SqliteStorage
from fhir_server.validation import default_validator

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        definitions = load_definitions()
        storage = SqliteStorage(
            settings.sqlite_path,
            definitions,
            synchronous=settings.sqlite_synchronous,
            group_commit_max=settings.sqlite_group_commit_max,
            base_url=settings.base_url or None,
        )
        await storage.start()
        app.state.runtime = Runtime(settings, definitions, default_validator(), storage)
        log.info("FHIR server ready, data in %s", settings.sqlite_path)
        try:
            yield
        finally:
            await storage.close()

    app = FastAPI(
        title="fhir-server",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    install_error_handlers(app)
    # Order matters: fixed paths before the {resource_type} patterns.
    app.include_router(capability.router)
    app.include_router(system.router)
    app.include_router(history.router)
    app.include_router(type_level.router)
    app.include_router(instance.router)
    return app
