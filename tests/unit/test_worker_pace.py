"""What the server's matcher leaves to its worker process (subscriptions/pace.py)."""

from __future__ import annotations

from fhir_server.subscriptions.pace import WorkerPace


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_events_the_worker_numbered_are_looked_at_the_rest_waits() -> None:
    pace = WorkerPace(1.0, 0.02, Clock())
    assert pace.cut([5, 6, 7], 7) == (3, None)
    assert pace.cut([5, 6, 7], 9) == (3, None)
    assert pace.cut([5, 6, 7], 5) == (1, 0.02)
    assert pace.cut([5, 6, 7], 4) == (0, 0.02)
    assert pace.cut([], 4) == (0, None)


def test_a_worker_that_stops_keeping_up_leaves_the_events_to_the_server() -> None:
    clock = Clock()
    pace = WorkerPace(1.0, 0.02, clock)
    assert pace.cut([5, 6], 4) == (0, 0.02)
    clock.now += 0.99
    ready, relook = pace.cut([5, 6], 4)
    assert ready == 0 and relook is not None and abs(relook - 0.01) < 1e-9  # not past the lag
    clock.now += 0.01
    assert pace.cut([5, 6], 4) == (2, None)  # a second without the cursor moving
    assert pace.cut([5, 6, 7], 4) == (3, None)  # and so on, until it moves


def test_a_worker_that_moves_on_starts_a_new_wait() -> None:
    clock = Clock()
    pace = WorkerPace(1.0, 0.02, clock)
    assert pace.cut([5, 6], 4) == (0, 0.02)
    clock.now += 0.9
    assert pace.cut([5, 6, 7], 5) == (1, 0.02)  # it numbered 5: busy, not gone
    clock.now += 0.9
    assert pace.cut([6, 7], 5) == (0, 0.02)  # 0.9 s since it moved
    clock.now += 0.2
    assert pace.cut([6, 7], 5) == (2, None)
    assert pace.cut([6, 7], 7) == (2, None)  # all numbered: the wait ends
    assert pace.cut([8], 7) == (0, 0.02)  # and a new one starts afresh
