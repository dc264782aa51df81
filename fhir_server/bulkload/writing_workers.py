"""Import on a store several processes may write (PostgreSQL): worker processes that
prepare *and* store their units, each with its own connections.

The main process only reads the sources and hands out chunks; the resources never travel
back to it (pickling them back and writing them from one process cost more CPU than the
COPY itself). Chunks are numbered and stored in their order: a worker prepares its chunk
at once, then waits for the chunk before it to hold the identities of its last batch
(`Turns`, `Storage.load(locked=…)`). From then on both loads run at once, and one that
touches a resource the other holds waits for its commit, so the same id twice in the
sources ends with the later version current, as when one process loads.

A worker that cannot start (database unreachable) or fails stops the whole import with
what it said; none is left waiting.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
import threading
from collections.abc import Callable, Iterable
from multiprocessing.context import BaseContext
from typing import Any

from fhir_server.bulkload.preparer import Preparer
from fhir_server.bulkload.sources import Unit, chunks
from fhir_server.bulkload.writer import BatchWriter, Tally
from fhir_server.config import Settings
from fhir_server.definitions import load_definitions
from fhir_server.heap import freeze_before_fork, freeze_startup_objects
from fhir_server.runtime import Runtime
from fhir_server.storage.configured import storage_for
from fhir_server.validation import default_validator

_POLL = 0.5  # seconds between looks at the workers while waiting for their results


class ImportFailed(RuntimeError):
    """A worker process could not go on; the import stopped."""


class Turns:
    """Whose turn it is to store: chunk numbers, across processes."""

    def __init__(self, context: BaseContext) -> None:
        self._next = context.Value("q", 0, lock=False)  # guarded by the condition's lock
        self._changed = context.Condition()

    def wait_for(self, number: int) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self._next.value == number)

    def pass_on(self, number: int) -> None:
        with self._changed:
            self._next.value = number
            self._changed.notify_all()


def _work(
    settings: Settings,
    batch_size: int,
    tasks: Any,
    results: Any,
    turns: Turns,
) -> None:
    """A worker process: (number, units) from `tasks` until None; (number, Tally) to
    `results`, or (-1, why) when it cannot go on."""
    loop = _event_loop()
    definitions = load_definitions()
    storage = storage_for(settings, definitions)
    started = False
    try:
        loop.run_until_complete(storage.start())
        started = True
        runtime = Runtime(settings, definitions, default_validator(), storage)
        preparer = Preparer(runtime)
        freeze_startup_objects()
        while (task := tasks.get()) is not None:
            number, units = task
            prepared = [preparer.prepare(unit) for unit in units]
            tally = Tally()
            turns.wait_for(number)
            turn = Turn(turns, number)
            try:
                loop.run_until_complete(_store(runtime, batch_size, prepared, tally, turn.over))
            finally:
                turn.over()
            results.put((number, tally))
    except BaseException as exc:  # reported to the main process
        results.put((-1, f"{type(exc).__name__}: {exc}"))
    finally:
        if started:
            loop.run_until_complete(storage.close())
        loop.close()


def _event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency of uvicorn[standard]
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class Turn:
    """A chunk's turn: over once its last batch holds its resources (the next chunk's
    loads then wait only for what they share with it), or when it is done."""

    def __init__(self, turns: Turns, number: int) -> None:
        self._turns = turns
        self._number = number
        self._over = False

    def over(self) -> None:
        if not self._over:
            self._over = True
            self._turns.pass_on(self._number + 1)


async def _store(
    runtime: Runtime,
    batch_size: int,
    prepared: list[Any],
    tally: Tally,
    last_locked: Callable[[], None],
) -> None:
    writer = BatchWriter(runtime, batch_size, tally)
    for one in prepared:
        await writer.add(one)
    await writer.flush(last_locked)


class WritingWorkers:
    """The worker processes of one import. Started from the main thread (forked with the
    definitions this process has loaded already: no start-up of their own to speak of);
    `load` blocks, run it off the event loop."""

    def __init__(self, settings: Settings, workers: int, batch_size: int) -> None:
        context = multiprocessing.get_context()
        self._tasks = context.Queue(maxsize=2 * workers)
        self._results = context.Queue()
        turns = Turns(context)
        self._processes = [
            context.Process(
                target=_work,
                args=(settings, batch_size, self._tasks, self._results, turns),
                name=f"fhir-import-{n}",
                daemon=True,
            )
            for n in range(workers)
        ]
        freeze_before_fork()
        for process in self._processes:
            process.start()

    def load(self, units: Iterable[Unit], tally: Tally, progress: Callable[[], None]) -> None:
        """Adds what the chunks came to, in their order, to `tally`, calling `progress`
        after each; the workers have ended when it returns."""
        stop = threading.Event()
        handed: list[int] = []  # the number of chunks, once all are handed out
        unreadable: list[BaseException] = []

        def feed() -> None:
            number = 0
            try:
                for chunk in chunks(units):
                    if not _put(self._tasks, (number, chunk), stop):
                        return
                    number += 1
            except BaseException as exc:  # raised again in the calling thread
                unreadable.append(exc)
                return
            handed.append(number)
            for _ in self._processes:
                if not _put(self._tasks, None, stop):
                    return

        feeder = threading.Thread(target=feed, name="fhir-import-feed", daemon=True)
        feeder.start()
        done: dict[int, Tally] = {}
        merged = 0
        try:
            while not handed or merged < handed[0]:
                try:
                    number, outcome = self._results.get(timeout=_POLL)
                except queue.Empty:
                    if unreadable:
                        raise unreadable[0] from None
                    if any(p.exitcode not in (None, 0) for p in self._processes):
                        raise ImportFailed("a worker process died") from None
                    continue
                if number < 0:
                    raise ImportFailed(f"a worker process stopped: {outcome}")
                done[number] = outcome
                while merged in done:
                    tally.add(done.pop(merged))
                    merged += 1
                    progress()
        finally:
            stop.set()
            feeder.join()
            self.stop(wait=bool(handed) and merged == handed[0])

    def stop(self, wait: bool = False) -> None:
        """Ends the workers: lets them close their connections when `wait`, else at once."""
        for process in self._processes:
            process.join(timeout=30 if wait else 0)
            if process.is_alive():
                process.terminate()
                process.join()


def _put(tasks: Any, item: Any, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            tasks.put(item, timeout=_POLL)
            return True
        except queue.Full:
            continue
    return False
