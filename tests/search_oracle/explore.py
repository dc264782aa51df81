"""Ask many generated queries of the server and the oracle and list every disagreement.

    python -m tests.search_oracle.explore examples 2000
    python -m tests.search_oracle.explore generated 2000

Unlike the tests, it does not stop at the first disagreement and does not shrink: it
groups what it finds by the parameters involved, and marks those a known deviation
explains. Queries are random here (not derandomized), so each run explores afresh.
"""

from __future__ import annotations

import re
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.conftest import read_tgz_json, shared_path
from tests.search_oracle.harness import ServerRefused, loaded_server
from tests.search_oracle.queries import QueryMaker
from tests.search_oracle.swedish_data import resources
from tests.support.search_oracle import OracleUnsupported
from tests.support.search_oracle.evaluator import KNOWN_DEVIATIONS

_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def _examples() -> list[bytes]:
    archive = shared_path("examples/hl7.fhir.r4.examples-4.0.1.tgz")
    return [
        orjson.dumps(r)
        for _, r in read_tgz_json(archive)
        if isinstance(r, dict) and isinstance(r.get("id"), str) and _ID.fullmatch(r["id"])
    ]


def main(which: str, count: int) -> None:
    data = _examples() if which == "examples" else resources()
    found: dict[str, list[Any]] = defaultdict(list)
    stats: Counter[str] = Counter()
    with loaded_server(Path(tempfile.mkdtemp()), data) as loaded:
        maker = QueryMaker(loaded.oracle)
        as_server = loaded.oracle.deviating(KNOWN_DEVIATIONS)

        @settings(
            max_examples=count,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(st.data())
        def run(draw: Any) -> None:
            resource_type, criteria = draw.draw(maker.query())
            try:
                expected = loaded.oracle.search(resource_type, criteria)
            except OracleUnsupported:
                stats["not modelled"] += 1
                return
            try:
                got = loaded.server_ids(resource_type, criteria)
            except ServerRefused as refused:
                stats["refused"] += 1
                found[f"REFUSED {str(refused)[:120]}"].append((resource_type, criteria))
                return
            stats["matches" if expected else "empty"] += 1
            if got == expected:
                return
            known = got == as_server.search(resource_type, criteria)
            stats["known deviation" if known else "DISAGREE"] += 1
            names = ",".join(sorted({n.split(".")[0] for n, _ in criteria}))
            key = f"{'known' if known else 'DISAGREE'} {names}"
            found[key].append((resource_type, criteria, expected - got, got - expected))

        run()
    print(dict(stats))
    for key, cases in sorted(found.items(), key=lambda kv: -len(kv[1])):
        print(len(cases), key)
        for case in cases[:3]:
            print("   ", case)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
