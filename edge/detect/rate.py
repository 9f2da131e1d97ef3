"""Rate of rise: a least-squares slope over a sliding time window.

Two noisy points make a noisy slope; a fit over the whole window (``rate_window_s``)
averages the noise of every sample in it. The alarm needs the window at least half full,
engages at ``alarm_per_min`` and releases below half of it, so a level creeping at the
limit does not chatter. It can be armed only at or above a base level (``arm_above``):
a rising drain that is still nearly empty is not a flood.

The fit keeps running sums of times and values taken relative to an origin inside the
window (re-based once per window, O(1) amortised), so the sums stay small and rounding
stays many orders of magnitude below any alarm rate: a flat level cannot look like a rise.
"""

from __future__ import annotations

from collections import deque

MIN_POINTS = 3
RELEASE_FRACTION = 0.5


class RateOfRise:
    __slots__ = (
        "_points",
        "_sums",
        "_t0",
        "_v0",
        "active",
        "alarm_per_s",
        "arm_above",
        "window_s",
    )

    def __init__(self, alarm_per_min: float, window_s: float, arm_above: float | None) -> None:
        self.alarm_per_s = alarm_per_min / 60.0
        self.window_s = window_s
        self.arm_above = arm_above
        self.active = False
        self._points: deque[tuple[float, float]] = deque()
        self._sums = [0.0, 0.0, 0.0, 0.0]  # Σdt, Σdv, Σdt², Σdt·dv relative to (_t0, _v0)
        self._t0 = 0.0
        self._v0 = 0.0

    def update(self, t: float, value: float) -> bool:
        """Add a sample; True while the rise is fast enough to be an alarm."""
        points = self._points
        if not points:
            self._t0, self._v0 = t, value
        points.append((t, value))
        self._add(t, value, 1.0)
        edge = t - self.window_s
        while points[0][0] < edge:
            old_t, old_v = points.popleft()
            self._add(old_t, old_v, -1.0)
        if points[0][0] - self._t0 > self.window_s:
            self._rebase()
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
        points = self._points
        n = len(points)
        if n < MIN_POINTS or points[-1][0] - points[0][0] < self.window_s / 2:
            return None
        sx, sy, sxx, sxy = self._sums
        denom = n * sxx - sx * sx
        if denom <= 0:
            return None
        return (n * sxy - sx * sy) / denom

    def _add(self, t: float, value: float, sign: float) -> None:
        dt = t - self._t0
        dv = value - self._v0
        s = self._sums
        s[0] += sign * dt
        s[1] += sign * dv
        s[2] += sign * dt * dt
        s[3] += sign * dt * dv

    def _rebase(self) -> None:
        # Recompute the sums exactly, relative to the oldest point still in the window.
        self._t0, self._v0 = self._points[0]
        sums = [0.0, 0.0, 0.0, 0.0]
        for pt, pv in self._points:
            dt = pt - self._t0
            dv = pv - self._v0
            sums[0] += dt
            sums[1] += dv
            sums[2] += dt * dt
            sums[3] += dt * dv
        self._sums = sums
