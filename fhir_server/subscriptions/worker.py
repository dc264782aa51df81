"""Rest-hook delivery in a second process on the embedded SQLite store.

One server process is bound by the interpreter's lock to about one core; matching, numbering
and sending notifications took a third of its time under a steady stream of writes. On
SQLite the server therefore starts `fhir-server subscriptions-worker` beside it: the same
subscription service (service.py) on the same store, which claims the rest-hook
subscriptions' delivery leases and sends their notifications, while the server's own
service numbers events first and keeps its websocket deliveries, which send where the
sockets are bound. It is the model of several server processes on PostgreSQL: a shared
cursor numbers each event once, a lease says who sends (storage/sqlite/subscriptions.py).

The server hands the worker its settings as the first line on the worker's standard input,
then writes a byte there after its commits (at most one per turn of its event loop) to wake
the worker's matcher: no polling. The worker stops on SIGTERM (the server stopping it) and
when its standard input ends, also when the server died (kill -9), so that no orphan goes
on delivering; it then releases its leases, and the next server's worker takes over at
once.
A worker that dies is started again by the server, after a delay growing with each quick
failure; the server releases the dead worker's leases (it named them), so the new one takes
its subscriptions over at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from typing import Any

import orjson

from fhir_server.config import Settings
from fhir_server.heap import freeze_startup_objects
from fhir_server.runtime import Runtime
from fhir_server.storage.configured import subscription_worker_wanted

log = logging.getLogger(__name__)

COMMAND = "subscriptions-worker"
_STOP_SECONDS = 10.0
_BACKOFF_FIRST = 0.5
_BACKOFF_MAX = 30.0
_HEALTHY_SECONDS = 30.0  # a worker that ran this long failed no quick start
WORKER_SWITCH_SECONDS = 0.0005


def worker_command() -> list[str]:
    return [sys.executable, "-m", "fhir_server", COMMAND]


_LEASE_OWNER = "_lease_owner"


def settings_line(settings: Settings, lease_owner: str) -> bytes:
    """The settings as the worker reads them: one JSON line, the data dir made absolute,
    with the name the worker holds its delivery leases under."""
    data = settings.model_dump(mode="json")
    data["data_dir"] = str(settings.data_dir.resolve())
    data[_LEASE_OWNER] = lease_owner
    return orjson.dumps(data) + b"\n"


# the server's side --------------------------------------------------------------------


class Supervisor:
    """Runs the worker process while the server runs: starts it after the store and the
    server's subscription service, starts it again when it dies, wakes it after commits."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.proc: subprocess.Popen[bytes] | None = None
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._unwatch: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._signal_due = threading.Event()
        self.lease_owner = ""
        self.starts = 0

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._spawn()
        self._unwatch = self.runtime.storage.watch_commits(self._committed)
        self._task = asyncio.create_task(self._watch(), name="subscription-worker")

    async def stop(self) -> None:
        self._stopping = True
        if self._unwatch is not None:
            self._unwatch()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        proc = self.proc
        if proc is None:
            return
        # it finishes what it sends, saves its marks and leaves (still starting: at once)
        _close_stdin(proc)
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.to_thread(proc.wait, _STOP_SECONDS)
        except subprocess.TimeoutExpired:
            log.warning("subscription worker %d did not stop in time: killed", proc.pid)
            proc.kill()
            await asyncio.to_thread(proc.wait)

    def _spawn(self) -> None:
        proc = subprocess.Popen(worker_command(), stdin=subprocess.PIPE, close_fds=True)
        assert proc.stdin is not None
        self.lease_owner = f"{socket.gethostname()}:{proc.pid}:{uuid.uuid4().hex[:8]}"
        try:
            proc.stdin.write(settings_line(self.runtime.settings, self.lease_owner))
            proc.stdin.flush()
        except OSError:  # it died at once: _watch sees it exit
            log.warning("could not hand the subscription worker its settings")
        else:
            os.set_blocking(proc.stdin.fileno(), False)
        self.proc = proc
        self.starts += 1
        log.info("subscription worker started (pid %d)", proc.pid)

    async def _watch(self) -> None:
        failures = 0
        while True:
            proc = self.proc
            assert proc is not None
            started = time.monotonic()
            code = await asyncio.to_thread(proc.wait)
            _close_stdin(proc)
            if self._stopping:
                return
            # it cannot send any more: its subscriptions need not wait for its leases to
            # run out
            try:
                await self.runtime.storage.subscription_release(self.lease_owner)
            except Exception:
                log.exception("could not release the leases of subscription worker %d", proc.pid)
            failures = 0 if time.monotonic() - started >= _HEALTHY_SECONDS else failures + 1
            delay = min(_BACKOFF_MAX, _BACKOFF_FIRST * 2 ** max(0, failures - 1))
            log.warning(
                "subscription worker %d exited (%s); starting another in %.1f s",
                proc.pid,
                code,
                delay,
            )
            await asyncio.sleep(delay)
            self._spawn()

    def _committed(self) -> None:  # in the store's writer thread
        if self._signal_due.is_set() or self._loop is None:
            return
        self._signal_due.set()
        with contextlib.suppress(RuntimeError):  # the loop has closed
            self._loop.call_soon_threadsafe(self._signal)

    def _signal(self) -> None:
        """One byte for all commits since the last: the worker's matcher reads them all."""
        self._signal_due.clear()
        proc = self.proc
        if proc is None or proc.stdin is None or proc.stdin.closed:
            return
        # full pipe: the worker has wake-ups it has not read yet; gone: _watch restarts it
        with contextlib.suppress(BlockingIOError, BrokenPipeError, OSError):
            os.write(proc.stdin.fileno(), b"\n")


