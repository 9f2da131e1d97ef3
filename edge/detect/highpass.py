"""A first-order high-pass filter, streaming, one sample at a time.

An accelerometer on a foundation reads gravity's projection plus slow tilt and
temperature drift; STA/LTA on that offset sees nothing. This removes what is slower
than ``cutoff_hz`` (the RC filter discretised with the sample period).
"""

from __future__ import annotations

import math


class HighPass:
    __slots__ = ("_x", "_y", "alpha", "enabled")

    def __init__(self, cutoff_hz: float, sample_hz: float) -> None:
        self.enabled = cutoff_hz > 0
        rc = 1.0 / (2.0 * math.pi * cutoff_hz) if self.enabled else 0.0
        dt = 1.0 / sample_hz
        self.alpha = rc / (rc + dt) if self.enabled else 1.0
        self._x: float | None = None
        self._y = 0.0

    def step(self, x: float) -> float:
        if not self.enabled:
            return x
        if self._x is None:
            self._x = x
            return 0.0
        self._y = self.alpha * (self._y + x - self._x)
        self._x = x
        return self._y

    def run(self, xs: list[float]) -> list[float]:
        return [self.step(x) for x in xs]
