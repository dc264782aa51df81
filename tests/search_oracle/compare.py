"""One query, asked of the server and of the oracle: the ids must be the same."""

from __future__ import annotations

from hypothesis import reject

from tests.search_oracle.harness import Loaded, ServerRefused
from tests.support.search_oracle import OracleUnsupported


def agree(loaded: Loaded, resource_type: str, criteria: list[tuple[str, str]]) -> None:
    try:
        expected = loaded.oracle.search(resource_type, criteria)
    except OracleUnsupported:
        reject()
    query = "&".join(f"{name}={value}" for name, value in criteria)
    try:
        found = loaded.server_ids(resource_type, criteria)
    except ServerRefused as refused:
        raise AssertionError(f"GET {resource_type}?{query} refused: {refused}") from None
    assert found == expected, (
        f"GET {resource_type}?{query}\n"
        f"  only the oracle: {sorted(expected - found)[:10]}\n"
        f"  only the server: {sorted(found - expected)[:10]}"
    )
