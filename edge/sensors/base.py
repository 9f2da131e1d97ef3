"""What every sensor adapter hands to the core, and the small loop sampled inputs share."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from edge.clock import Clock


@dataclass(frozen=True, slots=True)
class Sample:
    sensor: str
    t: float
    """Monotonic seconds, taken when the reading was made."""
    value: float | None
    """Calibrated value in the sensor's unit; None for a failed read."""
    raw: float | None = None
    """What the hardware said: ADC fraction, echo distance in metres, pin level."""


SampleSink = Callable[[Sample], None]


class Sensor(Protocol):
    sensor_id: str

    def start(self) -> None: ...

    def close(self) -> None: ...


class SamplingLoop:
    """Calls ``read`` at ``hz`` on its own thread, on a fixed grid that never drifts.

    When a read overruns its slot the loop skips the missed slots rather than bursting to
    catch up: a late sample is better than a pile of stale ones.
    """

    def __init__(self, name: str, hz: float, read: Callable[[], None], clock: Clock) -> None:
        self._period = 1.0 / hz
        self._read = read
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sample-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)

    def _run(self) -> None:
        next_t = self._clock.monotonic()
        while not self._stop.is_set():
            self._read()
            next_t += self._period
            now = self._clock.monotonic()
            if next_t < now:
                next_t = now + self._period - ((now - next_t) % self._period)
            self._stop.wait(next_t - now)
