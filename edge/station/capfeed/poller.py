"""Read-back: every ``[[cap.feeds]]`` source polled on one background thread, each at its
own ``interval_s``; the latest :class:`FeedStatus` of each kept for the board.

The thread only moves time and bytes: ``FeedReader.poll`` never raises and takes the time
it is given, the schedule is :func:`due`. A feed that is down, slow or malformed is its
own status and nothing else: the alarm path never waits for or reads it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import httpx

from edge import logs
from edge.cap.config import FeedSource
from edge.cap.readback import FeedStatus
from edge.cap.readback_http import FeedReader

log = logs.get("station.cap.feeds")


def due(sources: Sequence[FeedSource], polled: dict[int, float], now: float) -> list[int]:
    """Indexes of the sources to poll now: never polled, or ``interval_s`` since."""
    return [i for i, s in enumerate(sources) if i not in polled or now - polled[i] >= s.interval_s]


def next_wait(sources: Sequence[FeedSource], polled: dict[int, float], now: float) -> float:
    """Seconds until the next source is due (0: one is due now)."""
    waits = [polled[i] + s.interval_s - now if i in polled else 0.0 for i, s in enumerate(sources)]
    return max(0.0, min(waits, default=60.0))


class FeedPoller:
    def __init__(
        self,
        sources: Sequence[FeedSource],
        *,
        clock: Callable[[], float],
        language: str = "id",
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.sources = list(sources)
        self.clock = clock
        self.on_change = on_change
        self.client = httpx.Client(follow_redirects=True)
        self.readers = [FeedReader(s, self.client, language) for s in self.sources]
        self._statuses: dict[int, FeedStatus] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def statuses(self) -> list[FeedStatus | None]:
        """Each source's latest poll, in config order (None: not polled yet)."""
        with self._lock:
            return [self._statuses.get(i) for i in range(len(self.sources))]

    def poll_due(self, now: float, polled: dict[int, float]) -> None:
        """One round: poll the sources due at ``now``, remember when."""
        for i in due(self.sources, polled, now):
            status = self.readers[i].poll(datetime.fromtimestamp(now, UTC))
            polled[i] = now
            with self._lock:
                self._statuses[i] = status
            log.debug("cap_feed_polled", feed=status.name, ok=status.ok, shown=len(status.banners))
            self.on_change()

    def start(self) -> None:
        if not self.sources:
            return
        self._thread = threading.Thread(target=self._run, name="cap-feeds", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        self.client.close()

    def _run(self) -> None:
        polled: dict[int, float] = {}
        while not self._stop.is_set():
            try:
                self.poll_due(self.clock(), polled)
            except Exception as exc:  # the read-back must never take the station down
                log.error("cap_feeds_failed", error=repr(exc))
            self._stop.wait(max(0.5, next_wait(self.sources, polled, self.clock())))
