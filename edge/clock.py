"""Time, injected: a real clock for the daemon, a fake one that tests move by hand.

Detection never reads a clock; the adapters do, through this protocol, and pass the
timestamps in. ``monotonic`` orders and spaces events; ``wall`` only labels them.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def wall(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


class FakeClock:
    """A clock that moves only when told to; ``sleep`` advances it instantly."""

    def __init__(self, start_wall: float = 1_741_659_245.0, start_mono: float = 1000.0) -> None:
        self._mono = start_mono
        self._offset = start_wall - start_mono
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def wall(self) -> float:
        with self._lock:
            return self._mono + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._mono += seconds

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))


def wall_at(clock: Clock, monotonic_t: float) -> float:
    """The wall time at which a past monotonic instant happened."""
    return clock.wall() - (clock.monotonic() - monotonic_t)


def iso_ms(wall: float) -> str:
    """``2025-03-11T02:14:05.123Z``: UTC, milliseconds, as the MQTT API requires."""
    stamp = datetime.fromtimestamp(wall, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"
