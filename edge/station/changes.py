"""In-process change notification: the worker thread announces, the web side listens.

The HTTP layer (and the board pages and their live-update stream, issue 13) subscribe
from an asyncio event loop; the worker thread publishes from its own thread. Each
subscriber has a bounded queue: a listener too slow to keep up gets a ``{"kind":
"resync"}`` and should reload the whole board instead of being fed stale increments.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

QUEUE_LIMIT = 1000
RESYNC = {"kind": "resync"}


class Subscription:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_LIMIT)

    def _put(self, change: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(change)
        except asyncio.QueueFull:
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(RESYNC)

    async def next(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next change, or None after ``timeout`` seconds (time to send a keep-alive)."""
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None


class ChangeHub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: list[Subscription] = []

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        sub = Subscription(asyncio.get_running_loop())
        with self._lock:
            self._subs.append(sub)
        try:
            yield sub
        finally:
            with self._lock:
                self._subs.remove(sub)

    def publish(self, change: dict[str, Any]) -> None:
        """From any thread; never blocks."""
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            with contextlib.suppress(RuntimeError):  # its loop has closed: going away
                sub.loop.call_soon_threadsafe(sub._put, change)

    @property
    def listeners(self) -> int:
        with self._lock:
            return len(self._subs)
