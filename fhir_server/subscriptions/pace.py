"""What the server's matcher leaves to its worker process (SQLite, worker.py).

The worker numbers every event (all subscriptions, the websocket ones too) and advances
the shared cursor. The server, a follower, looks at the outbox only up to that cursor: it
keeps up with topics and subscriptions there, and wakes its websocket deliveries, which
read the events the worker stored. It matches nothing and moves no cursor, so it never
numbers an event, nor applies a Subscription change ahead of the worker (applying moves
the shared cursor, and the worker then drops the events below it as numbered).

Only when the worker stops keeping up, events waiting past the cursor for longer than
`lag_seconds` without the cursor moving, does the server match them itself, as a follower
does: it numbers what is still unnumbered, under the store's write lock, in order. So a
worker that died or hangs delays notifications by `lag_seconds`, and loses none.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence


class WorkerPace:
    def __init__(
        self,
        lag_seconds: float,
        relook_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lag_seconds = lag_seconds
        self.relook_seconds = relook_seconds
        self._clock = clock
        self._waiting_since: float | None = None  # events wait past the cursor since then
        self._cursor = 0  # the shared cursor when they started waiting

    def cut(self, seqs: Sequence[int], numbered: int) -> tuple[int, float | None]:
        """Of the outbox events `seqs` (ascending), how many to look at now, given the
        shared cursor `numbered`; and in how many seconds to look again (None: at the next
        commit, as usual)."""
        ready = next((n for n, seq in enumerate(seqs) if seq > numbered), len(seqs))
        if ready == len(seqs):
            self._waiting_since = None
            return ready, None
        now = self._clock()
        if self._waiting_since is None or numbered > self._cursor:
            self._waiting_since = now  # the worker moved on: a new wait starts
            self._cursor = numbered
        waited = now - self._waiting_since
        if waited >= self.lag_seconds:
            return len(seqs), None  # the worker is stuck or gone: match them here
        return ready, min(self.relook_seconds, self.lag_seconds - waited)
