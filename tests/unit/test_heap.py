"""Start-up's objects are out of the garbage collector's way once a server is ready."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_PROBE = """
import asyncio, gc, sys
from fhir_server.app import create_app
from fhir_server.config import Settings

async def main():
    app = create_app(Settings(data_dir=sys.argv[1], insecure_no_auth=True))
    before = gc.get_freeze_count()
    await app.startup()
    try:
        print(before, gc.get_freeze_count())
    finally:
        await app.shutdown()

asyncio.run(main())
"""


def test_a_started_server_has_frozen_its_startup_objects(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    before, after = map(int, out.stdout.split())
    assert before == 0
    # the definitions alone are well over 100 000 objects
    assert after > 100_000


def test_freezing_happens_once_per_process() -> None:
    import gc

    from fhir_server import heap

    frozen = heap._frozen
    heap._frozen = True
    try:
        count = gc.get_freeze_count()
        heap.freeze_startup_objects()
        assert gc.get_freeze_count() == count
    finally:
        heap._frozen = frozen
