"""The single writer thread: serialises jobs and commits them in groups.

SQLite allows one writer at a time; funnelling every change through one thread that takes
all waiting jobs into one commit (each job in its own SAVEPOINT) is the fast design on
SQLite: one fsync-bearing commit for many jobs, and no lock contention. A job's result is
handed back only after its group has committed, so a client never sees an acknowledged
write that could still be lost.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fhir_server.outcome import FhirError, Issue
from fhir_server.storage.sqlite.connection import BUSY_TIMEOUT_SECONDS

log = logging.getLogger(__name__)

Job = Callable[[Any], Awaitable[Any]]
_STOP = object()


def drive(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a job coroutine that only awaits transaction calls (which never suspend)."""
    try:
        coroutine.send(None)
    except StopIteration as finished:
        return finished.value
    coroutine.close()
    raise RuntimeError("a storage job awaited something outside its transaction")


class _Pending:
    __slots__ = ("context", "future", "job", "loop")

    def __init__(
        self, job: Job, context: Any, future: asyncio.Future[Any], loop: asyncio.AbstractEventLoop
    ) -> None:
        self.job = job
        self.context = context
        self.future = future
        self.loop = loop


def _settle(future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


def _deliver(pending: _Pending, result: Any, exc: BaseException | None) -> None:
    try:
        pending.loop.call_soon_threadsafe(_settle, pending.future, result, exc)
    except RuntimeError:  # the caller's event loop has closed: nobody is waiting
        log.debug("result of a storage job dropped: its event loop is closed")


class Writer:
    def __init__(
        self,
        conn: sqlite3.Connection,
        make_transaction: Callable[[sqlite3.Connection, Any], Any],
        group_max: int,
    ) -> None:
        self._conn = conn
        self._make_transaction = make_transaction
        self._group_max = group_max
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="sqlite-writer", daemon=True)
        self.on_commit: Callable[[], None] | None = None  # after the results are delivered
        self.on_committed: Callable[[], None] | None = None  # before
        # what the group's jobs wrote (their transactions' `written`), once committed
        self.on_written: Callable[[list[Any]], None] | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout=30)

    def submit(self, context: Any, job: Job) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put(_Pending(job, context, future, loop))
        return future

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            group = [first]
            stopping = False
            while len(group) < self._group_max:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                group.append(item)
            self._commit_group(group)
            if stopping:
                return

    @staticmethod
    def _fail_all(group: list[_Pending], failure: FhirError) -> None:
        for pending in group:
            _deliver(pending, None, failure)

    def _commit_group(self, group: list[_Pending]) -> None:
        conn = self._conn
        outcomes: list[tuple[_Pending, Any, BaseException | None]] = []
        written: list[Any] = []
        try:
            begin_immediate(conn)
        except sqlite3.Error as exc:
            log.exception("could not begin a write transaction")
            self._fail_all(group, _unavailable(exc))
            return
        for pending in group:
            conn.execute("SAVEPOINT job")
            try:
                tx = self._make_transaction(conn, pending.context)
                result = drive(pending.job(tx))  # type: ignore[arg-type]
            except BaseException as exc:  # the job's own error: undo only this job
                if not isinstance(exc, FhirError):
                    log.exception("storage job failed")
                if not conn.in_transaction:
                    # SQLite itself aborted the whole transaction (disk full, I/O error):
                    # every job of the group is lost, none may be reported as stored.
                    self._fail_all(group, _unavailable(exc))
                    return
                conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")
                outcomes.append((pending, None, exc))
            else:
                conn.execute("RELEASE job")
                outcomes.append((pending, result, None))
                written += getattr(tx, "written", ())
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as commit_error:
            log.exception("group commit failed")
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            failure = _unavailable(commit_error)
            outcomes = [(pending, None, failure) for pending, _, _ in outcomes]
            written = []
        if written and self.on_written is not None:
            self.on_written(written)
        if self.on_committed is not None:
            # before the callers hear of it: whoever watches commits is woken by the time a
            # write's response exists
            self.on_committed()
        for pending, result, problem in outcomes:
            _deliver(pending, result, problem)
        if self.on_commit is not None:
            self.on_commit()


_FIRST_WAIT = 0.0001
_LONGEST_WAIT = 0.002


def begin_immediate(conn: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE, waiting for another process's write in steps of 0.1–2 ms.

    SQLite's own busy handler sleeps 1, 2, 5, 10, 15 … ms between tries: a writer that met
    the lock of another process's short write (the subscription worker numbering a batch
    of events: about a millisecond) stayed asleep several milliseconds longer, and all the
    writes waiting on this one writer with it. The other statements keep the connection's
    busy timeout: once BEGIN IMMEDIATE holds the lock they do not wait for one."""
    conn.execute("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
        wait = _FIRST_WAIT
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                busy = exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
                if not busy or time.monotonic() > deadline:
                    raise
            time.sleep(wait)
            wait = min(wait * 2, _LONGEST_WAIT)
    finally:
        conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")


def _unavailable(exc: BaseException) -> FhirError:
    return FhirError(
        503,
        [Issue("error", "transient", f"the store could not commit the change: {exc}")],
        {"Retry-After": "1"},
    )
