"""One query, asked of the server and of the oracle: the ids must be the same."""

from __future__ import annotations

from collections import Counter

from hypothesis import reject

from tests.search_oracle.harness import Loaded, ServerRefused
from tests.support.search_oracle import OracleUnsupported
from tests.support.search_oracle.evaluator import KNOWN_DEVIATIONS

# queries whose disagreement a known deviation explains, by test data set
EXPLAINED: Counter[str] = Counter()


def agree(
    loaded: Loaded, resource_type: str, criteria: list[tuple[str, str]], label: str = ""
) -> None:
    """The server finds what the oracle finds; or what the oracle finds when it deviates
    as the server is known to (KNOWN_DEVIATIONS, each proven by an xfail test)."""
    try:
        expected = loaded.oracle.search(resource_type, criteria)
    except OracleUnsupported:
        reject()
    query = "&".join(f"{name}={value}" for name, value in criteria)
    try:
        found = loaded.server_ids(resource_type, criteria)
    except ServerRefused as refused:
        raise AssertionError(f"GET {resource_type}?{query} refused: {refused}") from None
    if found != expected:
        as_server = loaded.oracle.deviating(KNOWN_DEVIATIONS).search(resource_type, criteria)
        if found == as_server:
            EXPLAINED[label] += 1
            return
    assert found == expected, (
        f"GET {resource_type}?{query}\n"
        f"  only the oracle: {sorted(expected - found)[:10]}\n"
        f"  only the server: {sorted(found - expected)[:10]}"
    )
