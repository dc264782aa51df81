"""The server's search and the oracle agree over generated Swedish data (swedish_data.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.search_oracle.compare import EXPLAINED, agree
from tests.search_oracle.harness import Loaded, loaded_server
from tests.search_oracle.queries import QueryMaker
from tests.search_oracle.swedish_data import resources

QUERIES = 300


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    with loaded_server(tmp_path_factory.mktemp("generated"), resources()) as loaded:
        yield loaded


@pytest.fixture(scope="module")
def maker(generated: Loaded) -> QueryMaker:
    return QueryMaker(generated.oracle)


def test_the_data_is_what_search_must_get_right(generated: Loaded) -> None:
    """Accents, partial dates and quantities at several precisions are all there."""
    by_type = {t: len(rs) for t, rs in generated.oracle.by_type.items()}
    assert by_type["Patient"] == 120 and by_type["Observation"] > 300
    assert generated.oracle.search("Patient", [("given", "asa")]) == generated.server_ids(
        "Patient", [("given", "Åsa")]
    )
    assert len(generated.oracle.search("Patient", [("given", "asa")])) > 10


@settings(
    max_examples=QUERIES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(data=st.data())
def test_server_and_oracle_agree(generated: Loaded, maker: QueryMaker, data: Any) -> None:
    resource_type, criteria = data.draw(maker.query(), label="query")
    agree(generated, resource_type, criteria, "generated")


def test_report_explained_disagreements() -> None:
    print(f"\ndisagreements explained by known deviations: {dict(EXPLAINED)}")
