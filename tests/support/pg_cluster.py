"""A throw-away PostgreSQL cluster on 127.0.0.1 for tests, CI and benchmarks.

initdb refuses to run as root, so as root the cluster belongs to the `postgres` user that
Debian's package creates (commands run through runuser). The binaries are Debian's
(/usr/lib/postgresql/N/bin), else whatever `initdb` is on PATH.

    python -m tests.support.pg_cluster start DIR   # prints `export FHIR_SERVER_TEST_DATABASE_URL=…`
    python -m tests.support.pg_cluster stop DIR
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

USER = "fhir"
DATABASE = "fhir"


def bin_dir() -> Path | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _reachable_by_others(path: Path) -> bool:
    path = path.resolve()
    for parent in [path, *path.parents]:
        if parent.exists() and not parent.stat().st_mode & 0o001:
            return False
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    def __init__(self, base: Path, port: int | None = None, *, durable: bool = False) -> None:
        if os.geteuid() == 0 and not _reachable_by_others(base):
            # the postgres user must be able to reach its directory (pytest's are private)
            base.mkdir(parents=True, exist_ok=True)
            link = base / "cluster"
            if not link.exists():
                link.symlink_to(tempfile.mkdtemp(prefix="fhir-pg-"))
            base = link.resolve()
        self.base = base
        self.data = base / "data"
        self.port = port or free_port()
        self.durable = durable  # fsync as in production (benchmarks); tests go without
        found = bin_dir()
        if found is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install -y postgresql)")
        self.bin = found

    @property
    def url(self) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / argv[0]), *argv[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, cwd="/")

    def start(self) -> Cluster:
        self.base.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.base, owner.pw_uid, owner.pw_gid)
        if not (self.data / "PG_VERSION").exists():
            self._run(
                "initdb", "-D", str(self.data), "-U", USER, "-A", "trust", "-E", "UTF8",
                "--no-locale", "--no-sync",
            )  # fmt: skip
        options = [
            "-c listen_addresses=127.0.0.1",
            f"-c port={self.port}",
            f"-c unix_socket_directories={self.base}",
            "-c max_connections=200",
            "-c shared_buffers=256MB",
            # storage in memory or on SSD, as docs/postgres.md advises for production
            "-c random_page_cost=1.1",
            "-c effective_cache_size=4GB",
        ]
        if not self.durable:
            # no fsync: a throw-away cluster need not survive power loss. Commits still
            # write their WAL before they answer (synchronous_commit stays on), so an
            # acknowledged commit survives a crash of the server's processes.
            options += ["-c fsync=off", "-c full_page_writes=off"]
        running = self._run("pg_ctl", "-D", str(self.data), "status", check=False)
        if running.returncode == 0:
            raise RuntimeError(f"a PostgreSQL server already runs on {self.data}")
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.base / "postgres.log"),
            "-o", " ".join(options), "-w", "-t", "60", "start",
        )  # fmt: skip
        self._wait_ready()
        created = self._run(
            "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, "-d", "postgres",
            "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'",
        )  # fmt: skip
        if created.stdout.strip() != "1":
            self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, DATABASE)
        return self

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = self._run("pg_isready", "-h", "127.0.0.1", "-p", str(self.port), check=False)
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL did not start:\n{self.log_tail()}")

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def restart(self, mode: str = "immediate") -> None:
        """Stop (immediate: as a crash, every connection cut) and start again."""
        self.stop(mode)
        self.start()

    def remove(self) -> None:
        """Stop and delete the cluster's files."""
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        path = self.base / "postgres.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print(__doc__, file=sys.stderr)
        return 2
    base = Path(argv[1]).resolve()
    if argv[0] == "start":
        cluster = Cluster(base).start()
        (base / "port").write_text(str(cluster.port))
        print(f"export FHIR_SERVER_TEST_DATABASE_URL={cluster.url}")
    else:
        port = int((base / "port").read_text()) if (base / "port").exists() else None
        Cluster(base, port).remove()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
