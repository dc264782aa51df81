"""`fhir-server import` on both stores: NDJSON and Synthea transaction Bundles load checked,
indexed and linked; a bad line is reported by file:line and the rest still loads."""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.cli import main
from fhir_server.config import Settings
from fhir_server.interactions.references import collect_references
from tests.conftest import shared_path
from tests.support.postgres import fresh_database


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[list[str], Settings]:
    """The import command's store options, and settings of an app on the same store."""
    if request.param == "sqlite":
        data = tmp_path / "data"
        return ["--data-dir", str(data)], Settings(
            data_dir=data, insecure_no_auth=True, publish_definitions=False
        )
    url = fresh_database(request.getfixturevalue("postgres_url"), "import_test")
    return ["--database-url", url], Settings(
        data_dir=tmp_path / "unused",
        database_url=url,
        insecure_no_auth=True,
        publish_definitions=False,
    )


def _import(options: list[str], *paths: Path, workers: int = 0) -> int:
    with pytest.raises(SystemExit) as exited:
        main(["import", *map(str, paths), *options, "--workers", str(workers)])
    return int(exited.value.code or 0)


@pytest.mark.parametrize("workers", [0, 2])
def test_ndjson_bad_lines_reported_rest_loaded(
    target: tuple[list[str], Settings],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    workers: int,
) -> None:
    source = tmp_path / "mixed.ndjson"
    lines = [
        {"resourceType": "Patient", "id": "p1", "name": [{"family": "Lind"}]},
        "this is not JSON",
        {"resourceType": "Patient", "id": "p2", "gender": 5},
        {"resourceType": "Observation", "status": "final", "code": {"text": "puls"},
         "subject": {"reference": "Patient/p1"}},
        {"resourceType": "NoSuchType", "id": "x"},
        {"resourceType": "Patient", "id": "p1", "name": [{"family": "Lindqvist"}]},
    ]  # fmt: skip
    source.write_bytes(
        b"\n".join(line.encode() if isinstance(line, str) else orjson.dumps(line) for line in lines)
    )
    assert _import(target[0], source, workers=workers) == 1  # some were not imported
    out = capsys.readouterr().out
    assert "imported 3 resources from 6 units" in out
    assert f"{source}:2: not JSON" in out
    assert f"{source}:3: " in out and "gender" in out
    assert f"{source}:5: Unknown resourceType 'NoSuchType'" in out
    with TestClient(create_app(target[1])) as client:
        patient = client.get("/Patient/p1").json()
        assert patient["meta"]["versionId"] == "2"  # the same id twice: two versions
        assert patient["name"][0]["family"] == "Lindqvist"
        assert client.get("/Patient/p2").status_code == 404
        found = client.get("/Observation", params={"subject": "Patient/p1"}).json()
        assert found["total"] == 1  # indexed as on the normal write path
        assert client.get("/Patient", params={"family": "lindq"}).json()["total"] == 1


