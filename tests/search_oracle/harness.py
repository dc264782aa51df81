"""A server in process with a data set loaded, and the oracle over the same data.

Loading goes through the storage port in batches (one job per batch), which is ~20 times
faster than a PUT per resource; searching goes through HTTP, as a client searches.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.testclient import TestClient

from fhir_server import fhirjson
from fhir_server.app import create_app
from fhir_server.config import Settings
from fhir_server.storage.port import RequestContext, Transaction
from tests.conftest import shared_path
from tests.support.search_oracle import Oracle
from tests.support.search_oracle.definitions import Registry, load_registry
from tests.support.search_oracle.terminology import Terminology, load_terminology

BASE_URL = "http://testserver"
BATCH = 500


def registry() -> Registry:
    return load_registry(shared_path("core/hl7.fhir.r4.core-4.0.1.tgz"))


def terminology() -> Terminology:
    """The core package's and the project's own (terminology/) code systems and value sets."""
    folder = Path(__file__).resolve().parents[2] / "terminology"
    return load_terminology(shared_path("core/hl7.fhir.r4.core-4.0.1.tgz"), folder)


class Loaded:
    """The client of a server holding a data set, and the oracle over the stored JSON."""

    def __init__(self, client: TestClient, stored: list[dict[str, Any]]) -> None:
        self.client = client
        self.stored = stored
        self.oracle = Oracle(stored, registry(), BASE_URL, terminology=terminology())

    def server_ids(self, resource_type: str, criteria: Sequence[tuple[str, str]]) -> set[str]:
        """The ids a search over HTTP finds, every page followed."""
        query = urlencode([*criteria, ("_count", "1000"), ("_total", "none")])
        url: str | None = f"/{resource_type}?{query}"
        ids: set[str] = set()
        pages = 0
        while url is not None:
            response = self.client.get(url)
            if response.status_code != 200:
                raise ServerRefused(response.status_code, response.text[:600])
            bundle = response.json()
            ids.update(
                e["resource"]["id"]
                for e in bundle.get("entry", [])
                if e.get("search", {}).get("mode") == "match"
            )
            url = next((x["url"] for x in bundle.get("link", []) if x["relation"] == "next"), None)
            pages += 1
            assert pages < 100, "paging does not end"
        return ids


class ServerRefused(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"{status}: {text}")
        self.status = status


@contextmanager
def loaded_server(tmp: Path, resources: Iterable[bytes]) -> Iterator[Loaded]:
    """A server on a fresh store holding `resources` (JSON bytes, each with an id)."""
    settings = Settings(
        data_dir=tmp,
        base_url=BASE_URL,
        max_page_size=1000,
        insecure_no_auth=True,
        publish_definitions=False,
    )
    with TestClient(create_app(settings), base_url=BASE_URL) as client:
        storage = client.app.state.runtime.storage  # type: ignore[attr-defined]
        stored_bytes: list[bytes] = []
        batch: list[dict[str, Any]] = []

        async def write(tx: Transaction) -> list[bytes]:
            out = []
            for resource in batch:
                version = await tx.write(resource["resourceType"], resource["id"], resource, "PUT")
                assert version.data is not None
                out.append(version.data)
            return out

        def flush() -> None:
            assert client.portal is not None
            stored_bytes.extend(client.portal.call(storage.run, RequestContext(), write))
            batch.clear()

        for raw in resources:
            batch.append(fhirjson.loads(raw))
            if len(batch) >= BATCH:
                flush()
        if batch:
            flush()
        # the oracle reads what was stored, decimals with their written precision
        latest: dict[tuple[str, str], dict[str, Any]] = {}
        for data in stored_bytes:
            resource = json.loads(data, parse_float=Decimal)
            latest[resource["resourceType"], resource["id"]] = resource
        yield Loaded(client, list(latest.values()))
