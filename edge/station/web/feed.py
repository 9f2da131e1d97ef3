"""The board's live feed: every change numbered, so a page that lost its stream resumes
exactly where it was (Server-Sent Events with ``Last-Event-ID``).

One :class:`BoardFeed` per app listens on the station's :class:`ChangeHub` and numbers
each change it presents (``<epoch>.<version>``) into a :class:`Backlog` of the latest
:data:`BACKLOG` changes. A page reconnecting with the id of the last change it applied
gets every later change; one too far behind (or from before a restart, or after the hub
told the feed it fell behind) gets a **snapshot** of the whole board instead, taken after
the version it is labelled with. Every change carries the whole alarm (or the whole sites
list), keyed by id, so applying one twice is harmless: nothing is missed, no row doubled.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edge.station.changes import ChangeHub

BACKLOG = 5000


@dataclass(frozen=True, slots=True)
class Entry:
    version: int
    kind: str
    data: dict[str, Any]


class Backlog:
    """Pure: numbered changes and what a page that saw up to ``last_id`` still needs."""

    def __init__(self, size: int = BACKLOG) -> None:
        self.epoch = uuid.uuid4().hex[:8]
        self.version = 0
        self._log: deque[Entry] = deque(maxlen=size)

    def add(self, kind: str, data: dict[str, Any]) -> Entry:
        self.version += 1
        entry = Entry(self.version, kind, data)
        self._log.append(entry)
        return entry

    def reset(self) -> None:
        """Forget everything: every page gets a snapshot next."""
        self.epoch = uuid.uuid4().hex[:8]
        self._log.clear()

    def event_id(self, version: int) -> str:
        return f"{self.epoch}.{version}"

    def after(self, last_id: str | None) -> list[Entry] | None:
        """The changes after ``last_id``; None when only a snapshot will do."""
        if not last_id:
            return None
        epoch, _, number = last_id.partition(".")
        if epoch != self.epoch or not number.isdigit():
            return None
        version = int(number)
        if version > self.version:
            return None
        oldest = self._log[0].version if self._log else self.version + 1
        if version < oldest - 1:
            return None
        return [e for e in self._log if e.version > version]


Presenter = Callable[[dict[str, Any]], tuple[str, dict[str, Any]] | None]
"""A hub change -> (kind, data) as the page gets it, or None to skip it."""


class BoardFeed:
    def __init__(self, hub: ChangeHub, present: Presenter) -> None:
        self.hub = hub
        self.present = present
        self.backlog = Backlog()
        self._changed: asyncio.Condition | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.closed = False

    def close(self) -> None:
        """From any thread, before the server stops: every stream ends cleanly."""
        self.closed = True
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # its loop is gone already
                self._loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._wake()))

    async def _wake(self) -> None:
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()

    async def start(self) -> None:
        """Listen from now on (on the server's event loop, by the first page); returns
        once subscribed, so a snapshot taken after it misses no later change."""
        if self._task is None:
            self._loop = asyncio.get_running_loop()
            self._changed = asyncio.Condition()
            subscribed = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._pump(subscribed))
            await subscribed.wait()

    async def _pump(self, subscribed: asyncio.Event) -> None:
        assert self._changed is not None
        async with self.hub.subscribe() as sub:
            subscribed.set()
            while True:
                change = await sub.next()
                if change is None:
                    continue
                if change.get("kind") == "resync":
                    self.backlog.reset()
                else:
                    presented = self.present(change)
                    if presented is None:
                        continue
                    self.backlog.add(*presented)
                async with self._changed:
                    self._changed.notify_all()

    async def wait(self, epoch: str, version: int, timeout: float) -> None:
        """Until there is something after ``epoch.version``, or ``timeout`` seconds."""
        assert self._changed is not None
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._changed.wait_for(
                        lambda: (
                            self.closed
                            or self.backlog.epoch != epoch
                            or self.backlog.version > version
                        )
                    ),
                    timeout,
                )