def test_synthea_bundles_load_whole_and_linked(
    target: tuple[list[str], Settings], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = shared_path("synthea/synthea-r4-40-patients.tgz")
    folder = tmp_path / "synthea"
    folder.mkdir()
    expected = 0
    with tarfile.open(archive) as tar:
        members = sorted((m for m in tar if m.isfile()), key=lambda m: m.name)[:2]
        for member in members:
            handle = tar.extractfile(member)
            assert handle is not None
            raw = handle.read()
            expected += len(orjson.loads(raw)["entry"])
            (folder / Path(member.name).name).write_bytes(raw)
    assert _import(target[0], folder, workers=1) == 0
    assert f"imported {expected:,} resources from 2 units" in capsys.readouterr().out
    with TestClient(create_app(target[1])) as client:
        history = client.get("/_history", params={"_count": 1}).json()
        assert history["total"] == expected
        observations = client.get("/Observation", params={"_count": 1000}).json()
        checked = 0
        for entry in observations["entry"]:
            references: set[str] = set()
            collect_references(entry["resource"], references)
            for reference in references:
                assert not reference.startswith("urn:uuid:"), reference
                rtype, rid = reference.split("/")
                assert client.get(f"/{rtype}/{rid}").status_code == 200, reference
                checked += 1
        assert checked > 100
        patients = client.get("/Patient").json()
        pid = patients["entry"][0]["resource"]["id"]
        linked = client.get("/Encounter", params={"subject": f"Patient/{pid}"}).json()
        assert linked["total"] > 0


def test_bulk_export_sample_with_its_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The Bulk Data sample archive (a "10 patients" export with 13 Patients): 7 160
    resources; the events of its log.ndjson are no resources and are reported."""
    archive = shared_path("bulk/sample-bulk-10-patients.tgz")
    assert _import(["--data-dir", str(tmp_path / "data")], archive) == 1
    out = capsys.readouterr().out
    assert "imported 7,160 resources" in out
    assert (
        f"{archive}/sample-bulk-10-patients/log.ndjson:1: The resource has no resourceType" in out
    )
    settings: Any = Settings(
        data_dir=tmp_path / "data", insecure_no_auth=True, publish_definitions=False
    )
    with TestClient(create_app(settings)) as client:
        assert client.get("/Patient").json()["total"] == 13  # Patient.000.ndjson: 13 lines


def test_postgres_statistics_fresh_after_an_import(postgres_url: str, tmp_path: Path) -> None:
    """Searches right after an import are planned on what was loaded, not on the estimates
    of empty tables that autovacuum would only replace a while later."""
    import asyncio

    import asyncpg

    url = fresh_database(postgres_url, "import_stats")
    source = tmp_path / "patients.ndjson"
    source.write_bytes(
        b"\n".join(
            orjson.dumps({"resourceType": "Patient", "id": f"p{i}", "gender": "female"})
            for i in range(50)
        )
    )
    assert _import(["--database-url", url], source) == 0

    async def analysed() -> dict[str, Any]:
        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetch(
                "SELECT relname, last_analyze FROM pg_stat_user_tables"
                " WHERE relname IN ('resource', 'version', 'idx_token')"
            )
            return {row["relname"]: row["last_analyze"] for row in rows}
        finally:
            await conn.close()

    found = asyncio.run(analysed())
    assert set(found) == {"resource", "version", "idx_token"}
    assert all(when is not None for when in found.values()), found


def test_the_same_ids_across_many_chunks_end_in_source_order(
    target: tuple[list[str], Settings], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rounds of updates to the same 40 patients over ~3 MB of NDJSON: several chunks, two
    worker processes (on PostgreSQL each stores its own chunks, their loads overlapping).
    Every patient ends with one version per round, the last round's current, and its
    history in round order."""
    rounds, patients = 12, 40
    padding = "x" * 6000  # ~6 KB a line: a chunk (512 KB) holds about two rounds
    lines = [
        orjson.dumps(
            {
                "resourceType": "Patient",
                "id": f"p{n}",
                "name": [{"family": f"Round{r}", "text": padding}],
                "birthDate": f"{1900 + r}-01-01",
            }
        )
        for r in range(rounds)
        for n in range(patients)
    ]
    source = tmp_path / "rounds.ndjson"
    source.write_bytes(b"\n".join(lines))
    assert source.stat().st_size > 5 * 512 * 1024
    assert _import(target[0], source, workers=2) == 0
    assert f"imported {rounds * patients:,} resources" in capsys.readouterr().out
    with TestClient(create_app(target[1])) as client:
        for n in range(patients):
            current = client.get(f"/Patient/p{n}").json()
            assert current["meta"]["versionId"] == str(rounds), n
            assert current["name"][0]["family"] == f"Round{rounds - 1}", n
            history = client.get(f"/Patient/p{n}/_history", params={"_count": 50}).json()
            families = [e["resource"]["name"][0]["family"] for e in history["entry"]]
            assert families == [f"Round{r}" for r in reversed(range(rounds))], n
        # indexed as the last round: no stale index rows of earlier rounds
        assert client.get("/Patient", params={"birthdate": "1900-01-01"}).json()["total"] == 0
        last = client.get("/Patient", params={"birthdate": f"{1900 + rounds - 1}-01-01"})
        assert last.json()["total"] == patients


def test_a_worker_that_cannot_reach_the_database_stops_the_import(tmp_path: Path) -> None:
    """On PostgreSQL the worker processes connect themselves: one that cannot ends the
    import with what it said, and no worker is left behind."""
    import asyncio
    import multiprocessing
    import socket
    from typing import cast

    from fhir_server.bulkload.loader import Loader
    from fhir_server.bulkload.sources import units
    from fhir_server.bulkload.writing_workers import ImportFailed
    from fhir_server.definitions import load_definitions
    from fhir_server.runtime import Runtime
    from fhir_server.storage.port import Storage
    from fhir_server.validation import default_validator

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(
        data_dir=tmp_path / "unused",
        database_url=f"postgresql://fhir@127.0.0.1:{port}/nowhere",
        insecure_no_auth=True,
    )
    runtime = Runtime(settings, load_definitions(), default_validator(), cast(Storage, None))
    source = tmp_path / "patients.ndjson"
    source.write_bytes(
        b"\n".join(orjson.dumps({"resourceType": "Patient", "id": f"p{i}"}) for i in range(20))
    )
    with pytest.raises(ImportFailed, match=r"a worker process stopped: \w+"):
        asyncio.run(asyncio.wait_for(Loader(runtime, workers=2).load(units([source])), 60))
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("fhir-import")]
