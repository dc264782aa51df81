"""`fhir-server demo` plays a complete stay against a real server and prints what each party
received: run as a user would, through the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def test_demo_plays_a_stay_and_each_party_gets_its_own(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fhir_server", "demo", "--data-dir", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    lines = out.splitlines()
    to_kommun = [line for line in lines if "→ Kalmar kommun:" in line]
    assert "→ Kalmar kommun: meddelande: Inskrivningsmeddelande" in to_kommun[0]
    assert any("meddelande: Utskrivningsmeddelande" in line for line in to_kommun)
    assert any("uppgift: Kalla till SIP (att göra" in line for line in lines)
    assert any("uppgift: Kalla till SIP (klar" in line for line in lines)
    assert "Vårdtillfällets läge: Utskriven" in out
    assert "Kalmar kommun: 5 meddelanden, 4 uppgifter (3 klara)" in out
    assert "Vårdcentralen Kalmar Centrum: 3 meddelanden, 6 uppgifter (5 klara)" in out
    # the parties of another municipality receive nothing about Karin
    assert "Nybro kommun: inget mottaget" in out
    assert not any("→ Nybro" in line or "→ Vårdcentralen Nybro" in line for line in lines)
    assert "FÖRSENAD" not in out
    assert (tmp_path / "demo" / "fhir.sqlite3").exists()
