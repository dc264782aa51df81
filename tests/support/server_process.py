"""A real `fhir-server serve` process on 127.0.0.1 for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

from fhir_server.cli import serve_command


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    def __init__(
        self, data_dir: Path, port: int | None = None, workers: int = 1, **env: str
    ) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.workers = workers
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir / f"server-{self.port}.log"

    def start(self, timeout: float = 60.0) -> ServerProcess:
        self.start_process()
        return self.wait_ready(timeout)

    def start_process(self) -> None:
        """Starts the process without waiting for it (to start several at once)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # security off and an empty store unless a test turns them on
        # (FHIR_SERVER_INSECURE_NO_AUTH=false, FHIR_SERVER_PUBLISH_DEFINITIONS=true)
        env = {
            **os.environ,
            "FHIR_SERVER_INSECURE_NO_AUTH": "true",
            "FHIR_SERVER_PUBLISH_DEFINITIONS": "false",
            **self.env,
            "FHIR_SERVER_LOG_LEVEL": "warning",
        }
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                serve_command(self.port, self.data_dir, workers=self.workers),
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 60.0) -> ServerProcess:
        assert self.proc is not None, "start_process first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.base}/metadata", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start in {timeout}s:\n{self.log.read_text()}")

    def kill(self) -> None:
        """kill -9: no shutdown hook runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
