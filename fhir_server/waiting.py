"""Waiting for an asyncio.Event with a timeout, without losing a cancellation.

`asyncio.wait_for` on Python 3.11 can swallow a cancellation that arrives as the wait ends
(gh-86296): a service loop built on it may then never stop. `asyncio.timeout` does not.
"""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, timeout: float | None) -> bool:
    """True when the event was set, False when the timeout passed first."""
    if timeout is None:
        await event.wait()
        return True
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True
