"""Rate of rise: a least-squares slope over a sliding time window.

Two noisy points make a noisy slope; a fit over the whole window (``rate_window_s``)
averages the noise of every sample in it. The alarm needs the window at least half full,
engages at ``alarm_per_min`` and releases below half of it, so a level creeping at the
limit does not chatter. It can be armed only at or above a base level (``arm_above``):
a rising drain that is still nearly empty is not a flood.
"""

from __future__ import annotations

from collections import deque

MIN_POINTS = 3
RELEASE_FRACTION = 0.5


class RateOfRise:
    def __init__(self, alarm_per_min: float, window_s: float, arm_above: float | None) -> None:
        self.alarm_per_s = alarm_per_min / 60.0
        self.window_s = window_s
        self.arm_above = arm_above
        self.active = False
        self._points: deque[tuple[float, float]] = deque()
        self._sums = [0.0, 0.0, 0.0, 0.0]  # Σdt, Σv, Σdt², Σdt·v, relative to _t0
        self._t0: float | None = None

    def update(self, t: float, value: float) -> bool:
        """Add a sample; True while the rise is fast enough to be an alarm."""
        if self._t0 is None or not self._points:
            self._t0 = t
            self._sums = [0.0, 0.0, 0.0, 0.0]
        self._points.append((t, value))
        self._add(t, value, 1.0)
        while self._points and self._points[0][0] < t - self.window_s:
            old_t, old_v = self._points.popleft()
            self._add(old_t, old_v, -1.0)
        slope = self.slope()
        armed = self.arm_above is None or value >= self.arm_above
        if slope is None or not armed:
            self.active = False
        elif self.active:
            self.active = slope >= self.alarm_per_s * RELEASE_FRACTION
        else:
            self.active = slope >= self.alarm_per_s
        return self.active

    def slope(self) -> float | None:
        """Units per second, or None while the window holds too little to trust."""
        n = len(self._points)
        if n < MIN_POINTS or self._points[-1][0] - self._points[0][0] < self.window_s / 2:
            return None
        sx, sy, sxx, sxy = self._sums
        denom = n * sxx - sx * sx
        if denom <= 0:
            return None
        return (n * sxy - sx * sy) / denom

    def _add(self, t: float, value: float, sign: float) -> None:
        assert self._t0 is not None
        dt = t - self._t0
        s = self._sums
        s[0] += sign * dt
        s[1] += sign * value
        s[2] += sign * dt * dt
        s[3] += sign * dt * value
        if sign < 0 and len(self._points) and dt > 4 * self.window_s:
            self._rebase()

    def _rebase(self) -> None:
        # Keep the running sums small and exact: recompute them relative to the oldest point.
        self._t0 = self._points[0][0]
        self._sums = [0.0, 0.0, 0.0, 0.0]
        for pt, pv in self._points:
            dt = pt - self._t0
            self._sums[0] += dt
            self._sums[1] += pv
            self._sums[2] += dt * dt
            self._sums[3] += dt * pv
