"""Pulse density for a vibration switch (SW-420): pulses counted in a sliding window.

A vibration switch does not hold a level; it chatters while shaken. A delay-on debounce
on its pin never completes on such a train (the contact never stays closed), which is
why this is its own detector: it counts rising edges over the last ``window_s``, and the
count is a steady level that the usual debounce can judge. The window slides, so every
new pulse re-arms it; clearing needs the count to stay low for the sensor's delay_off
(the sustained-quiet rule).
"""

from __future__ import annotations

from collections import deque


class PulseWindow:
    __slots__ = ("_pulses", "window_s")

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._pulses: deque[float] = deque()

    def pulse(self, t: float) -> int:
        self._pulses.append(t)
        return self.count(t)

    def count(self, t: float) -> int:
        """Pulses in ``(t - window_s, t]``; compared as :meth:`next_change` computes it."""
        window = self.window_s
        pulses = self._pulses
        while pulses and pulses[0] + window <= t:
            pulses.popleft()
        return len(pulses)

    def count_at(self, t: float) -> int:
        """Pulses in ``(t - window_s, t]`` without forgetting any (for a display that may
        look later than the next sample is timestamped)."""
        return sum(1 for p in self._pulses if t - self.window_s < p <= t)

    def next_change(self) -> float | None:
        """When the oldest pulse leaves the window, changing the count with no input."""
        return self._pulses[0] + self.window_s if self._pulses else None
