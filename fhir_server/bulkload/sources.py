"""What an import reads: files, directories and tar archives of them, as units.

A unit is one NDJSON line (one resource) or one JSON file (a Bundle or one resource),
named by where it came from (`file:line`, `archive.tgz/member.json`) for the report.
"""

from __future__ import annotations

import gzip
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO


@dataclass(frozen=True, slots=True)
class Unit:
    where: str
    raw: bytes
    line: bool  # an NDJSON line (one resource) rather than a whole JSON file


_CHUNK_BYTES = 512 * 1024  # units handed to a worker process at once

_ARCHIVES = (".tgz", ".tar.gz", ".tar")
_NDJSON = (".ndjson", ".ndjson.gz")
_JSON = (".json", ".json.gz")


def wanted(name: str) -> bool:
    return name.endswith(_NDJSON + _JSON + _ARCHIVES)


def units(paths: list[Path]) -> Iterator[Unit]:
    for path in paths:
        if path.is_dir():
            for member in sorted(p for p in path.rglob("*") if p.is_file() and wanted(p.name)):
                yield from _file(member)
        elif path.is_file():
            yield from _file(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or directory")


def _file(path: Path) -> Iterator[Unit]:
    name = path.name
    if name.endswith(_ARCHIVES):
        with tarfile.open(path) as archive:
            members = sorted((m for m in archive if m.isfile() and wanted(m.name)), key=_name)
            for member in members:
                handle = archive.extractfile(member)
                if handle is not None:
                    yield from _stream(f"{path}/{member.name}", member.name, handle)
        return
    with open(path, "rb") as handle:
        yield from _stream(str(path), name, handle)


def _name(member: tarfile.TarInfo) -> str:
    return member.name


def _stream(where: str, name: str, handle: IO[bytes]) -> Iterator[Unit]:
    if name.endswith(".gz"):
        handle = gzip.GzipFile(fileobj=handle)  # type: ignore[assignment]
        name = name[:-3]
    if name.endswith(".ndjson"):
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield Unit(f"{where}:{number}", line, line=True)
    else:
        yield Unit(where, handle.read(), line=False)


def chunks(units: Iterable[Unit]) -> Iterator[list[Unit]]:
    """The units in lists of about _CHUNK_BYTES, in their order."""
    chunk: list[Unit] = []
    size = 0
    for unit in units:
        chunk.append(unit)
        size += len(unit.raw)
        if size >= _CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk
