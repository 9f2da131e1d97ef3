"""Delay-on / delay-off debounce over ranked levels, on the caller's timestamps.

A level is confirmed only when the input has been *at least that bad* continuously for
``delay_on`` (going up) or *at most that bad* continuously for ``delay_off`` (going down).
Tracking each level separately means noise between warning and alarm cannot keep
restarting the warning timer, and a confirmed change can never be undone sooner than the
opposite delay.
"""

from __future__ import annotations

from collections.abc import Callable

from edge.detect.types import Level

_Entries = dict[int, tuple[float, Level]]


class Debouncer:
    def __init__(self, delay_on: float, delay_off: float, initial: Level) -> None:
        self.delay_on = delay_on
        self.delay_off = delay_off
        self.current = initial
        self.onset: float | None = None  # when the confirmed level's condition began
        # order -> (since, level): the input has been >= order (up) / <= order (down) since.
        self._up: _Entries = {}
        self._down: _Entries = {}

    def feed(self, t: float, level: Level) -> Level | None:
        """Take the input's level at ``t``; return the newly confirmed level, if any."""
        order, cur = level.order, self.current.order
        # "At least this bad since" survives a drop to a lesser level that is still at least
        # as bad as the current one, and symmetrically going down: inherit the earliest time.
        self._up, since_up = _prune(self._up, keep=lambda o: o <= order)
        self._down, since_down = _prune(self._down, keep=lambda o: o >= order)
        if order > cur and order not in self._up:
            self._up[order] = (min(t, since_up), level)
        elif order < cur and order not in self._down:
            self._down[order] = (min(t, since_down), level)
        return self.poll(t)

    def poll(self, t: float) -> Level | None:
        """Confirm whatever has now held long enough; time alone can complete a delay."""
        ripe_up = [o for o, (since, _) in self._up.items() if t - since >= self.delay_on]
        if ripe_up:
            return self._confirm(*self._up[max(ripe_up)])
        ripe_down = [o for o, (since, _) in self._down.items() if t - since >= self.delay_off]
        if ripe_down:
            return self._confirm(*self._down[min(ripe_down)])
        return None

    @property
    def pending(self) -> bool:
        """True while the input differs from the confirmed level."""
        return bool(self._up or self._down)

    def deadline(self) -> float | None:
        times = [since + self.delay_on for since, _ in self._up.values()]
        times += [since + self.delay_off for since, _ in self._down.values()]
        return min(times) if times else None

    def _confirm(self, since: float, level: Level) -> Level:
        self.current = level
        self.onset = since
        self._up = {o: v for o, v in self._up.items() if o > level.order}
        self._down = {o: v for o, v in self._down.items() if o < level.order}
        return level


def _prune(entries: _Entries, keep: Callable[[int], bool]) -> tuple[_Entries, float]:
    kept: _Entries = {}
    earliest = float("inf")
    for order, (since, level) in entries.items():
        if keep(order):
            kept[order] = (since, level)
        else:
            earliest = min(earliest, since)
    return kept, earliest
