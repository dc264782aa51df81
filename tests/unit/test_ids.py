"""The ids the server draws: random version 4 UUIDs, never the same twice, also across
threads and in a forked child."""

from __future__ import annotations

import os
import threading
import uuid

from fhir_server.ids import looks_drawn, new_id


def test_drawn_ids_are_random_uuids_each_once() -> None:
    ids = [new_id() for _ in range(5000)]  # many batches
    assert len(set(ids)) == len(ids)
    for text in ids[:300]:
        parsed = uuid.UUID(text)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == text
        assert looks_drawn(text)


def test_threads_drawing_at_once_get_distinct_ids() -> None:
    found: list[list[str]] = [[] for _ in range(8)]
    start = threading.Barrier(8)

    def draw(out: list[str]) -> None:
        start.wait()
        out.extend(new_id() for _ in range(3000))

    threads = [threading.Thread(target=draw, args=(out,)) for out in found]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    every = [i for out in found for i in out]
    assert len(every) == 8 * 3000
    assert len(set(every)) == len(every)


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    new_id()  # the parent holds a batch drawn before the fork
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids go to the parent, then it ends at once
        try:
            os.write(write_end, "\n".join(new_id() for _ in range(50)).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        child = pipe.read().decode().split("\n")
    os.waitpid(pid, 0)
    parent = [new_id() for _ in range(50)]
    assert len(child) == 50
    assert not set(child) & set(parent)
