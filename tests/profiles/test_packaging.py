"""A built wheel carries profiles/, terminology/ and mappings/, and the loaders find them
there."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from fhir_server.definitions.content import CHECKOUT_ROOT, content_files

_NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "fhir-data"
)


def test_wheel_ships_the_content_and_the_loader_reads_it(tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(CHECKOUT_ROOT, source, ignore=_NOT_SOURCE)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w", tmp_path],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("fhir_server-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
        shipped = {n for n in archive.namelist() if n.startswith("fhir_server/content/")}
    expected = {
        "fhir_server/content/" + p.relative_to(CHECKOUT_ROOT).as_posix() for p in content_files()
    }
    assert expected <= shipped
    assert "fhir_server/content/mappings/hl7v2-adt.toml" in shipped
    assert not [n for n in shipped if "/fsh/" in n or "/tools/" in n]

    probe = (
        "import fhir_server.definitions.content as c;"
        "from fhir_server.definitions import load_definitions;"
        "print(c.__file__); print(c.content_root());"
        "print(load_definitions().search_params_for('Encounter')['utskrivningsklar']['url'])"
        ";from fhir_server.mappings.rules import ADT_MAPPING, adt_mapping;"
        "print(c.mapping_file(ADT_MAPPING), sorted(adt_mapping().events)[0])"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    module, root, url, mapping, first_event = run.stdout.split()
    assert module.startswith(str(site)) and root == str(site / "fhir_server" / "content")
    assert url.endswith("/SearchParameter/Encounter-utskrivningsklar")
    assert mapping == str(site / "fhir_server" / "content" / "mappings" / "hl7v2-adt.toml")
    assert first_event == "A01"