def _close_stdin(proc: subprocess.Popen[bytes]) -> None:
    if proc.stdin is not None and not proc.stdin.closed:
        with contextlib.suppress(OSError):
            proc.stdin.close()


class _Off:
    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


def supervisor(runtime: Runtime) -> Supervisor | _Off:
    """The service factory (services.py): a supervisor when a worker process is wanted."""
    if not subscription_worker_wanted(runtime.settings):
        return _Off()
    return Supervisor(runtime)


# the worker's side --------------------------------------------------------------------


def _read_settings_line(fd: int) -> bytes:
    line = b""
    while not line.endswith(b"\n"):
        chunk = os.read(fd, 1)  # byte by byte: what follows the line stays in the pipe
        if not chunk:
            raise SystemExit("subscriptions-worker: no settings on standard input")
        line += chunk
    return line


def main() -> None:
    """`fhir-server subscriptions-worker`: started by the server, never by hand."""
    stdin = sys.stdin.fileno()
    data = orjson.loads(_read_settings_line(stdin))
    lease_owner = str(data.pop(_LEASE_OWNER))
    settings = Settings(**data)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format=f"%(asctime)s %(levelname)s subscriptions-worker[{os.getpid()}] %(name)s"
        " %(message)s",
    )
    # Ctrl-C in a terminal reaches the whole process group: the server stops the worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The store's writer thread holds SQLite's write lock, which the server's writes wait
    # for, while it needs the interpreter's lock: hand that lock over after 0.5 ms instead
    # of 5 so that a write of this process's ends sooner.
    sys.setswitchinterval(WORKER_SWITCH_SECONDS)
    try:
        import uvloop

        uvloop.run(_work(settings, lease_owner, stdin))
    except ImportError:  # pragma: no cover - uvloop is a dependency of uvicorn[standard]
        asyncio.run(_work(settings, lease_owner, stdin))


async def _work(settings: Settings, lease_owner: str, stdin: int) -> None:
    from fhir_server.app import build_runtime
    from fhir_server.subscriptions.service import SubscriptionService

    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    running: list[SubscriptionService] = []

    def readable() -> None:
        try:
            data = os.read(stdin, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the server is gone or stops us
            loop.remove_reader(stdin)
            done.set()
        elif running:
            running[0].wake()

    async def start() -> tuple[Runtime, SubscriptionService]:
        # in a thread: the end of standard input is noticed while the definitions load
        runtime = await asyncio.to_thread(build_runtime, settings, secondary=True)
        await runtime.storage.start()
        service = SubscriptionService(runtime, initialises=False)
        service.lease_owner = lease_owner  # the server releases its leases if it dies
        await service.start()
        freeze_startup_objects()
        running.append(service)
        return runtime, service

    os.set_blocking(stdin, False)
    loop.add_reader(stdin, readable)
    loop.add_signal_handler(signal.SIGTERM, done.set)
    starting = asyncio.ensure_future(start())
    stopped = asyncio.ensure_future(done.wait())
    await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        # stopped while starting (a server that stopped at once): nothing sent, nothing to
        # save; what it wrote so far is committed or not, as after a kill
        os._exit(0)
    runtime, service = starting.result()  # a failed start raises: the server restarts it
    try:
        log.info("delivering rest-hook notifications")
        await stopped
    finally:
        with contextlib.suppress(Exception):
            loop.remove_reader(stdin)
        await service.stop()
        await runtime.storage.close()
