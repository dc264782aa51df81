"""The server's search and the oracle agree over the whole official examples package."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import read_tgz_json, shared_path
from tests.search_oracle.compare import agree
from tests.search_oracle.harness import Loaded, loaded_server
from tests.search_oracle.queries import QueryMaker

_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
QUERIES = 250


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    archive = shared_path("examples/hl7.fhir.r4.examples-4.0.1.tgz")
    raws = [
        orjson.dumps(resource)
        for _, resource in read_tgz_json(archive)
        if isinstance(resource, dict)
        and "resourceType" in resource
        and isinstance(resource.get("id"), str)
        and _ID.fullmatch(resource["id"])
    ]
    with loaded_server(tmp_path_factory.mktemp("examples"), raws) as loaded:
        yield loaded


@pytest.fixture(scope="module")
def maker(examples: Loaded) -> QueryMaker:
    return QueryMaker(examples.oracle)


def test_every_example_is_stored(examples: Loaded) -> None:
    assert len(examples.stored) > 5000


@settings(
    max_examples=QUERIES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(data=st.data())
def test_server_and_oracle_agree(examples: Loaded, maker: QueryMaker, data: Any) -> None:
    resource_type, criteria = data.draw(maker.query(), label="query")
    agree(examples, resource_type, criteria, "examples")
